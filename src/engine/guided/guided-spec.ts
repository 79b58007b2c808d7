// What a constrained request asks for (JSON schema, regex, choice, EBNF grammar) and the checks made before compiling.
import {createHash} from 'node:crypto'
import {InvalidRequestError} from '../errors.js'
import {canonicalSchema} from './canonical-schema.js'
import {type GrammarRef, grammarRefOfKey, keyOfRef} from './grammar-ref.js'
import {regexForCheck, unsupportedRegex} from './regex-rules.js'
import {normalizeSchema} from './schema-normalize.js'

export type JsonSchema = Record<string, unknown>

/** One constraint; `param` names the request field it came from, so a compile error is a 400 on that field. */
export type GuidedSpec =
  | {kind: 'json'; schema: JsonSchema | null; anyWhitespace: boolean; param: string}
  | {kind: 'regex'; pattern: string; param: string}
  | {kind: 'choice'; choices: string[]; param: string}
  | {kind: 'grammar'; ebnf: string; param: string}
  | {kind: 'structural_tag'; tags: StructuralTag[]; triggers: string[]; anyWhitespace: boolean; param: string}

/**
 * vLLM's structural tags: free text, except that once a trigger is written the text must go on as one of the tags
 * starting with it: its `begin`, JSON valid for its schema, its `end`; then free text again.
 */
export interface StructuralTag {
  begin: string
  schema: JsonSchema
  end: string
}

/**
 * The compile cache key: everything that changes the grammar, nothing that only names the field, schemas in canonical
 * form (canonical-schema.ts). Kept per spec object (specs are not changed once made) and per spec text (settledOf).
 */
export function guidedKey(spec: GuidedSpec): string {
  const settled = settledOf(spec)
  if (settled?.key !== undefined) return settled.key
  // A spec checked and keyed in another thread (adoptSettlement) brings its key as shared text.
  if (settled?.ref !== undefined) return (settled.key = keyOfRef(settled.ref))
  const {param: _param, ...grammar} = spec
  if (grammar.kind === 'json') grammar.schema = canonicalSchema(grammar.schema) as JsonSchema | null
  if (grammar.kind === 'structural_tag') grammar.tags = grammar.tags.map((tag) => ({...tag, schema: canonicalSchema(tag.schema) as JsonSchema}))
  const key = JSON.stringify(grammar)
  if (settled) settled.key = key
  return key
}

/** The spec's grammar as it is sent to grammar workers (its key's digest and text): made once per spec text. */
export function grammarRefOf(spec: GuidedSpec): GrammarRef {
  const settled = settledOf(spec)
  if (settled?.ref !== undefined) return settled.ref
  const ref = grammarRefOfKey(guidedKey(spec))
  if (settled) settled.ref = ref
  return ref
}

/** What is known of one spec text: its key and grammar ref once built, whether its checks passed or the error they threw. */
interface Settled {
  digest: string
  key?: string
  ref?: GrammarRef
  checked?: true
  error?: InvalidRequestError
}
/**
 * Spec texts (by digest, in recency order) already checked or keyed. Every request brings a new spec object, and a
 * schema of 20,000 alternatives costs ~250 ms of checks and canonical form on the event loop, stalling every client;
 * its text and digest cost about 2 ms, so a client sending it again (or many clients sending the same one) pay that.
 * A spec in a big body is settled in the tokenizer worker that parsed it, and the event loop adopts the result.
 */
const settledByDigest = new Map<string, Settled>()
const settledOfSpec = new WeakMap<GuidedSpec, Settled | null>()
const SETTLED_CAPACITY = 128
/** Characters of keys (and bytes of their shared copies) kept at most: a key is the schema's text, megabytes for some. */
const SETTLED_KEY_CHARS = 32 * 2 ** 20

/** The spec text's entry (null when it cannot be written as text: nested past JSON.stringify's stack). */
function settledOf(spec: GuidedSpec): Settled | null {
  let settled = settledOfSpec.get(spec)
  if (settled !== undefined) return settled
  let text: string
  try {
    text = JSON.stringify(spec)
  } catch {
    settledOfSpec.set(spec, null)
    return null
  }
  settled = entryOf(createHash('sha256').update(text).digest('base64'))
  settledOfSpec.set(spec, settled)
  return settled
}

