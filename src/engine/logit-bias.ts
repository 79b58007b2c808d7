// A request's logit_bias built once as two parallel typed arrays, ids ascending: each step walks plain numbers (a for-in
// over an object of 150k integer keys makes and sorts their strings, ~30 ms a walk, and the engine walked it every step),
// and it crosses threads without a copy (serve checks big bodies in a worker).
import {InvalidRequestError} from './errors.js'

export interface LogitBias {
  /** Token ids, ascending, each once. */
  readonly ids: Int32Array
  /** The bias added to each id's logit, in [-100, 100]. */
  readonly values: Float64Array
}

/** The largest id an Int32Array holds; no vocabulary comes near it. */
const MAX_TOKEN_ID = 2 ** 31 - 1

export function isLogitBias(value: unknown): value is LogitBias {
  return typeof value === 'object' && value !== null && (value as LogitBias).ids instanceof Int32Array && (value as LogitBias).values instanceof Float64Array
}

function fail(message: string): never {
  throw new InvalidRequestError(message, {param: 'logit_bias'})
}

/** {"<token id>": bias} as a LogitBias; a key that is not a token id or a value outside [-100, 100] is a 400 on logit_bias. */
export function logitBiasOf(biases: Readonly<Record<string, number>>): LogitBias {
  const ids: number[] = []
  const values: number[] = []
  // for-in lists integer keys in ascending order.
  for (const key in biases) {
    const value = biases[key]
    if (!/^(0|[1-9][0-9]*)$/.test(key)) fail(`logit_bias keys must be token ids (non-negative integers), got '${key.slice(0, 40)}'`)
    checkValue(Number(key), value)
    ids.push(Number(key))
    values.push(value as number)
  }
  return sortedBias(ids, values)
}

/** Ids and values as given (an id may repeat: the last value wins, as in a JSON object); ids are checked, values too. */
export function logitBiasFromPairs(ids: readonly number[], values: readonly number[]): LogitBias {
  const last = new Map<number, number>()
  for (let i = 0; i < ids.length; i++) {
    checkValue(ids[i]!, values[i])
    last.set(ids[i]!, values[i]!)
  }
  return sortedBias([...last.keys()], [...last.values()])
}

function checkValue(id: number, value: unknown): void {
  if (!(typeof value === 'number' && value >= -100 && value <= 100)) fail(`logit_bias values must be numbers in [-100, 100], got ${value} for token ${id}`)
  if (id > MAX_TOKEN_ID) fail(`logit_bias token id ${id} is outside the vocabulary`)
}

function sortedBias(ids: number[], values: number[]): LogitBias {
  const order = ids.map((_, i) => i)
  let ascending = true
  for (let i = 1; i < ids.length && ascending; i++) ascending = ids[i - 1]! < ids[i]!
  if (!ascending) order.sort((a, b) => ids[a]! - ids[b]!)
  return {ids: Int32Array.from(order, (i) => ids[i]!), values: Float64Array.from(order, (i) => values[i]!)}
}

/** Checks a LogitBias made elsewhere (another thread): ids ascending and non-negative, values in range. */
export function checkLogitBias(bias: LogitBias): void {
  if (bias.ids.length !== bias.values.length) fail('logit_bias ids and values differ in length')
  for (let i = 0; i < bias.ids.length; i++) {
    if (bias.ids[i]! < 0 || (i > 0 && bias.ids[i]! <= bias.ids[i - 1]!)) fail('logit_bias token ids must be non-negative, ascending and distinct')
    checkValue(bias.ids[i]!, bias.values[i])
  }
}

/** The smallest biased id at or past `limit` (the vocabulary's size), or -1: a binary search, the ids being ascending. */
export function firstBiasedIdFrom(bias: LogitBias, limit: number): number {
  let low = 0
  let high = bias.ids.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (bias.ids[middle]! < limit) low = middle + 1
    else high = middle
  }
  return low < bias.ids.length ? bias.ids[low]! : -1
}
