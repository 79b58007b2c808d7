// Rewrites JSON-schema forms xgrammar cannot take into equivalent ones it can, before the checks and the compile.
//
// Real schemas write the same constraint in ways xgrammar 0.1.27 refuses or would leave unenforced: pydantic v1's
// `allOf: [{$ref}]` and merged `allOf` objects, OpenAPI's `nullable`, `type: ["integer", "null"]` with bounds
// (bounds are compiled per type, number-range.ts), a property whose schema is `false` (it must be absent), an `anyOf`
// branch `false`, `uniqueItems` that constrains nothing. Each becomes the same set of values in a form it takes; an
// `allOf` whose members cannot be merged without changing that set is refused, naming why.
import {InvalidRequestError} from '../errors.js'
import type {JsonSchema} from './guided-spec.js'

const NUMERIC_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']
const MAP_KEYWORDS = ['properties', '$defs', 'definitions']
const LIST_KEYWORDS = ['anyOf', 'oneOf', 'allOf', 'prefixItems']
const ANNOTATION_KEYWORDS = new Set(['title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly'])

/** Keywords beside a $ref that add no constraint to it. */
const REF_COMPANIONS = new Set(['$ref', '$defs', 'definitions', ...ANNOTATION_KEYWORDS])
/** Constraints xgrammar ignores beside enum/const (it takes the listed values as they are). */
const VALUE_CONSTRAINTS = ['type', 'minLength', 'maxLength', 'pattern', ...NUMERIC_KEYWORDS]

type Fail = (message: string, code?: string) => never

/** The schema with every rewrite applied; the input is not changed. */
export function normalizeSchema(schema: unknown, param: string): unknown {
  const fail: Fail = (message, code) => {
    throw new InvalidRequestError(`'${param}': ${message}`, {param, code})
  }
  const normalized = normalizeNode(schema, schema, fail, [])
  if (normalized === false) fail('the schema is false (or reduces to false), so no value matches it', 'empty_grammar')
  return normalized
}

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Deeper than this the schema is left as it is: the checks refuse schemas nested past 32 levels anyway. */
const MAX_DEPTH = 40

function normalizeNode(node: unknown, root: unknown, fail: Fail, inlining: string[], depth = 0): unknown {
  if (!isObject(node) || depth > MAX_DEPTH) return node
  let out: JsonSchema = {...node}
  for (const keyword of MAP_KEYWORDS) {
    if (isObject(out[keyword])) out[keyword] = Object.fromEntries(Object.entries(out[keyword]).map(([name, sub]) => [name, normalizeNode(sub, root, fail, inlining, depth + 1)]))
  }
  for (const keyword of LIST_KEYWORDS) {
    if (Array.isArray(out[keyword])) out[keyword] = out[keyword].map((sub) => normalizeNode(sub, root, fail, inlining, depth + 1))
  }
  for (const keyword of ['items', 'additionalProperties']) {
    if (out[keyword] !== undefined) out[keyword] = normalizeNode(out[keyword], root, fail, inlining, depth + 1)
  }
  // A $ref beside constraints means both (draft 2019+); xgrammar follows the $ref alone, so the two are merged.
  if (typeof out.$ref === 'string' && out.allOf === undefined && Object.keys(out).some((keyword) => !REF_COMPANIONS.has(keyword))) {
    const {$ref, ...siblings} = out
    out = {...siblings, allOf: [{$ref}]}
  }
  if (Array.isArray(out.allOf)) out = mergeAllOf(out, root, fail, inlining, depth)
  const narrowed = narrowValues(out)
  if (narrowed === false) return false
  out = narrowed
  out = withoutFalseProperties(out, fail)
  for (const keyword of ['anyOf', 'oneOf']) {
    if (!Array.isArray(out[keyword])) continue
    const branches = out[keyword].filter((branch) => branch !== false)
    if (branches.length === 0) return false
    out[keyword] = branches
  }
  // uniqueItems false, or over at most one item, constrains nothing.
  if (out.uniqueItems === false || (out.uniqueItems === true && typeof out.maxItems === 'number' && out.maxItems <= 1)) delete out.uniqueItems
  // OpenAPI's nullable: JSON-schema validators ignore it (null fails the type), OpenAPI's allow null; a value of the
  // type passes both, so the keyword constrains nothing we generate.
  delete out.nullable
  return splitTypeList(out)
}

