// Reads the structured-output fields of a request (OpenAI response_format, vLLM guided_*) into one GuidedSpec.
import {InvalidRequestError} from '../engine/errors.js'
import {anyWhitespaceFromPattern, type GuidedSpec, type JsonSchema} from '../engine/guided/guided-spec.js'
import {type JsonObject, optionalIntegerList, optionalObject, optionalString, optionalStringList} from './request-fields.js'

/** The constraint a request asks for, or null; asking for two at once is a 400. */
export function parseGuided(body: JsonObject): GuidedSpec | null {
  const anyWhitespace = anyWhitespaceFromPattern(optionalString(body, 'guided_whitespace_pattern'), 'guided_whitespace_pattern')
  const specs: GuidedSpec[] = []
  const responseFormat = parseResponseFormat(body, anyWhitespace)
  if (responseFormat) specs.push(responseFormat)
  const guidedJson = body.guided_json ?? undefined
  if (guidedJson !== undefined) {
    // vLLM takes the schema as an object or as its JSON text.
    const schema = typeof guidedJson === 'string' ? parseSchemaText(guidedJson, 'guided_json') : guidedJson
    specs.push({kind: 'json', schema: requireSchema(schema, 'guided_json'), anyWhitespace, param: 'guided_json'})
  }
  const pattern = optionalString(body, 'guided_regex')
  if (pattern !== undefined) specs.push({kind: 'regex', pattern: checkedRegex(pattern), param: 'guided_regex'})
  const choices = optionalStringList(body, 'guided_choice')
  if (choices !== undefined) {
    if (choices.length === 0 || choices.some((choice) => choice.length === 0))
      throw new InvalidRequestError("'guided_choice' must be a non-empty list of non-empty strings", {param: 'guided_choice'})
    specs.push({kind: 'choice', choices, param: 'guided_choice'})
  }
  const ebnf = optionalString(body, 'guided_grammar')
  if (ebnf !== undefined) specs.push({kind: 'grammar', ebnf, param: 'guided_grammar'})
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
    default:
      throw new InvalidRequestError("'response_format.type' must be 'text', 'json_object' or 'json_schema'", {param})
  }
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

function checkedRegex(pattern: string): string {
  if (pattern === '') throw new InvalidRequestError("'guided_regex' is empty; give a pattern the output must match", {param: 'guided_regex'})
  try {
    new RegExp(pattern, 'u')
  } catch (error) {
    throw new InvalidRequestError(`'guided_regex' is not a valid regular expression: ${(error as Error).message}`, {param: 'guided_regex'})
  }
  return pattern
}
