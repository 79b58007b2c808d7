// Edge cases of the engine core found by (or written next to) the engine fuzz test: each runs a stressed engine
// against a roomy synchronous one and checks that nothing leaks, hangs or differs.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {compareRuns, fuzzEngineConfig, runWorkload} from './support/engine-fuzz-run.js'
import type {FuzzRequest} from './support/engine-fuzz-workload.js'

const ROOMY: Partial<EngineConfig> = {hostOverlap: 'none', numBlocks: 4096, maxNumBatchedTokens: 8192, enablePrefixCaching: false}

const prompt = (length: number, salt = 0) => Array.from({length}, (_, t) => 3 + ((t * 37 + salt * 101) % 500))
const request = (promptIds: number[], params: Partial<SamplingParams>, extra: Partial<FuzzRequest> = {}): FuzzRequest => ({
  prompt: promptIds,
  params: makeSamplingParams(params),
  arriveAfterStep: 0,
  abort: {kind: 'none'},
  ...extra,
})

describe('engine stress edge cases', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  /** Runs the requests stressed and roomy; outputs must match and the stressed engine must end clean. */
  async function differential(requests: FuzzRequest[], stressed: Partial<EngineConfig>) {
    const blockSize = stressed.blockSize ?? 16
    const plain = requests.map((r) => ({...r, arriveAfterStep: 0, abort: {kind: 'none'} as const}))
    const reference = await runWorkload(fuzzEngineConfig(modelDir, {...ROOMY, blockSize}), plain)
    const run = await runWorkload(fuzzEngineConfig(modelDir, stressed), requests)
    return {run, ...compareRuns(requests, reference, run)}
  }

  it('beams step together when the step budget cannot hold every beam of every request', async () => {
    // Two requests of 3 beams share steps of 5 tokens: the second's beams were scheduled 2 of 3, and the beam search
    // got candidates for 2 of its 3 live beams ("3 live beams but candidates for 2").
    const beams = {temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 8, ignoreEos: true}
    const {rejected} = await differential([request(prompt(10), beams), request(prompt(12, 1), beams)], {maxNumBatchedTokens: 5, enableChunkedPrefill: true})
    assert.equal(rejected, 0)
  })

  it('a beam width over the step budget is refused at admission', async () => {
    const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {maxNumBatchedTokens: 2}))
    try {
      const params = makeSamplingParams({temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 8})
      assert.throws(() => engine.addRequest({prompt: prompt(10), params}), (error: unknown) => error instanceof InvalidRequestError && /beam width 3 exceeds --max-num-batched-tokens 2/.test(error.message))
      engine.checkKvInvariants()
    } finally {
      await engine.shutdown()
    }
  })

  it('beams re-admitted after recompute preemption finish their recompute in the same step', async () => {
    // The beam group, last in, is preempted by recompute; each beam recomputes prompt + output, and chunked by a
    // 7-token budget they reached their ends in different steps ("3 live beams but candidates for 1").
    const greedy = {temperature: 0, maxTokens: 40, ignoreEos: true}
    const beams = {temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 40, ignoreEos: true}
    const {run, rejected} = await differential(
      [request(prompt(30, 2), greedy), request(prompt(25, 4), greedy), request(prompt(22, 5), greedy), request(prompt(20, 1), beams)],
      {maxNumBatchedTokens: 7, enableChunkedPrefill: true, numBlocks: 38, blockSize: 4, preemptionMode: 'recompute', enablePrefixCaching: false},
    )
    assert.equal(rejected, 0)
    assert.ok(run.numPreemptions > 0, 'the pool is small enough to preempt')
  })
})
