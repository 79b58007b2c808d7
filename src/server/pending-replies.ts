// The bytes of replies written to sockets but not yet taken by their clients: each reply is cut when its client takes
// none of it for the slow-client timeout, and all together are capped (--max-reply-memory), the stalest cut first.
import type {ServerResponse} from 'node:http'

interface Pending {
  /** Bytes not yet taken at the last look. */
  bytes: number
  /** When the client last took some (or the reply last had nothing waiting), performance.now() ms. */
  progressAt: number
}

/**
 * A reply whose client does not read stays in the server's memory: a JSON body whole (up to the logprobs budget's
 * hundreds of MB), a stream one event and the socket's buffer. Per reply the slow-client timeout bounds how long; the
 * cap bounds how much across clients, so fifty stalled readers of long replies cannot exhaust the process. Over the cap
 * the replies whose clients took nothing for longest are cut first (their requests abort), as llama.cpp's server drops a
 * connection its write times out on; a client that keeps reading is cut last. One reply alone is never cut for the
 * cap: its size is bounded by its request's own limits, and a reply bigger than the cap must still be deliverable.
 */
export class PendingReplies {
  private readonly replies = new Map<ServerResponse, Pending>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly capBytes: number,
    private readonly timeoutMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** Watches `response` until it is finished (all of it taken) or closed. */
  track(response: ServerResponse): void {
    if (response.writableFinished || this.replies.has(response)) return
    this.replies.set(response, {bytes: 0, progressAt: performance.now()})
    const untrack = () => {
      this.replies.delete(response)
      if (this.replies.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = null
      }
    }
    response.once('finish', untrack)
    response.once('close', untrack)
    // A look a few times per timeout; the cap is also enforced whenever a reply is handed over whole (check()).
    this.timer ??= setInterval(() => this.check(), Math.max(10, Math.min(250, this.timeoutMs / 4))).unref()
  }

  /** The bytes all tracked replies hold, at the last look (/metrics). */
  get bytesHeld(): number {
    let sum = 0
    for (const pending of this.replies.values()) sum += pending.bytes
    return sum
  }

  /** Looks at every reply: cuts those not read for the timeout, then the stalest while all together pass the cap. */
  check(): void {
    const now = performance.now()
    let total = 0
    const holding: [ServerResponse, Pending][] = []
    for (const [response, pending] of this.replies) {
      const bytes = untakenBytes(response)
      if (bytes === 0 || bytes < pending.bytes || pending.bytes === 0) pending.progressAt = now
      pending.bytes = bytes
      if (bytes === 0) continue
      if (now - pending.progressAt >= this.timeoutMs) {
        this.cut(response, `the client took none of it for ${this.timeoutMs} ms`)
        continue
      }
      total += bytes
      holding.push([response, pending])
    }
    if (total <= this.capBytes || holding.length < 2) return
    holding.sort(([, a], [, b]) => a.progressAt - b.progressAt || b.bytes - a.bytes)
    // The last one standing is spared (see above).
    for (const [response, pending] of holding.slice(0, -1)) {
      if (total <= this.capBytes) break
      this.cut(response, `replies waiting for their clients hold ${total} bytes, over --max-reply-memory (${this.capBytes}); this one ${pending.bytes}, unread for ${Math.round(now - pending.progressAt)} ms`)
      total -= pending.bytes
    }
  }

  private cut(response: ServerResponse, why: string): void {
    this.replies.delete(response)
    this.log(`cut a reply: ${why}`)
    // The request's 'close' handler aborts it if it is still generating, which frees its blocks.
    response.destroy()
  }
}

/**
 * What the kernel has not yet taken of a reply: the socket stream's buffer, and what libuv still queues of a write it
 * began (which shrinks as the client reads; the stream's own count only drops once a whole write is done).
 */
function untakenBytes(response: ServerResponse): number {
  const socket = response.socket
  if (socket === null || socket.destroyed) return 0
  return socket.writableLength + ((socket as {_handle?: {writeQueueSize?: number}})._handle?.writeQueueSize ?? 0)
}