/** The entry of a spec text's digest, made the most recent (a new one if none). */
function entryOf(digest: string): Settled {
  const settled = settledByDigest.get(digest) ?? {digest}
  settledByDigest.delete(digest)
  settledByDigest.set(digest, settled)
  evictSettled()
  return settled
}

function evictSettled(): void {
  const sizeOf = (settled: Settled) => (settled.key?.length ?? 0) + (settled.ref?.text.byteLength ?? 0)
  let settledKeyChars = 0
  for (const settled of settledByDigest.values()) settledKeyChars += sizeOf(settled)
  while (settledByDigest.size > SETTLED_CAPACITY || settledKeyChars > SETTLED_KEY_CHARS) {
    const [oldest, settled] = settledByDigest.entries().next().value as [string, Settled]
    settledByDigest.delete(oldest)
    settledKeyChars -= sizeOf(settled)
  }
}

/**
 * What a spec's checks and key came to, made in one thread for another to adopt (spec-handoff.ts): the spec text's
 * digest, and either its grammar ref (checks passed) or the refusal its checks threw.
 */
export interface Settlement {
  digest: string
  ref?: GrammarRef
  error?: InvalidRequestError
}

/** Whether the spec's checks were made (passed or refused) and its ref built: a digest lookup the first time. */
export function isSettled(spec: GuidedSpec): boolean {
  const settled = settledOf(spec)
  return settled !== null && (settled.error !== undefined || (settled.checked === true && settled.ref !== undefined))
}

/** Checks and keys the spec (null: it cannot be written as text, so it has no digest to hand over). */
export function settle(spec: GuidedSpec): Settlement | null {
  const settled = settledOf(spec)
  if (settled === null) return null
  try {
    checkGuidedSpec(spec)
  } catch (error) {
    if (error instanceof InvalidRequestError) return {digest: settled.digest, error}
    throw error
  }
  return {digest: settled.digest, ref: grammarRefOf(spec)}
}

/**
 * Takes another thread's settlement as this spec object's (it was cloned from the spec settled there): checkGuidedSpec
 * then throws its refusal or passes, and grammarRefOf gives its ref, without walking the spec here.
 */
export function adoptSettlement(spec: GuidedSpec, {digest, ref, error}: Settlement): void {
  const settled = entryOf(digest)
  if (error) settled.error ??= error
  else settled.checked = true
  settled.ref ??= ref
  settledOfSpec.set(spec, settled)
}

// Keywords the compiler enforces (xgrammar's JSON-schema converter) plus annotations that constrain nothing.
const ENFORCED_KEYWORDS = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'items', 'prefixItems', 'minItems',
  'maxItems', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions', 'pattern', 'minLength', 'maxLength', 'minimum',
  'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'format',
])
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'strict', 'name'])
/** Subschema holders: their values are maps of name -> schema, not keywords. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions'])
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'prefixItems'])
// Numeric bounds: xgrammar 0.1.27 enforces inclusive integer bounds on integers only; number-range.ts gives integers
// their bounds in that form and bounds numbers with a grammar of its own. On any other type a bound would go unenforced.
const RANGE_KEYWORDS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'])
/** Beyond this, bounds lose integer precision in the range grammar. */
const MAX_BOUND = Number.MAX_SAFE_INTEGER
// Counts xgrammar reads as 32-bit ints: a larger one wraps negative (an unbounded string, or a garbled parse error).
const COUNT_KEYWORDS = new Set(['minLength', 'maxLength', 'minItems', 'maxItems'])
const MAX_COUNT = 2 ** 31 - 1
const SUPPORTED_FORMATS = new Set(['date', 'date-time', 'time', 'uuid', 'email', 'ipv4', 'ipv6', 'hostname', 'uri', 'duration'])

// xgrammar's WebAssembly build overflows its stack on deeply nested input (a JSON schema ~55 levels deep, a grammar
// with ~1,000 nested groups), and an overflow corrupts the instance for every later compile: refuse such input first.
const MAX_SCHEMA_DEPTH = 32
const MAX_GROUP_DEPTH = 64

