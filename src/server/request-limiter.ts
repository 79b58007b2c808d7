// A weighted FIFO semaphore: requests take units (sequences, or body bytes) of a fixed capacity, a bounded queue waits, the
// rest get a 503. Optionally a room beyond the capacity for requests within an equal share, so a small one is not queued
// behind a few big ones.
import {UnavailableError} from '../engine/errors.js'

interface Waiter {
  units: number
  grant: () => void
  cancel: (reason: unknown) => void
}

/** Gives the units back; `shrinkTo` gives back all but `units` of them early (a chunked body turned out smaller). */
export interface Grant {
  (): void
  shrinkTo(units: number): void
}

export class RequestLimiter {
  private used = 0
  /** Units held in the room beyond the capacity (`shareRoom`). */
  private roomUsed = 0
  private holders = 0
  private readonly queue: Waiter[] = []

  /**
   * `unit` names what is counted, for the overload message ("sequences", "body bytes"). `shareRoom`: units beyond the
   * capacity that a request may take at once, without queueing, when the capacity is taken and it asks for no more
   * than an equal share of it (capacity / (holders + 1)). The sequences' limiter has it: with the capacity equal to
   * --max-num-seqs, a 1-sequence request waited here behind a client's n = 16 requests for one of them to end (6-8 s),
   * where in the engine the fair share would have made room for it within a few steps. It keeps out of the FIFO's
   * way: units in the room are not counted against the capacity the waiters wait for.
   */
  constructor(
    readonly capacity: number,
    readonly maxQueued: number,
    readonly unit = 'sequences',
    readonly shareRoom = 0,
  ) {}

  /** Requests holding units. */
  get numRunning(): number {
    return this.holders
  }

  get numQueued(): number {
    return this.queue.length
  }

  /** Units held, those in the room beyond the capacity included. */
  get unitsInUse(): number {
    return this.used + this.roomUsed
  }

  /**
   * Resolves with a release function once `units` are free (more than the capacity is clamped to it, so any
   * request can run alone). Waiters are served in arrival order, so a big request is not overtaken forever.
   * Throws an UnavailableError when the queue is full, and the abort reason when `signal` aborts while it waits.
   */
  async acquire(signal: AbortSignal, units = 1): Promise<Grant> {
    signal.throwIfAborted()
    const wanted = Math.max(1, Math.min(units, this.capacity))
    if (this.queue.length === 0 && this.used + wanted <= this.capacity) return this.take(wanted)
    if (wanted * (this.holders + 1) <= this.capacity && this.roomUsed + wanted <= this.shareRoom) return this.takeRoom(wanted)
    if (this.queue.length >= this.maxQueued)
      throw new UnavailableError(
        `The server is overloaded: ${this.used} of ${this.capacity} ${this.unit} in use by ${this.holders} requests, ` +
          `${this.queue.length} waiting. Retry later.`,
        {code: 'server_overloaded'},
      )
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        units: wanted,
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        cancel: reject,
      }
      const onAbort = () => {
        this.queue.splice(this.queue.indexOf(waiter), 1)
        waiter.cancel(signal.reason)
        this.grantWaiters() // a big waiter leaving may unblock smaller ones behind it
      }
      signal.addEventListener('abort', onAbort, {once: true})
      this.queue.push(waiter)
    })
    return this.releaser(wanted)
  }

  private take(units: number): Grant {
    this.used += units
    this.holders += 1
    return this.releaser(units)
  }

  /** A grant from the room beyond the capacity: given back there, never to the capacity's waiters. */
  private takeRoom(units: number): Grant {
    this.roomUsed += units
    this.holders += 1
    let released = false
    const release = (() => {
      if (released) return
      released = true
      this.roomUsed -= units
      this.holders -= 1
    }) as Grant
    // Its units are already within a share; giving some back early would change nothing for the waiters.
    release.shrinkTo = () => {}
    return release
  }

  /** Hands freed units to waiters in order; a granted waiter's units are counted here, before it resumes. */
  private grantWaiters(): void {
    while (this.queue.length > 0 && this.used + this.queue[0]!.units <= this.capacity) {
      const next = this.queue.shift()!
      this.used += next.units
      this.holders += 1
      next.grant()
    }
  }

  private releaser(units: number): Grant {
    let held = units
    let released = false
    const release = (() => {
      if (released) return
      released = true
      this.used -= held
      this.holders -= 1
      this.grantWaiters()
    }) as Grant
    release.shrinkTo = (wanted: number) => {
      const keep = Math.max(1, wanted)
      if (released || keep >= held) return
      this.used -= held - keep
      held = keep
      this.grantWaiters()
    }
    return release
  }
}
