// Bounds the generation requests in flight: a fixed number run, a bounded queue waits, the rest get a 503 at once.
import {UnavailableError} from '../engine/errors.js'

interface Waiter {
  grant: () => void
  cancel: (reason: unknown) => void
}

export class RequestLimiter {
  private running = 0
  private readonly queue: Waiter[] = []

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {}

  get numRunning(): number {
    return this.running
  }

  get numQueued(): number {
    return this.queue.length
  }

  /**
   * Resolves with a release function once the request may run. Throws an UnavailableError when the queue is
   * full, and the abort reason when `signal` aborts while it waits (the client left the queue).
   */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted()
    if (this.running < this.maxConcurrent) {
      this.running += 1
      return this.releaser()
    }
    if (this.queue.length >= this.maxQueued)
      throw new UnavailableError(
        `The server is overloaded: ${this.running} requests running and ${this.queue.length} waiting. Retry later.`,
        {code: 'server_overloaded'},
      )
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        cancel: reject,
      }
      const onAbort = () => {
        this.queue.splice(this.queue.indexOf(waiter), 1)
        waiter.cancel(signal.reason)
      }
      signal.addEventListener('abort', onAbort, {once: true})
      this.queue.push(waiter)
    })
    return this.releaser()
  }

  /** A finished request hands its slot straight to the first waiter, so a newcomer cannot jump the queue. */
  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.queue.shift()
      if (next) next.grant()
      else this.running -= 1
    }
  }
}