/** Rejects (400, naming the keyword and where it is) any schema keyword that would otherwise be silently unenforced. */
export function checkJsonSchema(schema: unknown, param: string): void {
  const normalized = normalizeSchema(schema, param)
  checkSchemaNode(normalized, param, '#', 0, normalized)
}

function checkSchemaNode(schema: unknown, param: string, path: string, depth: number, root: unknown): void {
  if (depth > MAX_SCHEMA_DEPTH) throw new InvalidRequestError(`'${param}': the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels (at ${path})`, {param})
  if (typeof schema === 'boolean') return
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new InvalidRequestError(`'${param}': the schema at ${path} must be an object or a boolean`, {param})
  for (const [keyword, value] of Object.entries(schema as JsonSchema)) {
    const at = `${path}/${keyword}`
    if (!ENFORCED_KEYWORDS.has(keyword) && !ANNOTATIONS.has(keyword))
      throw new InvalidRequestError(`'${param}': JSON schema keyword '${keyword}' (at ${at}) is not supported for guided decoding`, {param})
    const type = (schema as JsonSchema).type
    const fields = schema as JsonSchema
    if ((keyword === 'minLength' || keyword === 'maxLength') && (fields.pattern !== undefined || fields.format !== undefined))
      throw new InvalidRequestError(`'${param}': '${keyword}' (at ${at}) cannot be combined with pattern or format (it would not be enforced)`, {param})
    // xgrammar follows one of the two: {pattern: '^a$', format: 'email'} wrote strings matching neither.
    if (keyword === 'pattern' && fields.format !== undefined)
      throw new InvalidRequestError(`'${param}': 'pattern' (at ${at}) cannot be combined with format (one of them would not be enforced)`, {param})
    if (RANGE_KEYWORDS.has(keyword)) checkBound(keyword, value, type, at, param)
    if (keyword === 'required') checkRequired(value, fields.properties, at, param)
    if (COUNT_KEYWORDS.has(keyword) && !(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_COUNT))
      throw new InvalidRequestError(`'${param}': '${keyword}' (at ${at}) must be an integer in [0, ${MAX_COUNT}], got ${JSON.stringify(value)}`, {param})
    // xgrammar's own words for it were an internal check ('Check failed: (string_spec.max_length == -1 || ...').
    if ((keyword === 'minLength' || keyword === 'minItems') && (value as number) > (fields[keyword.replace('min', 'max')] as number))
      throw new InvalidRequestError(`'${param}': '${keyword}' ${value} (at ${at}) is above '${keyword.replace('min', 'max')}' ${fields[keyword.replace('min', 'max')]}, so no value matches`, {param, code: 'empty_grammar'})
    // Only references into this schema resolve; any other would be left unenforced.
    if (keyword === '$ref' && !(typeof value === 'string' && value.startsWith('#')))
      throw new InvalidRequestError(`'${param}': '$ref' (at ${at}) must point into this schema ("#/$defs/..."), got ${JSON.stringify(value)}`, {param})
    // xgrammar's own error for a dangling $ref is an internal check message: name the pointer instead.
    if (keyword === '$ref' && !isSchema(resolveRef(root, value as string)))
      throw new InvalidRequestError(`'${param}': '$ref' (at ${at}) points to nothing in this schema: ${JSON.stringify(value)}`, {param})
    if (keyword === '$ref') checkRefChain(root, fields, param, at)
    if (SCHEMA_MAPS.has(keyword)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new InvalidRequestError(`'${param}': ${at} must be an object of schemas`, {param})
      for (const [name, sub] of Object.entries(value)) checkSchemaNode(sub, param, `${at}/${name}`, depth + 1, root)
    } else if (SCHEMA_LISTS.has(keyword)) {
      if (!Array.isArray(value) || value.length === 0) throw new InvalidRequestError(`'${param}': ${at} must be a non-empty list of schemas`, {param})
      value.forEach((sub, i) => checkSchemaNode(sub, param, `${at}/${i}`, depth + 1, root))
    } else if (keyword === 'items' || keyword === 'additionalProperties') {
      checkSchemaNode(value, param, at, depth + 1, root)
    } else if (keyword === 'format' && !SUPPORTED_FORMATS.has(String(value))) {
      throw new InvalidRequestError(`'${param}': string format '${String(value)}' (at ${at}) is not supported; formats: ${[...SUPPORTED_FORMATS].join(', ')}`, {param})
    } else if (keyword === 'pattern' && typeof value === 'string') {
      try {
        regexForCheck(value)
      } catch (error) {
        throw new InvalidRequestError(`'${param}': pattern at ${at} is not a valid regular expression: ${(error as Error).message}`, {param})
      }
      const unsupported = unsupportedRegex(value)
      if (unsupported !== null) throw new InvalidRequestError(`'${param}': pattern at ${at}: ${unsupported}`, {param})
    }
  }
}

