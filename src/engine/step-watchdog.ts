// Notices a step loop that makes no progress while work is queued, keeps the reason for /health, and logs it.

export type EngineHealth = {healthy: true} | {healthy: false; reason: string}

export interface StepWatchdogOptions {
  /** Consecutive steps that run nothing while requests are queued before the loop counts as stuck. */
  maxIdleSteps: number
  /** A single step (one native call) running longer than this counts as hung. */
  maxStepSeconds: number
  log: (message: string) => void
  /** Seconds on a monotonic clock; tests inject a fake one. */
  now: () => number
}

export class StepWatchdog {
  private idleSteps = 0
  private stuckReason: string | null = null
  private stepStartedAt: number | null = null
  private reportedHang = false

  constructor(private readonly options: StepWatchdogOptions) {}

  stepStarted(): void {
    this.stepStartedAt = this.options.now()
  }

  /**
   * Records one finished step. Returns the reason when this step makes the loop count as stuck (the
   * caller then fails the queued work, so a stuck loop neither spins nor keeps clients waiting).
   */
  stepEnded(progressed: boolean, queued: {waiting: number; running: number; swapped: number}): string | null {
    this.stepStartedAt = null
    this.reportedHang = false
    if (progressed || queued.waiting + queued.running + queued.swapped === 0) {
      if (this.stuckReason !== null) this.options.log('engine watchdog: steps make progress again; healthy')
      this.idleSteps = 0
      this.stuckReason = null
      return null
    }
    if (++this.idleSteps < this.options.maxIdleSteps) return null
    this.idleSteps = 0
    this.stuckReason =
      `the step loop ran ${this.options.maxIdleSteps} steps in a row that scheduled nothing while ` +
      `${queued.waiting} waiting, ${queued.running} running and ${queued.swapped} swapped requests were queued`
    this.options.log(`engine watchdog: ${this.stuckReason}; failing the queued requests`)
    return this.stuckReason
  }

  health(): EngineHealth {
    if (this.stepStartedAt !== null) {
      const seconds = this.options.now() - this.stepStartedAt
      if (seconds > this.options.maxStepSeconds) {
        const reason = `a model step has been running for ${seconds.toFixed(0)} s (limit ${this.options.maxStepSeconds} s)`
        if (!this.reportedHang) this.options.log(`engine watchdog: ${reason}`)
        this.reportedHang = true
        return {healthy: false, reason}
      }
    }
    return this.stuckReason === null ? {healthy: true} : {healthy: false, reason: this.stuckReason}
  }
}
