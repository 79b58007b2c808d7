// Reads the structured-output fields of a request (OpenAI response_format, vLLM structured_outputs and guided_*) into one GuidedSpec.
import {InvalidRequestError} from '../engine/errors.js'
import {anyWhitespaceFromPattern, type GuidedSpec, type JsonSchema, type StructuralTag} from '../engine/guided/guided-spec.js'
import {regexForCheck} from '../engine/guided/regex-rules.js'
import {type JsonObject, optionalBoolean, optionalIntegerList, optionalObject, optionalString, optionalStringList} from './request-fields.js'

/** vLLM >= 0.10 spells its constraints as keys of `structured_outputs`; these are the ones we enforce. */
const STRUCTURED_OUTPUT_KEYS = ['json', 'regex', 'choice', 'grammar', 'json_object', 'structural_tag', 'whitespace_pattern', 'disable_any_whitespace']

/** The constraint a request asks for, or null; asking for two at once is a 400 naming both. */
export function parseGuided(body: JsonObject): GuidedSpec | null {
  const outputs = structuredOutputFields(body)
  // The body's fields read through, not copied: a copy would read (and so count as used) every field of the body.
  const fields: JsonObject = Object.assign(Object.create(body) as JsonObject, outputs)
  const anyWhitespace = whitespaceSetting(fields)
  const specs: GuidedSpec[] = []
  const responseFormat = parseResponseFormat(body, anyWhitespace)
  if (responseFormat) specs.push(responseFormat)
  // The same four constraints under both spellings; a request may use either, never two constraints at once.
  for (const prefix of ['guided_', 'structured_outputs.']) specs.push(...constraintsIn(fields, prefix, anyWhitespace))
  if (optionalBoolean(fields, 'structured_outputs.json_object')) specs.push({kind: 'json', schema: null, anyWhitespace, param: 'structured_outputs.json_object'})
  const tagParam = 'structured_outputs.structural_tag'
  const tag = fields[tagParam] ?? undefined
  // vLLM takes it as JSON text; an object is read the same way.
  if (tag !== undefined) specs.push(parseStructuralTag(typeof tag === 'string' ? parseSchemaText(tag, tagParam) : tag, tagParam, anyWhitespace))
  if (specs.length > 1)
    throw new InvalidRequestError(`only one constraint per request: got ${specs.map((spec) => spec.param).join(' and ')}`, {param: specs[1]!.param})
  return specs[0] ?? null
}

export function parseAllowedTokenIds(body: JsonObject): number[] | undefined {
  return optionalIntegerList(body, 'allowed_token_ids')
}

export function parseBadWords(body: JsonObject): string[] | undefined {
  return optionalStringList(body, 'bad_words')
}

/** `structured_outputs` flattened to 'structured_outputs.<key>' fields, so every reader names the nested field; unknown keys are a 400. */
function structuredOutputFields(body: JsonObject): JsonObject {
  const outputs = optionalObject(body, 'structured_outputs')
  if (outputs === undefined) return {}
  for (const key of Object.keys(outputs))
    if (!STRUCTURED_OUTPUT_KEYS.includes(key) && outputs[key] !== null)
      throw new InvalidRequestError(`'structured_outputs.${key}' is not supported by this server (supported: ${STRUCTURED_OUTPUT_KEYS.join(', ')})`, {
        param: `structured_outputs.${key}`,
      })
  return Object.fromEntries(Object.entries(outputs).map(([key, value]) => [`structured_outputs.${key}`, value]))
}

/** Whether JSON may hold free whitespace: vLLM's whitespace pattern (either spelling) or disable_any_whitespace. */
function whitespaceSetting(fields: JsonObject): boolean {
  const patterns = ['guided_whitespace_pattern', 'structured_outputs.whitespace_pattern'].filter((param) => optionalString(fields, param) !== undefined)
  if (patterns.length > 1) throw new InvalidRequestError(`give one whitespace pattern: got ${patterns.join(' and ')}`, {param: patterns[1]})
  const [param] = patterns
  const anyWhitespace = param === undefined ? true : anyWhitespaceFromPattern(optionalString(fields, param), param)
  return anyWhitespace && !optionalBoolean(fields, 'structured_outputs.disable_any_whitespace')
}

