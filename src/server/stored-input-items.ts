// A stored response's input items kept as one JSON list text, in UTF-8 in shared memory, with each item's end offset:
// GET .../input_items decodes its page out of the bytes and a request continuing the response hands them to a
// tokenizer worker as they are, so neither parses, joins nor copies 10^5 objects on the event loop (docs/PERFORMANCE.md,
// "Responses API, hostile input" and "Round 14").
import {InvalidRequestError, quotedValue} from '../engine/errors.js'
import type {JsonObject} from './request-fields.js'
import {bufferOf, sharedUtf8} from './shared-utf8.js'

export interface StoredInputItems {
  /**
   * The items as one JSON list, UTF-8 in a SharedArrayBuffer (built in a worker for a big body: it crosses back and on
   * to the next continuation's worker uncopied); each item's text starts with its id (`{"id":...`), as they are built.
   */
  utf8: Uint8Array
  /** Where each item's bytes end in `utf8` (it starts one past the previous end: after '[' or ','). */
  ends: Uint32Array
  /** `utf8`'s length, as the store's budget counts it. */
  bytes: number
}

/** How each item's text starts: its id comes first. */
const ID_START = '{"id":'

export const NO_INPUT_ITEMS: StoredInputItems = {utf8: sharedUtf8('[]'), ends: new Uint32Array(0), bytes: 2}

/** `items` each with a string id as its first field (responses-request.ts gives them so). */
export function storedInputItems(items: readonly JsonObject[]): StoredInputItems {
  const texts = items.map((item) => JSON.stringify(item))
  const ends = new Uint32Array(texts.length)
  let at = 0
  texts.forEach((text, index) => (ends[index] = at += 1 + Buffer.byteLength(text)))
  const utf8 = sharedUtf8(`[${texts.join(',')}]`)
  return {utf8, ends, bytes: utf8.byteLength}
}

/** Item `index`'s JSON text. */
function itemText({utf8, ends}: StoredInputItems, index: number): string {
  return bufferOf(utf8).toString('utf8', index === 0 ? 1 : ends[index - 1]! + 1, ends[index]!)
}

/** The index of the item whose text starts at `offset`, or -1 (a match inside an item is no item's start). */
function itemStartingAt({ends}: StoredInputItems, offset: number): number {
  let low = 0
  let high = ends.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    const start = middle === 0 ? 1 : ends[middle - 1]! + 1
    if (start === offset) return middle
    if (start < offset) low = middle + 1
    else high = middle - 1
  }
  return -1
}

/** The first item with id `id` in the page's order (ids a client sent may repeat), found by its text's start; or -1. */
function findItem(items: StoredInputItems, id: string, ascending: boolean): number {
  const needle = Buffer.from(`${ID_START}${JSON.stringify(id)},`)
  const text = bufferOf(items.utf8)
  for (let at = ascending ? text.indexOf(needle) : text.lastIndexOf(needle); at >= 0; at = ascending ? text.indexOf(needle, at + 1) : text.lastIndexOf(needle, at - 1)) {
    const index = itemStartingAt(items, at)
    if (index >= 0) return index
    if (!ascending && at === 0) break
  }
  return -1
}

/** An item's id as JSON text, read off the start of its text (`{"id":"..."`) without parsing the rest (a 3 MB message). */
function idText(text: string | undefined): string {
  if (text === undefined) return 'null'
  let at = ID_START.length + 1
  while (text[at] !== '"') at += text[at] === '\\' ? 2 : 1
  return text.slice(ID_START.length, at + 1)
}

/** OpenAI's cursor page of input items, as JSON text: `order` (desc by default), `limit` (1-100, 20 by default), `after` an item id. */
export function inputItemsPageText(items: StoredInputItems, query: URLSearchParams): string {
  const order = query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') throw new InvalidRequestError(`'order' must be 'asc' or 'desc'; got ${quotedValue(order)}`, {param: 'order'})
  const limitText = query.get('limit') ?? '20'
  const limit = Number(limitText)
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) throw new InvalidRequestError(`'limit' must be an integer from 1 to 100; got ${quotedValue(limitText)}`, {param: 'limit'})
  const count = items.ends.length
  // Position k of the page's order is item storedIndex(k).
  const storedIndex = (k: number) => (order === 'asc' ? k : count - 1 - k)
  const after = query.get('after')
  let start = 0
  if (after !== null) {
    const index = findItem(items, after, order === 'asc')
    if (index < 0) throw new InvalidRequestError(`'after' names no input item of this response: ${quotedValue(after)}`, {param: 'after'})
    start = storedIndex(index) + 1
  }
  const end = Math.min(start + limit, count)
  const data: string[] = []
  for (let k = start; k < end; k++) data.push(itemText(items, storedIndex(k)))
  return `{"object":"list","data":[${data.join(',')}],"first_id":${idText(data[0])},"last_id":${idText(data.at(-1))},"has_more":${end < count}}`
}
