// What an endpoint handler gets for one HTTP request, and the small reply helpers every handler shares.
import {randomFillSync} from 'node:crypto'
import type {ServerResponse} from 'node:http'
import {closeIfBodyUnread} from './body-handshake.js'
import type {ModelSamplingDefaults} from '../engine/model/load-model.js'
import type {EngineLike} from './engine-like.js'
import type {ServerMetrics} from './metrics.js'
import type {PromptTokenizer} from './prompt-tokenizer.js'
import type {ResponseStore} from './response-store.js'
import type {BackgroundResponses} from './responses-background.js'
import type {ToolCallParserName} from './tool-calls.js'
import type {ReasoningParserName} from './reasoning-parsers.js'
import type {ChatContentFormatOption} from '../engine/model/chat-content-format.js'

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
   * Waits for `sequences` slots of `--max-concurrent-requests` (counted in sequences), held until the reply ends or
   * until the returned release is called (once the request's generation ends, so a slow reader holds no slots).
   * Throws a 503 when the queue is full, and the abort reason when the client leaves while waiting.
   */
  admit: (sequences: number) => Promise<() => void>
  /** Fills the sampling fields a request leaves out: the model's generation_config.json, or {} (--generation-config vllm). */
  samplingDefaults: ModelSamplingDefaults
  /** serve --tool-call-parser; null when tool_choice "auto" cannot be served. */
  toolCallParser?: ToolCallParserName | null
  /** serve --reasoning-parser; null when chat replies are not split into reasoning and content. */
  reasoningParser?: ReasoningParserName | null
  /** serve --chat-template-content-format (auto when absent). */
  chatTemplateContentFormat?: ChatContentFormatOption
  /** serve --enable-prompt-tokens-details: completions' and chat's usage say how many prompt tokens the prefix cache held. */
  enablePromptTokensDetails?: boolean
  /** serve --responses-store: finished /v1/responses kept for previous_response_id and GET; null when off. */
  responseStore?: ResponseStore | null
  /** Background /v1/responses running without their clients (there when the store is). */
  backgroundResponses?: BackgroundResponses | null
  /**
   * For work that outlives the reply (a background response): it takes over the request's slots and body reservation,
   * which `release` then gives back instead of the reply's end, and gets a signal that aborts only at shutdown (which
   * waits for it as for a request in flight).
   */
  detach?: () => {signal: AbortSignal; release: () => void}
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
  sendJsonText(response, status, JSON.stringify(body), headers)
}

/** sendJson of a body already serialized. */
export function sendJsonText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  closeIfBodyUnread(response)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers})
  response.end(text)
}

/** OpenAI-style object ids: a prefix and 24 hex digits, joined by '-' (completions) or '_' (the Responses API's objects). */
export function newObjectId(prefix: 'cmpl' | 'chatcmpl' | 'resp' | 'msg' | 'fc' | 'fco' | 'rs'): string {
  const separator = prefix === 'cmpl' || prefix === 'chatcmpl' ? '-' : '_'
  if (idBytesUsed === idBytes.length) {
    randomFillSync(idBytes)
    idBytesUsed = 0
  }
  idBytesUsed += ID_BYTES
  return `${prefix}${separator}${idBytes.toString('hex', idBytesUsed - ID_BYTES, idBytesUsed)}`
}

/**
 * Random bytes for ids, drawn 1,024 ids at a time (as node caches randomUUID's): one draw per id cost ~7 us, and a
 * Responses input of 10^5 items, each given an id, held the event loop for 0.7 s.
 */
const ID_BYTES = 12
const idBytes = Buffer.alloc(ID_BYTES * 1024)
let idBytesUsed = idBytes.length

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