function constraintsIn(fields: JsonObject, prefix: string, anyWhitespace: boolean): GuidedSpec[] {
  const specs: GuidedSpec[] = []
  const jsonParam = `${prefix}json`
  const json = fields[jsonParam] ?? undefined
  if (json !== undefined) {
    // vLLM takes the schema as an object or as its JSON text.
    const schema = typeof json === 'string' ? parseSchemaText(json, jsonParam) : json
    specs.push({kind: 'json', schema: requireSchema(schema, jsonParam), anyWhitespace, param: jsonParam})
  }
  const regexParam = `${prefix}regex`
  const pattern = optionalString(fields, regexParam)
  if (pattern !== undefined) specs.push({kind: 'regex', pattern: checkedRegex(pattern, regexParam), param: regexParam})
  const choiceParam = `${prefix}choice`
  const choices = optionalStringList(fields, choiceParam)
  if (choices !== undefined) {
    if (choices.length === 0 || choices.some((choice) => choice.length === 0))
      throw new InvalidRequestError(`'${choiceParam}' must be a non-empty list of non-empty strings`, {param: choiceParam})
    specs.push({kind: 'choice', choices, param: choiceParam})
  }
  const grammarParam = `${prefix}grammar`
  const ebnf = optionalString(fields, grammarParam)
  if (ebnf !== undefined) specs.push({kind: 'grammar', ebnf, param: grammarParam})
  return specs
}

function parseResponseFormat(body: JsonObject, anyWhitespace: boolean): GuidedSpec | null {
  const format = optionalObject(body, 'response_format')
  if (format === undefined) return null
  const param = 'response_format'
  switch (format.type) {
    case 'text':
      return null
    case 'json_object':
      return {kind: 'json', schema: null, anyWhitespace, param}
    case 'json_schema': {
      const jsonSchema = optionalObject(format, 'json_schema')
      if (jsonSchema === undefined || typeof jsonSchema.name !== 'string')
        throw new InvalidRequestError("'response_format.json_schema' must be an object with a 'name' and a 'schema'", {param})
      // OpenAI lets schema be absent (any JSON object then).
      const schema = jsonSchema.schema ?? {type: 'object'}
      return {kind: 'json', schema: requireSchema(schema, param), anyWhitespace, param}
    }
    case 'structural_tag':
      return parseStructuralTag(format, param, anyWhitespace)
    default:
      throw new InvalidRequestError("'response_format.type' must be 'text', 'json_object', 'json_schema' or 'structural_tag'", {param})
  }
}

/** vLLM's structural tag: {structures: [{begin, schema, end}], triggers: [...]} (xgrammar's newer format objects are refused). */
function parseStructuralTag(value: unknown, param: string, anyWhitespace: boolean): GuidedSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidRequestError(`'${param}' must be an object with 'structures' and 'triggers'`, {param})
  const fields = value as JsonObject
  if (fields.format !== undefined)
    throw new InvalidRequestError(`'${param}.format': give the tags as 'structures' ([{begin, schema, end}]) and 'triggers', as vLLM's response_format does`, {param})
  const structures = fields.structures
  if (!Array.isArray(structures)) throw new InvalidRequestError(`'${param}.structures' must be a list of {begin, schema, end}`, {param})
  const tags = structures.map((structure, i): StructuralTag => {
    const at = `${param}.structures[${i}]`
    if (typeof structure !== 'object' || structure === null || Array.isArray(structure)) throw new InvalidRequestError(`'${at}' must be an object`, {param})
    const {begin, end, schema} = structure as JsonObject
    if (typeof begin !== 'string' || typeof end !== 'string') throw new InvalidRequestError(`'${at}' needs string 'begin' and 'end'`, {param})
    // vLLM's schema is optional: then any JSON value.
    return {begin, end, schema: schema == null ? {} : requireSchema(schema, `${at}.schema`)}
  })
  const triggers = fields.triggers
  if (!Array.isArray(triggers) || !triggers.every((trigger) => typeof trigger === 'string'))
    throw new InvalidRequestError(`'${param}.triggers' must be a list of strings`, {param})
  return {kind: 'structural_tag', tags, triggers, anyWhitespace, param}
}

function parseSchemaText(text: string, param: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new InvalidRequestError(`'${param}' is not valid JSON`, {param})
  }
}

function requireSchema(schema: unknown, param: string): JsonSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new InvalidRequestError(`'${param}' must be a JSON schema object`, {param})
  return schema as JsonSchema
}

function checkedRegex(pattern: string, param: string): string {
  if (pattern === '') throw new InvalidRequestError(`'${param}' is empty; give a pattern the output must match`, {param})
  try {
    regexForCheck(pattern)
  } catch (error) {
    throw new InvalidRequestError(`'${param}' is not a valid regular expression: ${(error as Error).message}`, {param})
  }
  return pattern
}