/** A property whose schema is false must be absent: drop it (refused when it is required or other keys may appear). */
function withoutFalseProperties(node: JsonSchema, fail: Fail): JsonSchema {
  if (!isObject(node.properties)) return node
  const absent = Object.keys(node.properties).filter((name) => (node.properties as JsonSchema)[name] === false)
  if (absent.length === 0) return node
  const required = Array.isArray(node.required) ? node.required : []
  const needed = absent.find((name) => required.includes(name))
  if (needed !== undefined) fail(`property '${needed}' is required but its schema is false, so no object matches`, 'empty_grammar')
  if (node.additionalProperties !== undefined && node.additionalProperties !== false)
    fail(`property '${absent[0]}' has the schema false beside additionalProperties, which cannot be enforced`)
  return {...node, properties: Object.fromEntries(Object.entries(node.properties).filter(([name]) => !absent.includes(name)))}
}

/** `type: [..., "integer"]` with numeric bounds as an anyOf of one branch per type, the bounds on the numeric ones. */
function splitTypeList(node: JsonSchema): JsonSchema {
  const types = node.type
  if (!Array.isArray(types) || !NUMERIC_KEYWORDS.some((keyword) => keyword in node)) return node
  if (['anyOf', 'oneOf', '$ref', 'enum', 'const'].some((keyword) => keyword in node)) return node
  const annotations = Object.fromEntries(Object.entries(node).filter(([keyword]) => ANNOTATION_KEYWORDS.has(keyword)))
  const branches = types.map((type) => {
    const branch: JsonSchema = {...node, type}
    for (const keyword of ANNOTATION_KEYWORDS) delete branch[keyword]
    if (type !== 'integer' && type !== 'number') for (const keyword of NUMERIC_KEYWORDS) delete branch[keyword]
    return branch
  })
  return {...annotations, anyOf: branches}
}

/**
 * The allOf members folded into their parent: properties and required joined, other keywords taken where only one
 * member sets them or all agree; a member that is a $ref is its target. A merge that would admit values some member
 * rejects (two schemas for one property, two types, a member forbidding others' properties) is refused.
 */
function mergeAllOf(node: JsonSchema, root: unknown, fail: Fail, inlining: string[], depth: number): JsonSchema {
  const {allOf, ...merged} = node
  // pydantic v1's `allOf: [{$ref}]` beside annotations is that $ref (kept as a reference, so recursion stays finite).
  const [only] = allOf as unknown[]
  if ((allOf as unknown[]).length === 1 && isObject(only) && Object.keys(only).join() === '$ref' && Object.keys(merged).every((keyword) => ANNOTATION_KEYWORDS.has(keyword)))
    return {...merged, $ref: only.$ref}
  const members = (allOf as unknown[]).map((member) => inlineRef(member, root, fail, inlining, depth))
  if (members.includes(false)) fail('an allOf member is false, so no value matches', 'empty_grammar')
  for (const [i, member] of members.entries()) {
    if (member === true) continue
    if (!isObject(member)) fail(`allOf member ${i} must be a schema`)
    for (const [keyword, value] of Object.entries(member)) {
      if (keyword === '$defs' || keyword === 'definitions') fail(`allOf member ${i} has its own ${keyword}; put them at the top of the schema`)
      if (keyword === 'properties' && isObject(merged.properties) && isObject(value)) {
        for (const [name, sub] of Object.entries(value)) {
          const existing = merged.properties[name]
          if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(sub))
            fail(`allOf members give property '${name}' different schemas, which cannot be merged`)
        }
        merged.properties = {...merged.properties, ...value}
      } else if (keyword === 'required' && Array.isArray(merged.required) && Array.isArray(value)) {
        merged.required = [...new Set([...merged.required, ...value])]
      } else if (merged[keyword] === undefined || ANNOTATION_KEYWORDS.has(keyword)) {
        merged[keyword] ??= value
      } else if (JSON.stringify(merged[keyword]) !== JSON.stringify(value)) {
        fail(`allOf members set '${keyword}' differently, which cannot be merged`)
      }
    }
  }
  // A member that closes its object (additionalProperties not true) forbids the properties only other members define.
  const names = Object.keys(isObject(merged.properties) ? merged.properties : {})
  for (const [i, member] of members.entries()) {
    if (!isObject(member) || member.additionalProperties === undefined || member.additionalProperties === true) continue
    const own = isObject(member.properties) ? member.properties : {}
    const other = names.find((name) => !Object.hasOwn(own, name))
    if (other !== undefined) fail(`allOf member ${i} sets additionalProperties, which forbids property '${other}' another member defines`)
  }
  return normalizeNode(merged, root, fail, inlining, depth + 1) as JsonSchema
}

