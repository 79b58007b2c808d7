// Requests asking for the same grammar at the same moment share one compile: a compile takes seconds and a worker of
// its own, so ten clients sending one schema must not start ten. Each waiter may leave (its client disconnects)
// without stopping the compile for the others; only when the last one leaves is the compile stopped.

interface Running {
  done: Promise<void>
  waiters: number
  stop: AbortController
}

export class SharedCompiles {
  private readonly running = new Map<string, Running>()

  /** Number of compiles running now (one per id however many wait for it). */
  get size(): number {
    return this.running.size
  }

  /**
   * Waits for the compile of `id`, starting it with `start` unless one is running. `signal` ends this caller's wait
   * (rejecting with its reason); the compile's own signal aborts only when every waiter has left.
   */
  async join(id: string, start: (signal: AbortSignal) => Promise<void>, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    let run = this.running.get(id)
    if (!run) {
      const stop = new AbortController()
      const done = start(stop.signal).finally(() => {
        if (this.running.get(id) === run) this.running.delete(id)
      })
      done.catch(() => {}) // every waiter may have left; its failure is then nobody's
      run = {done, waiters: 0, stop}
      this.running.set(id, run)
    }
    run.waiters++
    try {
      await untilAborted(run.done, signal)
    } finally {
      if (--run.waiters === 0 && signal?.aborted && !run.stop.signal.aborted) {
        // The last waiter left: nobody wants this compile. A new request for it starts afresh.
        if (this.running.get(id) === run) this.running.delete(id)
        run.stop.abort(signal.reason)
      }
    }
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, {once: true})
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
