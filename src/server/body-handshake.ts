// When a client may send its request body: `Expect: 100-continue` is answered only once the body is wanted, and a reply
// given before the body was read closes the connection, so no refused body is taken in.
import type {IncomingMessage, Server, ServerResponse} from 'node:http'

/**
 * node answers `Expect: 100-continue` with 100 Continue before any route runs, so a client told to send a gigabyte
 * would then be refused (413) only once it had started. With this, the request runs as any other and `continueIfExpected`
 * sends the 100 when the body is about to be read: a refusal before that (404, 401, 413, 415, a full queue) comes instead.
 */
export function deferContinue(server: Server): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => server.emit('request', request, response))
}

/** Tells a client waiting for 100 Continue to send its body now. */
export function continueIfExpected(request: IncomingMessage, response: ServerResponse): void {
  if (/^\s*100-continue\s*$/i.test(request.headers.expect ?? '') && !response.headersSent) response.writeContinue()
}

/** How long a client whose body was refused has to read the reply before the connection is closed under it. */
const LINGER_MS = 1000

/** A declared body up to this size is read and dropped (cheap), which keeps the connection and what is pipelined on it. */
const DISCARD_BYTES = 64 * 1024

/**
 * A reply sent while a large request body is still (partly) on the wire: without `Connection: close` node would read
 * and discard the rest before the next request on the connection, which a client can make a gigabyte long. Closed at once,
 * the unread bytes make the kernel reset the connection, and a client still sending loses the reply before reading
 * it; so the server sends its FIN after the reply, reads nothing more and closes a second later.
 */
export function closeIfBodyUnread(response: ServerResponse): void {
  const request = response.req as IncomingMessage | undefined
  if (request === undefined || response.headersSent) return
  const large = Number(request.headers['content-length']) > DISCARD_BYTES || request.headers['transfer-encoding'] !== undefined
  if (!large || request.complete) return
  response.setHeader('connection', 'close')
  // node ends a `Connection: close` reply's socket with destroySoon(): end, then destroy once the reply is flushed.
  const socket = request.socket as typeof request.socket & {destroySoon?: () => void}
  socket.destroySoon = function lingeringClose(this: typeof socket) {
    this.end()
    setTimeout(() => this.destroy(), LINGER_MS).unref()
  }
}
