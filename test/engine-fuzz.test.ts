// Randomized differential test of the engine core: seeded workloads (every sampling kind, shared prefixes, arrivals
// between steps, aborts at any point) on stressed configs (tight pools, tiny token budgets, every policy, async
// scheduling) return exactly what a roomy synchronous engine returns, and leave no block, request or loop behind.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import fc from 'fast-check'
import type {EngineConfig} from '../src/engine/config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {liveBlockBound} from '../src/engine/window-blocks.js'
import {compareRuns, fuzzEngineConfig, runWorkload} from './support/engine-fuzz-run.js'
import {configArb, workloadArb, type FuzzRequest} from './support/engine-fuzz-workload.js'

/**
 * Fixed, so a failure reproduces; PAGEDLLM_FUZZ_SEED / _RUNS explore further by hand (_VERBOSE prints each run,
 * _SHRINK minimizes a failure).
 */
const SEED = Number(process.env.PAGEDLLM_FUZZ_SEED ?? 20261201)
const NUM_RUNS = Number(process.env.PAGEDLLM_FUZZ_RUNS ?? 24)

/**
 * Everything at once, all host work between steps, a pool no workload fills: nothing is preempted, chunked or shared.
 * The block size is the stressed run's: attention sums block by block, so another size moves logprobs in the last bits.
 */
const REFERENCE: Partial<EngineConfig> = {
  hostOverlap: 'none',
  policy: 'paged',
  numBlocks: 1 << 14,
  maxNumBatchedTokens: 8192,
  maxNumSeqs: 256,
  enablePrefixCaching: false,
  preemptionMode: 'recompute',
  // It never preempts, so it needs no swap space: the default 1 GiB is a 131,072-block pool to build and check each run.
  swapSpaceBytes: 0,
}

/**
 * A share of what all requests need at their longest, but at least what the largest needs alone: tight enough to preempt.
 * With a sliding window on every layer a paged sequence needs only the blocks it holds at once (window-blocks.ts).
 */
function tightPool(requests: readonly FuzzRequest[], config: Partial<EngineConfig>, poolShare: number, window: number): number {
  const blockSize = config.blockSize!
  const release = {window: config.policy === 'paged' ? window : 0, chunkTokens: config.maxNumBatchedTokens!}
  const needs = requests.map(({prompt, params}) => params.bestOf * (liveBlockBound(prompt.length + params.maxTokens, release, blockSize) + 1))
  return Math.max(...needs, Math.floor(poolShare * needs.reduce((sum, need) => sum + need, 0)))
}

/** The tiny model, and the tiny Mistral (a window of 8 on every layer: stressed runs free the blocks behind it). */
for (const {variant, window, numRuns, seed} of [
  {variant: undefined, window: 0, numRuns: NUM_RUNS, seed: SEED},
  {variant: 'mistral' as const, window: 8, numRuns: Math.ceil(NUM_RUNS / 3), seed: SEED + 1},
]) describe(`engine fuzz (differential against a roomy synchronous engine)${variant ? `, ${variant}` : ''}`, () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny', variant ? {variant} : {})
  })

  it(`${numRuns} seeded workloads on stressed configs give the reference outputs and leak nothing`, async () => {
    const totals = {runs: 0, requests: 0, rejected: 0, aborted: 0, failed: 0, preemptions: 0, queuedAhead: 0}
    await fc.assert(
      fc.asyncProperty(workloadArb, configArb, async ({pressure, requests}, {poolShare, failNativeCall, config: drawn}) => {
        // Pressure workloads (long outputs, all at once) go to the policy that preempts, in the smallest pool that runs
        // them, with steps wide enough to run several requests at once.
        const config = pressure ? {...drawn, policy: 'paged' as const, maxNumSeqs: 256, maxNumBatchedTokens: Math.max(drawn.maxNumBatchedTokens!, 64)} : drawn
        const reference = await runWorkload(
          fuzzEngineConfig(modelDir, {...REFERENCE, blockSize: config.blockSize, releaseWindowBlocks: false}),
          requests.map((request) => ({...request, arriveAfterStep: 0, abort: {kind: 'none'}})),
        )
        assert.equal(reference.numPreemptions, 0, 'the reference never preempts')
        // A context of the longest request: reserving policies (orca-max) reserve that much per sequence.
        const maxModelLen = Math.max(...requests.map(({prompt, params}) => prompt.length + params.maxTokens))
        const numBlocks = tightPool(requests, config, pressure ? 0 : poolShare, window)
        const stressed = await runWorkload(fuzzEngineConfig(modelDir, {...config, numBlocks, maxModelLen}), requests, failNativeCall)
        const {rejected, aborted, failed} = compareRuns(requests, reference, stressed, failNativeCall !== null)
        if (process.env.PAGEDLLM_FUZZ_VERBOSE) console.log(pressure, config.policy, config.blockSize, numBlocks, requests.map((q) => `${q.prompt.length}+${q.params.maxTokens}x${q.params.bestOf}@${q.arriveAfterStep}${q.abort.kind}`).join(' '), 'P', stressed.numPreemptions, stressed.outcomes.map((o) => (o.kind === 'done' ? o.output.outputs.map((x) => x.tokens.length + x.finish!) : o.kind)).join(' '))
        totals.runs++
        totals.requests += requests.length
        totals.rejected += rejected
        totals.aborted += aborted
        totals.failed += failed
        totals.preemptions += stressed.numPreemptions
        totals.queuedAhead += stressed.numStepsQueuedAhead
      }),
      {seed, numRuns, endOnFailure: process.env.PAGEDLLM_FUZZ_SHRINK === undefined, includeErrorInReport: true},
    )
    console.log(`engine fuzz: ${JSON.stringify(totals)}`)
    // The workloads must actually stress what they claim to.
    assert.ok(totals.preemptions > 0 && totals.queuedAhead > 0 && totals.aborted > 0 && totals.failed > 0, JSON.stringify(totals))
  })
})
