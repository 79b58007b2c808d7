// What an endpoint handler gets for one HTTP request, and the small reply helpers every handler shares.
import {randomBytes} from 'node:crypto'
import type {ServerResponse} from 'node:http'
import type {EngineLike} from './engine-like.js'
import type {ServerMetrics} from './metrics.js'
import type {ToolCallParserName} from './tool-calls.js'

export interface ApiContext {
  engine: EngineLike
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
  /** serve --tool-call-parser; null when tool_choice "auto" cannot be served. */
  toolCallParser?: ToolCallParserName | null
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
