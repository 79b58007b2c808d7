// The stored responses' routes, as OpenAI serves them: GET and DELETE /v1/responses/{id},
// GET /v1/responses/{id}/input_items (a cursor-paged list) and POST /v1/responses/{id}/cancel.
import type {IncomingMessage, ServerResponse} from 'node:http'
import {InvalidRequestError, NotFoundError} from '../engine/errors.js'
import {sendJson} from './api-context.js'
import type {ResponseStore} from './response-store.js'
import {type BackgroundResponses, parseStartingAfter, streamEvents} from './responses-background.js'

/** Paths under it name one stored response (and, after it, input_items or cancel). */
export const RESPONSE_PATH_PREFIX = '/v1/responses/'

type Handler = (request: IncomingMessage, response: ServerResponse, signal: AbortSignal) => Promise<void>

/** The handlers by method for `path` (under RESPONSE_PATH_PREFIX), or undefined when no such route exists. */
export function storedResponseRoute(
  path: string,
  store: ResponseStore | null,
  background: BackgroundResponses | null,
  slowClientTimeoutMs: number,
): Partial<Record<'GET' | 'HEAD' | 'DELETE' | 'POST', Handler>> | undefined {
  const [id, action, ...rest] = path.slice(RESPONSE_PATH_PREFIX.length).split('/')
  if (id === undefined || id === '' || rest.length > 0) return undefined
  const stored = () => {
    if (store === null) throw new NotFoundError(`No stored response with id ${JSON.stringify(id)}: this server keeps responses only when started with --responses-store N.`, {code: 'response_not_found'})
    if (!background!.isRunning(id)) store.get(id)
  }
  if (action === undefined) {
    // A running background response is found too (its output so far); stream=true replays its events from starting_after.
    const retrieve: Handler = async (request, response, signal) => {
      stored()
      const found = background!.find(id)
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams
      if (query.get('stream') !== 'true') return sendJson(response, 200, found.response)
      if (found.events === null)
        throw new InvalidRequestError(`'stream' replays the events of a background response created with stream: true; ${JSON.stringify(id)} was not`, {param: 'stream'})
      await streamEvents(response, slowClientTimeoutMs, found, parseStartingAfter(query), signal)
    }
    return {
      GET: retrieve,
      HEAD: retrieve,
      DELETE: async (_, response) => {
        stored()
        background!.refuseRunning(id, 'response_id')
        store!.delete(id)
        sendJson(response, 200, {id, object: 'response', deleted: true})
      },
    }
  }
  if (action === 'input_items') {
    const list: Handler = async (request, response) => {
      stored()
      sendJson(response, 200, inputItemsPage(background!.inputItemsOf(id), new URL(request.url ?? '/', 'http://localhost').searchParams))
    }
    return {GET: list, HEAD: list}
  }
  if (action === 'cancel') {
    // Only background responses can be cancelled (responses-background.ts); a synchronous one is a 400.
    return {
      POST: async (_, response) => {
        stored()
        sendJson(response, 200, await background!.cancel(id))
      },
    }
  }
  return undefined
}

/** OpenAI's cursor page of input items: `order` (desc by default), `limit` (1-100, 20 by default), `after` an item id. */
function inputItemsPage(items: readonly {id?: unknown}[], query: URLSearchParams) {
  const order = query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') throw new InvalidRequestError(`'order' must be 'asc' or 'desc'; got ${JSON.stringify(order)}`, {param: 'order'})
  const limitText = query.get('limit') ?? '20'
  const limit = Number(limitText)
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) throw new InvalidRequestError(`'limit' must be an integer from 1 to 100; got ${JSON.stringify(limitText)}`, {param: 'limit'})
  const ordered = order === 'asc' ? [...items] : [...items].reverse()
  const after = query.get('after')
  let start = 0
  if (after !== null) {
    const at = ordered.findIndex((item) => item.id === after)
    if (at < 0) throw new InvalidRequestError(`'after' names no input item of this response: ${JSON.stringify(after)}`, {param: 'after'})
    start = at + 1
  }
  const data = ordered.slice(start, start + limit)
  return {object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: start + limit < ordered.length}
}