/** A member that is only a local $ref (and annotations), as a copy of its target; a cycle of such refs is refused. */
function inlineRef(member: unknown, root: unknown, fail: Fail, inlining: string[], depth: number): unknown {
  if (!isObject(member) || typeof member.$ref !== 'string' || !member.$ref.startsWith('#')) return member
  if (Object.keys(member).some((keyword) => keyword !== '$ref' && !ANNOTATION_KEYWORDS.has(keyword))) return member
  const ref = member.$ref
  if (inlining.includes(ref)) fail(`allOf refers back to itself through '${ref}', so it cannot be merged`)
  const target = ref
    .slice(1)
    .split('/')
    .slice(1)
    .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((at, part) => (isObject(at) ? at[part] : undefined), root)
  if (target === undefined) fail(`'$ref' ${JSON.stringify(ref)} in allOf points to nothing in this schema`)
  return normalizeNode(target, root, fail, [...inlining, ref], depth + 1)
}

/** enum/const beside type, length, pattern or numeric constraints: only the values that meet them (false if none, or no type is listed). */
function narrowValues(node: JsonSchema): JsonSchema | false {
  const values = node.const !== undefined ? [node.const] : Array.isArray(node.enum) ? node.enum : null
  // An empty enum or type list admits no value; xgrammar wrote a rule without alternatives ('EBNF parser error').
  if (values?.length === 0 || (Array.isArray(node.type) && node.type.length === 0)) return false
  if (values === null || !VALUE_CONSTRAINTS.some((keyword) => keyword in node)) return node
  const kept = values.filter((value) => meetsConstraints(node, value))
  if (kept.length === 0) return false
  const out: JsonSchema = Object.fromEntries(Object.entries(node).filter(([keyword]) => !VALUE_CONSTRAINTS.includes(keyword)))
  if (out.enum !== undefined) out.enum = kept
  return out
}

function meetsConstraints(node: JsonSchema, value: unknown): boolean {
  const types = node.type === undefined ? null : Array.isArray(node.type) ? node.type : [node.type]
  if (types !== null && !types.some((type) => hasType(value, type))) return false
  if (typeof value === 'string') {
    const length = [...value].length
    if (typeof node.minLength === 'number' && length < node.minLength) return false
    if (typeof node.maxLength === 'number' && length > node.maxLength) return false
    if (typeof node.pattern === 'string' && !safeRegExp(node.pattern)?.test(value)) return false
  }
  if (typeof value === 'number') {
    const {minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf} = node
    if (typeof minimum === 'number' && (value < minimum || (exclusiveMinimum === true && value === minimum))) return false
    if (typeof maximum === 'number' && (value > maximum || (exclusiveMaximum === true && value === maximum))) return false
    if (typeof exclusiveMinimum === 'number' && value <= exclusiveMinimum) return false
    if (typeof exclusiveMaximum === 'number' && value >= exclusiveMaximum) return false
    if (typeof multipleOf === 'number' && multipleOf > 0 && !Number.isInteger(value / multipleOf)) return false
  }
  return true
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value)
    case 'number':
      return typeof value === 'number'
    case 'null':
      return value === null
    case 'array':
      return Array.isArray(value)
    case 'object':
      return isObject(value)
    default:
      return typeof value === type
  }
}

function safeRegExp(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern, 'u')
  } catch {
    return null // the schema checks refuse it, naming the pattern
  }
}
