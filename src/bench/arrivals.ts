// Request arrival times: offline (everything at t = 0) or a seeded Poisson process at a given rate.
import {InvalidRequestError} from '../engine/errors.js'
import {BenchRandom} from './random.js'

/**
 * Arrival offsets in seconds from the start of the run. rate = Infinity sends all at t = 0 (vLLM's
 * default); otherwise gaps are Exp(mean 1/rate), so arrivals form a Poisson process.
 */
export function arrivalTimes(count: number, rate: number, seed: number): number[] {
  if (!(rate > 0)) throw new InvalidRequestError(`request rate must be > 0 or inf, got ${rate}`, {param: 'request-rate'})
  if (rate === Infinity) return new Array<number>(count).fill(0)
  const random = new BenchRandom(seed)
  const times: number[] = []
  let now = 0
  for (let i = 0; i < count; i++) {
    times.push(now)
    now += random.exponential(1 / rate)
  }
  return times
}

/** Parses "inf" or a positive number (requests per second). */
export function parseRequestRate(text: string): number {
  const trimmed = text.trim().toLowerCase()
  const rate = trimmed === 'inf' || trimmed === 'infinity' ? Infinity : Number(trimmed)
  if (!(rate > 0)) throw new InvalidRequestError(`request rate must be a positive number or "inf", got "${text}"`, {param: 'request-rate'})
  return rate
}

/** Parses a comma-separated sweep such as "1,2,4,inf". */
export function parseRequestRates(text: string): number[] {
  return text.split(',').filter((part) => part.trim() !== '').map(parseRequestRate)
}