/** Only a $ref (besides definitions and annotations): it matches what its target matches, adding nothing. */
function isPureRef(node: unknown): node is {$ref: string} {
  if (typeof node !== 'object' || node === null || typeof (node as JsonSchema).$ref !== 'string') return false
  return Object.keys(node).every((key) => key === '$ref' || key === '$defs' || key === 'definitions' || ANNOTATIONS.has(key))
}

function isSchema(node: unknown): boolean {
  return typeof node === 'boolean' || (typeof node === 'object' && node !== null && !Array.isArray(node))
}

/** The schema a local JSON pointer ("#", "#/$defs/a") names, or undefined. */
function resolveRef(root: unknown, ref: string): unknown {
  let parts: string[]
  try {
    parts = decodeURIComponent(ref.slice(1)).split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
  } catch {
    return undefined
  }
  return parts.reduce<unknown>((node, part) => (typeof node === 'object' && node !== null ? (node as JsonSchema)[part] : undefined), root)
}

/** A chain of schemas that are only $refs and comes back to where it went through admits no value: refused here. */
function checkRefChain(root: unknown, start: JsonSchema, param: string, at: string): void {
  const seen = new Set<unknown>()
  for (let node: unknown = start; isPureRef(node); node = resolveRef(root, node.$ref)) {
    if (seen.has(node))
      throw new InvalidRequestError(`'${param}' admits no output: the $ref at ${at} leads back to itself through $refs alone, so no value matches it`, {param, code: 'empty_grammar'})
    seen.add(node)
  }
}

/** xgrammar requires only names its `properties` define: any other required name would be silently dropped. */
function checkRequired(value: unknown, properties: unknown, at: string, param: string): void {
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string'))
    throw new InvalidRequestError(`'${param}': 'required' (at ${at}) must be a list of property names`, {param})
  const defined = typeof properties === 'object' && properties !== null ? properties : {}
  const missing = value.find((name: string) => !Object.hasOwn(defined, name))
  if (missing !== undefined)
    throw new InvalidRequestError(`'${param}': 'required' (at ${at}) names '${missing}', which the schema's 'properties' beside it do not define, so it would not be enforced`, {param})
}

function checkBound(keyword: string, value: unknown, type: unknown, at: string, param: string): void {
  if (type !== 'integer' && type !== 'number')
    throw new InvalidRequestError(`'${param}': '${keyword}' (at ${at}) is supported on schemas of type integer or number`, {param})
  // Draft 4 writes exclusive bounds as booleans beside minimum/maximum.
  if (typeof value === 'boolean' && keyword.startsWith('exclusive')) return
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > MAX_BOUND)
    throw new InvalidRequestError(`'${param}': '${keyword}' (at ${at}) must be a number of magnitude at most ${MAX_BOUND}`, {param})
}

/** Rejects a regex or EBNF grammar whose groups nest deeper than xgrammar can compile (quoted EBNF strings skipped). */
export function checkGroupNesting(text: string, param: string, quotedStrings: boolean): void {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\') i++
    else if (quotedStrings && c === '"') inString = !inString
    else if (inString) continue
    else if (c === '(' || c === '[') {
      if (++depth > MAX_GROUP_DEPTH) throw new InvalidRequestError(`'${param}': groups nest deeper than ${MAX_GROUP_DEPTH} levels`, {param})
    } else if (c === ')' || c === ']') depth--
  }
}

