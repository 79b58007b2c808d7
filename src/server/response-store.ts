// `serve --responses-store N`: finished Response objects kept in memory (as vLLM's VLLM_ENABLE_RESPONSES_API_STORE),
// with the input items each ran on, so previous_response_id, GET, DELETE and input_items can find them. Bounded in
// count and in bytes (JSON text), least recently used evicted first: a client cannot grow it past either bound.
import {NotFoundError, quotedValue} from '../engine/errors.js'
import type {JsonObject} from './request-fields.js'
import {checkpoint} from './job-checkpoint.js'
import {bufferOf, sharedUtf8} from './shared-utf8.js'
import type {StoredInputItems} from './stored-input-items.js'

export interface StoredResponse {
  /** The Response object as it was sent (status completed or incomplete). */
  response: JsonObject
  /** The input items it ran on, in order, each with an id (not those of its previous responses), as their texts. */
  inputItems: StoredInputItems
  /** The response it continued, whose conversation comes before its own input. */
  previousId: string | null
  /** A background response created with stream: true: its events as SSE frames, numbered, for GET ?stream=true&starting_after=N. */
  events?: string[]
}

/** 64 MiB of JSON text by default: thousands of ordinary conversations. */
export const DEFAULT_RESPONSES_STORE_BYTES = 64 * 1024 * 1024

/**
 * A conversation's JSON list text, as a continuation reads it: UTF-8 bytes in shared memory (the store's), or a string.
 * A tokenizer worker is handed the store's bytes without a copy: posting a 38 MB chain's texts as strings held the
 * event loop ~450-570 ms per continuation (V8 serializes strings by copying them).
 */
export type ConversationText = string | Uint8Array

interface Entry {
  stored: StoredResponse
  bytes: number
  /** What a continuation reads of its output (its input items are shared already). */
  outputShared: Uint8Array
}

export class ResponseStore {
  /** Map order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>()
  private heldBytes = 0

  constructor(
    readonly maxResponses: number,
    readonly maxBytes: number = DEFAULT_RESPONSES_STORE_BYTES,
  ) {}

  get size(): number {
    return this.entries.size
  }

  get bytes(): number {
    return this.heldBytes
  }

  /**
   * Keeps `stored` under its response's id; one larger than the whole byte budget is not kept (returns false).
   * `responseBytes`: its response's JSON length when the caller has serialized it already (in slices): a 2.4 MB
   * response with logprobs took the event loop ~60 ms to stringify again here.
   */
  put(stored: StoredResponse, responseBytes = Buffer.byteLength(JSON.stringify(stored.response))): boolean {
    const id = stored.response.id as string
    // What a continuation reads of the output, serialized once here: its logprobs are MBs (20 per token) that no
    // template renders (a content part is read as its type and text), and stringifying them for each continuation
    // held the event loop 30-60 ms a time.
    const outputShared = sharedUtf8(JSON.stringify(stored.response.output, (key, value) => (key === 'logprobs' ? undefined : value)))
    let bytes = stored.inputItems.bytes + responseBytes + outputShared.byteLength
    for (const frame of stored.events ?? []) bytes += Buffer.byteLength(frame)
    this.delete(id)
    if (bytes > this.maxBytes) return false
    this.entries.set(id, {stored, bytes, outputShared})
    this.heldBytes += bytes
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxResponses && this.heldBytes <= this.maxBytes) break
      this.entries.delete(oldest)
      this.heldBytes -= entry.bytes
    }
    return true
  }

  /** The stored response (now the most recently used), or a 404 naming `param`. */
  get(id: string, param: string | null = null): StoredResponse {
    return this.touch(id, param).stored
  }

  /** The entry of `id`, made the most recently used, or a 404 naming `param`. */
  private touch(id: string, param: string | null) {
    const entry = this.entries.get(id)
    if (entry === undefined) throw new NotFoundError(`No stored response with id ${quotedValue(id)}: it was never stored (store: false), was deleted, or was evicted from the store.`, {param, code: 'response_not_found'})
    this.entries.delete(id)
    this.entries.set(id, entry)
    return entry
  }

  delete(id: string): boolean {
    const entry = this.entries.get(id)
    if (entry === undefined) return false
    this.entries.delete(id)
    this.heldBytes -= entry.bytes
    return true
  }

  /**
   * The conversation a new response continues from `id`, as JSON lists of items for a tokenizer worker to parse
   * (conversationFromTexts): each response of the chain, oldest first, gives its input items then its output items.
   * Any link missing (deleted, evicted) is a 404 naming previous_response_id.
   */
  conversationTextsOf(id: string): Uint8Array[] {
    const texts: Uint8Array[] = []
    const seen = new Set<string>()
    for (let at: string | null = id; at !== null && !seen.has(at); ) {
      seen.add(at)
      const {stored, outputShared} = this.touch(at, 'previous_response_id')
      // Reversed below: input then output, oldest response first.
      texts.push(outputShared, stored.inputItems.utf8)
      at = stored.previousId
    }
    return texts.reverse()
  }
}

/** The items of conversationTextsOf's lists, in order. */
export function conversationFromTexts(texts: readonly ConversationText[]): JsonObject[] {
  return texts.flatMap((text) => {
    checkpoint()
    return JSON.parse(typeof text === 'string' ? text : bufferOf(text).toString('utf8')) as JsonObject[]
  })
}
