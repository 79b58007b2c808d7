// Serves the requests a client pipelines on one connection one at a time, in order, as uvicorn serves vLLM's.
import type {ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {UnavailableError} from '../engine/errors.js'

/** Pipelined requests waiting on one connection; more are answered 503 at once. */
export const MAX_PIPELINED = 16

/** Handles one request (or answers `refusal` as its error); ends when its reply is handed to node, not yet sent perhaps. */
type Handle = (refusal?: UnavailableError) => Promise<void>

interface Turn {
  response: ServerResponse
  handle: Handle
}

/**
 * node hands every request it parses off a connection to the server at once, however many a client pipelines: one
 * connection could take every sequence slot and the queue behind them, and the replies queued behind the first never
 * hear that their client left (node tells only the reply that owns the socket), so they ran on for no one.
 * Here a connection's next request starts once the reply before it is sent or cut; a closed connection's waiting ones
 * never do. Past MAX_PIPELINED waiting, a request is refused at once: its small reply queues behind the others, and
 * node stops reading a connection whose queued replies pile up, so a flood of pipelined requests stays bounded.
 */
export class PipelinedRequests {
  private readonly waiting = new WeakMap<Socket, Turn[]>()

  run(socket: Socket, response: ServerResponse, handle: Handle): void {
    const waiting = this.waiting.get(socket)
    if (waiting === undefined) {
      this.waiting.set(socket, [])
      void this.serve(socket, {response, handle})
    } else if (waiting.length < MAX_PIPELINED) {
      waiting.push({response, handle})
    } else {
      void handle(new UnavailableError(`More than ${MAX_PIPELINED} requests are pipelined on this connection; send the rest once replies arrive.`, {code: 'too_many_pipelined_requests'}))
    }
  }

  private async serve(socket: Socket, first: Turn): Promise<void> {
    const waiting = this.waiting.get(socket)!
    for (let turn: Turn | undefined = first; turn !== undefined; turn = waiting.shift()) {
      if (socket.destroyed) break
      await turn.handle()
      // The next reply takes the socket (and hears of its close) only once this one is sent or cut.
      await replyGone(turn.response)
    }
    this.waiting.delete(socket)
  }
}

function replyGone(response: ServerResponse): Promise<void> {
  if (response.writableFinished || response.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    response.once('finish', resolve)
    response.once('close', resolve)
  })
}
