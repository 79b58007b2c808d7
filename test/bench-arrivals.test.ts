// Arrival processes: offline at t = 0, and seeded Poisson arrivals whose mean gap is 1/rate.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {arrivalTimes, parseRequestRate, parseRequestRates} from '../src/bench/arrivals.js'
import {InvalidRequestError} from '../src/engine/errors.js'

describe('arrivals', () => {
  it('sends everything at t = 0 when the rate is inf', () => {
    assert.deepEqual(arrivalTimes(4, Infinity, 0), [0, 0, 0, 0])
  })

  it('is seeded: the same seed gives the same times, another seed other times', () => {
    assert.deepEqual(arrivalTimes(100, 4, 7), arrivalTimes(100, 4, 7))
    assert.notDeepEqual(arrivalTimes(100, 4, 7), arrivalTimes(100, 4, 8))
  })

  it('has non-decreasing times with mean gap ~ 1/rate and exponential spread over 10k samples', () => {
    const rate = 2.5
    const times = arrivalTimes(10_001, rate, 42)
    const gaps = times.slice(1).map((t, i) => t - times[i])
    assert.ok(gaps.every((gap) => gap >= 0))
    const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length
    // Standard error of the mean is (1/rate)/sqrt(10k) = 1%; allow 5%.
    assert.ok(Math.abs(meanGap * rate - 1) < 0.05, `mean gap ${meanGap}`)
    // Exponential: the share of gaps above the mean is e^-1 ~ 0.368.
    const aboveMean = gaps.filter((gap) => gap > 1 / rate).length / gaps.length
    assert.ok(Math.abs(aboveMean - Math.exp(-1)) < 0.03, `share above mean ${aboveMean}`)
  })

  it('parses rates and sweeps', () => {
    assert.equal(parseRequestRate('inf'), Infinity)
    assert.equal(parseRequestRate('0.5'), 0.5)
    assert.deepEqual(parseRequestRates('1,2, 4,inf'), [1, 2, 4, Infinity])
    assert.throws(() => parseRequestRate('0'), InvalidRequestError)
    assert.throws(() => parseRequestRate('fast'), InvalidRequestError)
  })

  it('refuses rates whose gaps overflow node timers (which then fire at once), hex, an empty sweep and a rate given twice', () => {
    assert.equal(parseRequestRate('1e-3'), 0.001)
    assert.throws(() => parseRequestRate('1e-9'), /request rate 1e-9 is below 0.001 req\/s/)
    assert.throws(() => parseRequestRate('0x10'), /positive number or "inf", got "0x10"/)
    assert.throws(() => parseRequestRates(',,'), /--request-rates: no rate in ",,"/)
    assert.throws(() => parseRequestRates('1,2,1.0'), /--request-rates: 1 is given twice/)
    assert.throws(() => parseRequestRates('inf,Infinity'), /--request-rates: inf is given twice/)
  })
})
