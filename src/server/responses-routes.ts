// The stored responses' routes, as OpenAI serves them: GET and DELETE /v1/responses/{id},
// GET /v1/responses/{id}/input_items (a cursor-paged list) and POST /v1/responses/{id}/cancel.
import type {IncomingMessage, ServerResponse} from 'node:http'
import {InvalidRequestError, NotFoundError, quotedValue} from '../engine/errors.js'
import {sendJson, sendJsonText} from './api-context.js'
import type {ResponseStore} from './response-store.js'
import {type BackgroundResponses, parseStartingAfter, streamEvents} from './responses-background.js'
import {inputItemsPageText} from './stored-input-items.js'
import {ReplySlicer, sendJsonInSlices} from './reply-slices.js'

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
    if (store === null) throw new NotFoundError(`No stored response with id ${quotedValue(id)}: this server keeps responses only when started with --responses-store N.`, {code: 'response_not_found'})
    if (!background!.isRunning(id)) store.get(id)
  }
  if (action === undefined) {
    // A running background response is found too (its output so far); stream=true replays its events from starting_after.
    const retrieve: Handler = async (request, response, signal) => {
      stored()
      const found = background!.find(id)
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams
      // Sliced: a response with 20 top logprobs per token is MBs of JSON (2.4 MB held /health 100-300 ms per GET).
      if (query.get('stream') !== 'true') return sendJsonInSlices(response, new ReplySlicer(signal), 200, found.response)
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
      sendJsonText(response, 200, inputItemsPageText(background!.inputItemsOf(id), new URL(request.url ?? '/', 'http://localhost').searchParams))
    }
    return {GET: list, HEAD: list}
  }
  if (action === 'cancel') {
    // Only background responses can be cancelled (responses-background.ts); a synchronous one is a 400.
    return {
      POST: async (_, response, signal) => {
        stored()
        await sendJsonInSlices(response, new ReplySlicer(signal), 200, await background!.cancel(id))
      },
    }
  }
  return undefined
}
