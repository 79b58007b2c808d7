// Serves the requests a client pipelines on one connection one at a time, in order, as uvicorn serves vLLM's.
import type {ServerResponse} from 'node:http'
import type {Socket} from 'node:net'

/** Pipelined requests parsed ahead and waiting on one connection; past this the connection is not read until they run. */
const MAX_WAITING = 16

/** Handles one request; ends when its reply is handed to node (not yet sent, perhaps), so `response` says when it is gone. */
interface Turn {
  response: ServerResponse
  handle: () => Promise<void>
}

interface ConnectionTurns {
  waiting: Turn[]
  /** Whether this queue paused the socket (node pauses it too, for its own reasons, which are not ours to undo). */
  paused: boolean
}

/**
 * node hands every request it parses off a connection to the server at once, however many a client pipelines: one
 * connection could take every sequence slot and the queue behind them, and the replies queued behind the first never
 * hear that their client left (node tells only the reply that owns the socket), so they ran on for no one.
 * Here a connection's next request starts when the one before it has ended; a closed connection's waiting ones never do.
 */
export class PipelinedRequests {
  private readonly connections = new WeakMap<Socket, ConnectionTurns>()

  run(socket: Socket, turn: Turn): void {
    const turns = this.connections.get(socket)
    if (turns === undefined) {
      const fresh: ConnectionTurns = {waiting: [], paused: false}
      this.connections.set(socket, fresh)
      void this.serve(socket, fresh, turn)
      return
    }
    turns.waiting.push(turn)
    if (turns.waiting.length > MAX_WAITING && !turns.paused) {
      turns.paused = true
      socket.pause()
    }
  }

  private async serve(socket: Socket, turns: ConnectionTurns, first: Turn): Promise<void> {
    for (let turn: Turn | undefined = first; turn !== undefined; turn = turns.waiting.shift()) {
      if (socket.destroyed) {
        turns.waiting.length = 0
        break
      }
      if (turns.paused && turns.waiting.length <= MAX_WAITING / 2) {
        turns.paused = false
        socket.resume()
      }
      await turn.handle()
      // The next reply takes the socket (and hears of its close) only once this one is sent or cut.
      await replyGone(turn.response)
    }
    this.connections.delete(socket)
  }
}

function replyGone(response: ServerResponse): Promise<void> {
  if (response.writableFinished || response.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    response.once('finish', resolve)
    response.once('close', resolve)
  })
}
