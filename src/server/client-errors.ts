// Requests node's HTTP layer refuses before any route runs (bad framing, headers too large, too slow, an unknown Expect, CONNECT): answered as OpenAI error JSON.
import {type IncomingMessage, type Server, type ServerResponse, STATUS_CODES} from 'node:http'
import type {Duplex} from 'node:stream'
import {PagedLLMError} from '../engine/errors.js'
import {sendJson} from './api-context.js'

/** Without these listeners node answers such requests with a bare status line; with them, the same status with an error body. */
export function answerRefusedRequests(server: Server): void {
  server.on('clientError', answerClientError)
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const error = new ExpectationFailedError(`Expect: ${request.headers.expect} is not supported; only 100-continue is.`, {code: 'expectation_failed'})
    sendJson(response, error.httpStatus, error.toOpenAIError(), {connection: 'close'})
  })
  // Without a listener node closes a CONNECT's connection unanswered; this is no proxy, so it is a 405 like any other method.
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy())
    refuse(socket, 405, `Method ${request.method} is not allowed: this server is not a proxy.`, null)
  })
}

class ExpectationFailedError extends PagedLLMError {
  override readonly httpStatus = 417
  override readonly type = 'invalid_request_error' as const
}

/** Node's status for each parser error (the one its default handler sends), with our message and code. */
function describeParserError(code: string | undefined): {status: number; message: string; code: string} {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {status: 431, message: 'The request headers are larger than the server accepts.', code: 'headers_too_large'}
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {status: 413, message: 'The chunk extensions of the request body are larger than the server accepts.', code: 'body_too_large'}
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {status: 408, message: 'The request (headers or body) did not arrive in time.', code: 'request_timeout'}
    default:
      return {status: 400, message: `The request is not valid HTTP/1.1 (${code ?? 'parse error'}).`, code: 'malformed_http'}
  }
}

/** How long a refused client has to read its error reply before the connection is closed under it. */
const REFUSED_LINGER_MS = 1000

/** Answers, then closes the connection: after a parse error its framing can no longer be trusted. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as {_httpMessage?: {headersSent?: boolean} | null})._httpMessage
  // Bytes after a whole request that asked for Connection: close: RFC 9112 (9.6) has the server answer that request
  // and process nothing after it, so they are dropped; failing it (node's way) lost a valid request or cut its stream.
  if (error.code === 'HPE_CLOSED_CONNECTION' && inFlight) return
  // Nobody to answer, or a reply already half-written on this connection: only closing is left (node does the same).
  const replying = inFlight?.headersSent === true
  if (error.code === 'ECONNRESET' || !socket.writable || replying) {
    socket.destroy()
    return
  }
  const {status, message, code} = describeParserError(error.code)
  refuse(socket, status, message, code)
}

/** Writes an error reply straight to the socket (no route runs for these requests) and closes the connection. */
function refuse(socket: Duplex, status: number, message: string, code: string | null): void {
  const body = JSON.stringify({error: {message, type: 'invalid_request_error', param: null, code}})
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  )
  // end() only half-closes: a client that never reads the reply never closes its side, and until the socket closes the
  // request behind it (a body timed out while waiting to be read) keeps its body reservation. Close ours after a grace.
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref()
}
