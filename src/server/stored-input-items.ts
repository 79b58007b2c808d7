// A stored response's input items kept as their JSON texts, ids beside them: GET .../input_items pages them and a
// request continuing the response hands them to a tokenizer worker as one string, so neither makes the event loop
// parse, rebuild or clone 10^5 objects (a continuing body of 10^5 items held /health for 1.6 s: docs/PERFORMANCE.md).
import {InvalidRequestError} from '../engine/errors.js'
import type {JsonObject} from './request-fields.js'

export interface StoredInputItems {
  /** Each item's id (input items are given one when sent without, and a sent one must be a string). */
  ids: string[]
  /** Each item's JSON text, in the order sent. */
  texts: string[]
}

export const NO_INPUT_ITEMS: StoredInputItems = {ids: [], texts: []}

export function storedInputItems(items: readonly JsonObject[]): StoredInputItems {
  return {ids: items.map((item) => item.id as string), texts: items.map((item) => JSON.stringify(item))}
}

/** What the items hold, as the store's byte budget counts it. */
export function inputItemsBytes({ids, texts}: StoredInputItems): number {
  let bytes = 0
  for (let index = 0; index < texts.length; index++) bytes += Buffer.byteLength(texts[index]!) + Buffer.byteLength(ids[index]!)
  return bytes
}

/** The items as one JSON list. */
export function inputItemsListText({texts}: StoredInputItems): string {
  return `[${texts.join(',')}]`
}

/** OpenAI's cursor page of input items, as JSON text: `order` (desc by default), `limit` (1-100, 20 by default), `after` an item id. */
export function inputItemsPageText({ids, texts}: StoredInputItems, query: URLSearchParams): string {
  const order = query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') throw new InvalidRequestError(`'order' must be 'asc' or 'desc'; got ${JSON.stringify(order)}`, {param: 'order'})
  const limitText = query.get('limit') ?? '20'
  const limit = Number(limitText)
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) throw new InvalidRequestError(`'limit' must be an integer from 1 to 100; got ${JSON.stringify(limitText)}`, {param: 'limit'})
  const count = ids.length
  // Position k of the page's order is item storedIndex(k).
  const storedIndex = (k: number) => (order === 'asc' ? k : count - 1 - k)
  const after = query.get('after')
  let start = 0
  if (after !== null) {
    // The first match in the page's order (ids a client sent may repeat).
    const index = order === 'asc' ? ids.indexOf(after) : ids.lastIndexOf(after)
    if (index < 0) throw new InvalidRequestError(`'after' names no input item of this response: ${JSON.stringify(after)}`, {param: 'after'})
    start = storedIndex(index) + 1
  }
  const end = Math.min(start + limit, count)
  const data: string[] = []
  for (let k = start; k < end; k++) data.push(texts[storedIndex(k)]!)
  const firstId = end > start ? ids[storedIndex(start)]! : null
  const lastId = end > start ? ids[storedIndex(end - 1)]! : null
  return `{"object":"list","data":[${data.join(',')}],"first_id":${JSON.stringify(firstId)},"last_id":${JSON.stringify(lastId)},"has_more":${end < count}}`
}
