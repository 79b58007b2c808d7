// Workload pieces: synthetic length traces, sampling a user's dataset, and token-id prompts of the traced lengths.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {buildBenchRequests} from '../src/bench/prompts.js'
import {syntheticTrace} from '../src/bench/synthetic-trace.js'
import {sampleTraceFromPairs} from '../src/bench/trace.js'
import {buildWorkload} from '../src/bench/workload.js'
import {InvalidRequestError} from '../src/engine/errors.js'

const words = (text: string) => text.split(/\s+/).filter(Boolean).map((word) => word.length)
const repeat = (n: number) => Array.from({length: n}, () => 'w').join(' ')

describe('synthetic traces', () => {
  const base = {inputLen: 100, outputLen: 50, rangeRatio: 0.2, numPrompts: 2000, seed: 1}

  it('a workload none of whose requests fits the context is refused, not run as zero requests (NaN tables)', () => {
    const options = {trace: 'synthetic' as const, numPrompts: 2, seed: 0, synthetic: {inputLen: 100_000, outputLen: 8, spread: 'fixed' as const, rangeRatio: 0}}
    assert.throws(() => buildWorkload(options, null, 512), /^InvalidRequestError: no synthetic request fits the 512 tokens the engine or servers hold: lower --input-len \/ --output-len$/)
    assert.equal(buildWorkload({...options, synthetic: {...options.synthetic, inputLen: 100}}, null, 512).trace.length, 2)
  })

  it('fixed gives the means exactly', () => {
    assert.ok(syntheticTrace({...base, spread: 'fixed'}).every((r) => r.promptLen === 100 && r.outputLen === 50))
  })

  it('uniform stays within mean*(1 +- ratio) and is seeded', () => {
    const trace = syntheticTrace({...base, spread: 'uniform'})
    assert.ok(trace.every((r) => r.promptLen >= 80 && r.promptLen <= 120 && r.outputLen >= 40 && r.outputLen <= 60))
    assert.deepEqual(trace, syntheticTrace({...base, spread: 'uniform'}))
  })

  it('exponential has about the given mean and a long tail', () => {
    const trace = syntheticTrace({...base, spread: 'exponential'})
    const meanPrompt = trace.reduce((sum, r) => sum + r.promptLen, 0) / trace.length
    assert.ok(Math.abs(meanPrompt / 100 - 1) < 0.08, `mean ${meanPrompt}`)
    assert.ok(Math.max(...trace.map((r) => r.promptLen)) > 300)
  })
})

describe("sampling a user's dataset", () => {
  const pairs = [
    {prompt: repeat(2), completion: repeat(10)}, // too short
    {prompt: repeat(10), completion: repeat(10)},
    {prompt: repeat(20), completion: repeat(30)},
    {prompt: repeat(40), completion: repeat(100)}, // longer than the engine holds below
    {prompt: repeat(5), completion: repeat(6)},
  ]

  it('keeps the prompt tokens and applies the filter and the engine limit', () => {
    const trace = sampleTraceFromPairs(pairs, words, {numPrompts: 3, seed: 0, maxTotalTokens: 100})
    assert.deepEqual(trace.map((r) => r.promptLen).sort((a, b) => a - b), [5, 10, 20])
    assert.ok(trace.every((r) => r.promptTokenIds?.length === r.promptLen))
  })

  it('says so when too few pairs are usable', () => {
    assert.throws(() => sampleTraceFromPairs(pairs, words, {numPrompts: 4, seed: 0, maxTotalTokens: 100}), InvalidRequestError)
  })
})

describe('bench prompts', () => {
  const vocab = {vocabSize: 50, specialTokenIds: new Set([0, 1, 2])}
  const trace = [{promptLen: 30, outputLen: 7}, {promptLen: 3, outputLen: 9, promptTokenIds: [9, 8, 7]}]

  it('draws seeded random ids of the traced length from the vocab, never special tokens', () => {
    const requests = buildBenchRequests(trace, [0, 0.5], vocab, 4)
    assert.equal(requests[0].promptTokenIds.length, 30)
    assert.ok(requests[0].promptTokenIds.every((id) => id >= 3 && id < 50))
    assert.deepEqual(requests[1].promptTokenIds, [9, 8, 7])
    assert.deepEqual(requests.map((r) => [r.outputLen, r.arrivalOffset]), [[7, 0], [9, 0.5]])
    assert.deepEqual(buildBenchRequests(trace, [0, 0.5], vocab, 4), requests)
    assert.notDeepEqual(buildBenchRequests(trace, [0, 0.5], vocab, 5)[0].promptTokenIds, requests[0].promptTokenIds)
  })
})
