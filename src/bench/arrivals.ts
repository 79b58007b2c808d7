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

/**
 * Below one request per 1000 s a run takes hours per request, and gaps past 2^31 ms (rates near 1e-9) overflow node's
 * timers, which then fire at once: the run would silently become offline.
 */
export const MIN_REQUEST_RATE = 0.001

/** Parses "inf" or a decimal number of requests per second, at least MIN_REQUEST_RATE. */
export function parseRequestRate(text: string): number {
  const trimmed = text.trim().toLowerCase()
  const rate = trimmed === 'inf' || trimmed === 'infinity' ? Infinity : /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!(rate > 0)) throw new InvalidRequestError(`request rate must be a positive number or "inf", got "${text}"`, {param: 'request-rate'})
  if (rate < MIN_REQUEST_RATE) throw new InvalidRequestError(`request rate ${text} is below ${MIN_REQUEST_RATE} req/s (one request per 1000 s)`, {param: 'request-rate'})
  return rate
}

/** Parses a comma-separated sweep such as "1,2,4,inf": at least one rate, none twice. */
export function parseRequestRates(text: string): number[] {
  const rates = text.split(',').filter((part) => part.trim() !== '').map(parseRequestRate)
  if (rates.length === 0) throw new InvalidRequestError(`--request-rates: no rate in "${text}" (e.g. 1,2,4,inf)`, {param: 'request-rates'})
  const repeated = rates.find((rate, index) => rates.indexOf(rate) !== index)
  if (repeated !== undefined) throw new InvalidRequestError(`--request-rates: ${repeated === Infinity ? 'inf' : repeated} is given twice`, {param: 'request-rates'})
  return rates
}