/** Every check of a spec that must pass before xgrammar sees it; made once per spec text (settledOf). */
export function checkGuidedSpec(spec: GuidedSpec): void {
  const settled = settledOf(spec)
  if (settled?.checked) return
  if (settled?.error !== undefined) throw settled.error
  try {
    checkSpecOnce(spec)
  } catch (error) {
    // Only its own refusals are the text's; anything else (a stack overflow) says nothing of the next try.
    if (settled && error instanceof InvalidRequestError) settled.error = error
    throw error
  }
  if (settled) settled.checked = true
}

function checkSpecOnce(spec: GuidedSpec): void {
  if (spec.kind === 'json' && spec.schema !== null) checkJsonSchema(spec.schema, spec.param)
  if (spec.kind === 'regex' && spec.pattern === '') throw new InvalidRequestError(`'${spec.param}' is an empty regex: give the pattern the output must match`, {param: spec.param})
  if (spec.kind === 'regex') checkGroupNesting(spec.pattern, spec.param, false)
  if (spec.kind === 'choice' && spec.choices.length === 0) throw new InvalidRequestError(`'${spec.param}' must list at least one choice`, {param: spec.param})
  if (spec.kind === 'grammar') checkGroupNesting(spec.ebnf, spec.param, true)
  if (spec.kind === 'structural_tag') checkStructuralTags(spec)
}

/** Each schema as a JSON constraint's; every trigger starts some tag and every tag starts with a trigger. */
function checkStructuralTags({tags, triggers, param}: Extract<GuidedSpec, {kind: 'structural_tag'}>): void {
  if (tags.length === 0) throw new InvalidRequestError(`'${param}.structures' must list at least one tag`, {param})
  if (triggers.length === 0 || triggers.some((trigger) => trigger === ''))
    throw new InvalidRequestError(`'${param}.triggers' must be a non-empty list of non-empty strings`, {param})
  for (const [i, tag] of tags.entries()) {
    const at = `${param}.structures[${i}]`
    if (tag.begin === '' || tag.end === '') throw new InvalidRequestError(`'${at}': 'begin' and 'end' must be non-empty strings`, {param})
    if (!triggers.some((trigger) => tag.begin.startsWith(trigger)))
      throw new InvalidRequestError(`'${at}.begin' (${JSON.stringify(tag.begin)}) starts with none of the triggers, so it could never be written`, {param})
    checkJsonSchema(tag.schema, param)
  }
  for (const trigger of triggers) {
    if (!tags.some((tag) => tag.begin.startsWith(trigger)))
      throw new InvalidRequestError(`'${param}.triggers': ${JSON.stringify(trigger)} starts none of the tags' 'begin'`, {param})
  }
}

/**
 * vLLM's guided_whitespace_pattern. xgrammar can allow any whitespace between JSON tokens or none, so a pattern must
 * mean one of those: matching only "" gives compact JSON, matching runs of spaces, tabs and newlines gives any.
 */
export function anyWhitespaceFromPattern(pattern: string | undefined, param: string): boolean {
  if (pattern === undefined) return true
  let regex: RegExp
  try {
    regex = new RegExp(`^(?:${pattern})$`, 'u')
  } catch (error) {
    throw new InvalidRequestError(`'${param}' is not a valid regular expression: ${(error as Error).message}`, {param})
  }
  if (regex.test('') && !regex.test(' ')) return false
  if (['', ' ', '\n', '\t', '  \n\t '].every((sample) => regex.test(sample))) return true
  throw new InvalidRequestError(`'${param}' must match either only the empty string or any run of whitespace (the two modes the grammar engine has)`, {param})
}

/** The literal text of each choice as an EBNF grammar (JSON string escaping is valid EBNF string escaping). */
export function choiceGrammar(choices: readonly string[]): string {
  return `root ::= ${choices.map((choice) => JSON.stringify(choice)).join(' | ')}`
}
