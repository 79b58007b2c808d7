// What an endpoint handler gets for one HTTP request, and the small reply helpers every handler shares.
import {randomBytes} from 'node:crypto'
import type {ServerResponse} from 'node:http'
import type {EngineLike} from './engine-like.js'
import type {ServerMetrics} from './metrics.js'
import type {PromptTokenizer} from './prompt-tokenizer.js'
import type {ToolCallParserName} from './tool-calls.js'

export interface ApiContext {
  engine: EngineLike
  /** Prompt text and chat messages to token ids, off the event loop when the server has worker threads. */
  promptTokenizer: PromptTokenizer
  metrics: ServerMetrics
  response: ServerResponse
  /**
   * Aborted when the client disconnects (reason: ClientDisconnected) or when shutdown's grace period runs
   * out (reason: an UnavailableError); generation stops and the engine frees the request's blocks.
   */
  signal: AbortSignal
  /** When the HTTP request arrived (performance.now()/1000), so latency metrics include time queued in the server. */
  arrivalTime: number
  /** Server log (stderr in `serve`); unexpected errors are written here. */
  log: (message: string) => void
  /** How much one request may ask for: its sequences in all, and at once in the engine. */
  limits: RequestLimits
  /**
   * Waits for `sequences` slots of `--max-concurrent-requests` (counted in sequences; held until the reply
   * ends). Throws a 503 when the queue is full, and the abort reason when the client leaves while waiting.
   */
  admit: (sequences: number) => Promise<void>
  /** serve --tool-call-parser; null when tool_choice "auto" cannot be served. */
  toolCallParser?: ToolCallParserName | null
}

export interface RequestLimits {
  /** prompts x max(n, best_of) above this is refused with a 400 (`--max-sequences-per-request`). */
  maxSequencesPerRequest: number
  /** Sequences one request keeps in the engine at once (`--request-window`); the rest of its prompts wait their turn. */
  windowSequences: number
  /** A streaming client that reads nothing for this long is disconnected (`--slow-client-timeout`). */
  slowClientTimeoutMs: number
}

/** The abort reason used when the client went away: nobody is left to answer. */
export class ClientDisconnected extends Error {
  constructor() {
    super('client disconnected')
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers})
  response.end(text)
}

/** OpenAI-style object ids: a prefix and 24 hex digits. */
export function newObjectId(prefix: 'cmpl' | 'chatcmpl'): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
