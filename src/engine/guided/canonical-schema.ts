// A JSON schema in one canonical form for the compile cache's key: the same schema sent with its keywords in another
// order (or through another request field) must find the grammar already compiled, not compile it again (seconds, a
// worker). Only what cannot change the grammar is reordered: the keywords of each schema node. A `properties` map keeps
// its order (the output writes the properties in it), and a value that is data (`enum`, `const`, `default`) is kept as sent.

/** Keywords whose value is a map of name -> schema, in an order that does not matter. */
const UNORDERED_SCHEMA_MAPS = new Set(['$defs', 'definitions', 'patternProperties', 'dependentSchemas'])
/** Keywords whose value is a schema (or, for items, a list of them in older drafts). */
const SCHEMA_VALUES = new Set(['items', 'additionalProperties', 'additionalItems', 'not', 'contains', 'if', 'then', 'else', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'])
/** Keywords whose value is a list of schemas, in an order that matters to the grammar (alternatives, positions). */
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems'])

export function canonicalSchema(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema
  const node = schema as Record<string, unknown>
  // fromEntries, not assignment: a '__proto__' keyword stays a key.
  return Object.fromEntries(Object.keys(node).sort().map((keyword) => [keyword, canonicalValue(keyword, node[keyword])]))
}

function canonicalValue(keyword: string, value: unknown): unknown {
  if (keyword === 'properties') return mapValues(value, false)
  if (UNORDERED_SCHEMA_MAPS.has(keyword)) return mapValues(value, true)
  if (SCHEMA_VALUES.has(keyword)) return Array.isArray(value) ? value.map(canonicalSchema) : canonicalSchema(value)
  if (SCHEMA_LISTS.has(keyword) && Array.isArray(value)) return value.map(canonicalSchema)
  return value
}

/** A map of name -> schema with each schema canonical, its names sorted when their order does not matter. */
function mapValues(value: unknown, sortNames: boolean): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const map = value as Record<string, unknown>
  const names = sortNames ? Object.keys(map).sort() : Object.keys(map)
  return Object.fromEntries(names.map((name) => [name, canonicalSchema(map[name])]))
}
