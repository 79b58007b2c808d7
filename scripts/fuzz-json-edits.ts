// The JSON edits the model-file fuzzers share: a value at a key path replaced or deleted, and its short label.
export type Json = Record<string, unknown>

/** The value that deletes a key instead of setting it. */
export const DELETE = Symbol('delete')

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A deep copy of `object` with the key at `path` set to `value` (DELETE: removed). */
export function withPath(object: Json, path: string[], value: unknown): Json {
  const copy = JSON.parse(JSON.stringify(object)) as Json
  let target = copy
  for (const key of path.slice(0, -1)) target = target[key] as Json
  if (value === DELETE) delete target[path.at(-1)!]
  else target[path.at(-1)!] = value
  return copy
}

/** A value as a case label shows it, cut to 30 characters. */
export function show(value: unknown): string {
  if (value === DELETE) return '(deleted)'
  const text = JSON.stringify(value)
  return text.length > 30 ? `${text.slice(0, 27)}...` : text
}
