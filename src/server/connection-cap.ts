// --max-connections: a connection past the cap gets a 503 error reply and is closed, where node alone would reset it unanswered.
import type {Server} from 'node:http'
import type {Socket} from 'node:net'

export class ConnectionCap {
  private open = 0
  private readonly overCap = new WeakSet<Socket>()

  constructor(server: Server, readonly max: number) {
    // Answering costs a socket while the request arrives (bounded by --headers-timeout); past twice the cap node
    // closes new connections unread, so a flood cannot run the process out of file descriptors.
    server.maxConnections = 2 * max
    server.on('connection', (socket: Socket) => {
      this.open += 1
      if (this.open > max) this.overCap.add(socket)
      socket.once('close', () => (this.open -= 1))
    })
  }

  /** Whether the connection was opened while `max` others were; it is answered 503 and closed. */
  isOverCap(socket: Socket): boolean {
    return this.overCap.has(socket)
  }
}
