// Typed readers for the fields of a JSON request body: each rejects a wrong type with an InvalidRequestError naming the field.
import {InvalidRequestError} from '../engine/errors.js'

export type JsonObject = Record<string, unknown>

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/** What was sent, for a message: numbers as themselves (JSON's 1e400 parses to Infinity), other values by type. */
function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a number out of range'
  return typeName(value)
}

function wrongType(param: string, expected: string, value: unknown): never {
  throw new InvalidRequestError(`'${param}' must be ${expected}, got ${describe(value)}`, {param})
}

/** A list with a bad item: the message points at the item, the param names the field. */
function wrongItem(param: string, expected: string, value: unknown[], index: number): never {
  throw new InvalidRequestError(`'${param}[${index}]' must be ${expected}, got ${describe(value[index])}`, {param})
}

/** The parsed body must be a JSON object; anything else is a 400. */
export function requireObject(body: unknown): JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidRequestError(`request body must be a JSON object, got ${typeName(body)}`)
  return body as JsonObject
}

/** Absent and null both mean "use the default", as in OpenAI's API. */
function present(body: JsonObject, param: string): unknown {
  const value = body[param]
  return value === null ? undefined : value
}

export function optionalNumber(body: JsonObject, param: string): number | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) wrongType(param, 'a number', value)
  return value
}

export function optionalInteger(body: JsonObject, param: string): number | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value)) wrongType(param, 'an integer', value)
  return value
}

export function optionalBoolean(body: JsonObject, param: string): boolean | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') wrongType(param, 'a boolean', value)
  return value
}

export function optionalString(body: JsonObject, param: string): string | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (typeof value !== 'string') wrongType(param, 'a string', value)
  return value
}

export function optionalObject(body: JsonObject, param: string): JsonObject | undefined {
  return optionalObjectItem(body[param], param)
}

/**
 * A value (a list's item) that must be an object, or null / absent (undefined), named `param` in errors. Checked in
 * place: wrapping each item as {[param]: item} for optionalObject gave V8 a new object shape per index, and 10^5
 * messages held the event loop for seconds.
 */
export function optionalObjectItem(value: unknown, param: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) wrongType(param, 'an object', value)
  return value as JsonObject
}

/** `stop` is a string or a list of strings. */
export function optionalStringList(body: JsonObject, param: string): string[] | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (typeof value === 'string') return [value]
  if (!Array.isArray(value)) wrongType(param, 'a string or a list of strings', value)
  const bad = value.findIndex((item) => typeof item !== 'string')
  if (bad >= 0) wrongItem(param, 'a string', value, bad)
  return value as string[]
}

/** A list of JSON objects (chat `documents`). */
export function optionalObjectList(body: JsonObject, param: string): JsonObject[] | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (!Array.isArray(value)) wrongType(param, 'a list of objects', value)
  const bad = value.findIndex((item) => typeof item !== 'object' || item === null || Array.isArray(item))
  if (bad >= 0) wrongItem(param, 'an object', value, bad)
  return value as JsonObject[]
}

export function optionalIntegerList(body: JsonObject, param: string): number[] | undefined {
  const value = present(body, param)
  if (value === undefined) return undefined
  if (!Array.isArray(value)) wrongType(param, 'a list of integers', value)
  const bad = value.findIndex((item) => typeof item !== 'number' || !Number.isInteger(item))
  if (bad >= 0) wrongItem(param, 'an integer', value, bad)
  return value as number[]
}

/** Fields we do not implement are rejected rather than silently ignored, unless they are empty. */
export function rejectUnsupported(body: JsonObject, params: readonly string[]): void {
  for (const param of params) {
    const value = present(body, param)
    if (value === undefined) continue
    const empty = (typeof value === 'object' && Object.keys(value as object).length === 0) || value === false || value === ''
    if (!empty) throw new InvalidRequestError(`'${param}' is not supported by this server`, {param})
  }
}

/**
 * The body as a parser sees it, and afterwards the top-level fields it never read: those it ignored, which the server
 * logs as vLLM does (its models allow extra fields with a warning). A non-object body passes through untouched.
 */
export function watchFields(body: unknown): {body: unknown; unread: () => string[]} {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {body, unread: () => []}
  const read = new Set<string | symbol>()
  const watched = new Proxy(body, {
    get(target, key, receiver) {
      read.add(key)
      return Reflect.get(target, key, receiver)
    },
  })
  return {body: watched, unread: () => Object.keys(body).filter((key) => !read.has(key))}
}

/** Names, in the server log, the top-level fields a parser never read (vLLM warns so of the extra fields it ignores). */
export function logUnreadFields(ignored: readonly string[], log: (message: string) => void): void {
  if (ignored.length > 0) log(`ignored request fields: ${ignored.slice(0, 20).map((key) => JSON.stringify(key.slice(0, 64))).join(', ')}`)
}
