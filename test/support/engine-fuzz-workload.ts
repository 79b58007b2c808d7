// fast-check arbitraries for the engine fuzz test: workloads (requests, arrivals, aborts) and stressful engine configs.
import fc from 'fast-check'
import type {EngineConfig} from '../../src/engine/config.js'
import type {GuidedSpec} from '../../src/engine/guided/guided-spec.js'
import {makeSamplingParams, type SamplingParams} from '../../src/engine/sampling-params.js'

/** The tiny test model's vocabulary. */
const VOCAB = 512
export const CHOICE_SPEC: GuidedSpec = {kind: 'choice', choices: ['yes', 'no', 'maybe so'], param: 'guided_choice'}

/** When a request is aborted: never, right after it is added, after k outputs it streamed, at step s, after it finished. */
export type AbortPoint = {kind: 'none'} | {kind: 'before'} | {kind: 'afterOutputs'; outputs: number} | {kind: 'atStep'; step: number} | {kind: 'afterFinish'}

export interface FuzzRequest {
  prompt: number[]
  params: SamplingParams
  /** 0: added before the engine starts; k: added right after the engine's k-th step (or once it is idle). */
  arriveAfterStep: number
  abort: AbortPoint
}

const tokens = (length: number) => fc.array(fc.integer({min: 3, max: VOCAB - 1}), {minLength: length, maxLength: length})

/** null 3 times in 4: options that end or slow a request early stay a minority, so pools fill up. */
const rarely = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.oneof({weight: 3, arbitrary: fc.constant(null)}, {weight: 1, arbitrary: value})

/** Sampling options: one of the kinds the engine treats differently, with random stops, penalties and logprobs mixed in. */
const paramsArb: fc.Arbitrary<SamplingParams> = fc
  .record({
    kind: fc.constantFrom('greedy', 'greedy', 'seeded', 'seeded', 'parallel', 'bestOf', 'beam', 'guided'),
    seed: fc.integer({min: 0, max: 1 << 20}),
    maxTokens: fc.oneof({weight: 1, arbitrary: fc.constant(1)}, {weight: 2, arbitrary: fc.integer({min: 1, max: 24})}, {weight: 4, arbitrary: fc.integer({min: 24, max: 64})}),
    minTokens: fc.constantFrom(0, 0, 3),
    ignoreEos: fc.constantFrom(true, true, false),
    stopIds: rarely(fc.array(fc.integer({min: 3, max: VOCAB - 1}), {minLength: 1, maxLength: 30})),
    stop: rarely(fc.constantFrom(['e'], ['a', 'o'], ['th'], [' '])),
    includeStop: fc.boolean(),
    penalties: fc.boolean(),
    logprobs: fc.option(fc.constantFrom(0, 1, 3)),
    promptLogprobs: rarely(fc.constantFrom(0, 2)),
    topK: fc.constantFrom(0, 5, 40),
    topP: fc.constantFrom(1, 0.9),
    minP: fc.constantFrom(0, 0.05),
    n: fc.integer({min: 2, max: 4}),
    extra: fc.integer({min: 0, max: 2}),
    logitBias: fc.boolean(),
  })
  .map((r) => {
    const sampled = {temperature: 0.9, seed: r.seed, topK: r.topK, topP: r.topP, minP: r.minP}
    const common = {
      maxTokens: r.maxTokens,
      minTokens: Math.min(r.minTokens, r.maxTokens),
      ignoreEos: r.ignoreEos,
      logprobs: r.logprobs,
      promptLogprobs: r.promptLogprobs,
      ...(r.stopIds === null ? {} : {stopTokenIds: r.stopIds}),
      ...(r.stop === null ? {} : {stop: [...r.stop], includeStopStrInOutput: r.includeStop}),
      ...(r.penalties ? {repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.3} : {}),
      ...(r.logitBias ? {logitBias: {7: 4, 9: -100}} : {}),
    }
    switch (r.kind) {
      case 'greedy':
        return makeSamplingParams({...common, temperature: 0})
      case 'seeded':
        return makeSamplingParams({...common, ...sampled})
      case 'parallel':
        return makeSamplingParams({...common, ...sampled, n: r.n})
      case 'bestOf':
        return makeSamplingParams({...common, ...sampled, n: r.n - 1, bestOf: r.n + r.extra})
      case 'beam':
        return makeSamplingParams({...common, temperature: 0, useBeamSearch: true, n: r.n - 1, bestOf: r.n, stop: [], logprobs: null})
      default:
        return makeSamplingParams({...common, ...sampled, guided: CHOICE_SPEC, stop: [], stopTokenIds: []})
    }
  })

const abortArb: fc.Arbitrary<AbortPoint> = fc.oneof(
  {weight: 10, arbitrary: fc.constant({kind: 'none'} as const)},
  {weight: 1, arbitrary: fc.constant({kind: 'before'} as const)},
  {weight: 1, arbitrary: fc.integer({min: 1, max: 6}).map((outputs) => ({kind: 'afterOutputs', outputs}) as const)},
  {weight: 2, arbitrary: fc.integer({min: 1, max: 12}).map((step) => ({kind: 'atStep', step}) as const)},
  {weight: 1, arbitrary: fc.constant({kind: 'afterFinish'} as const)},
)

/** 2-12 requests; prompts are fresh, share a prefix with the first prompt, or repeat an earlier prompt exactly. */
export const workloadArb: fc.Arbitrary<{pressure: boolean; requests: FuzzRequest[]}> = fc
  .tuple(
    fc.boolean(),
    tokens(40),
    fc.array(
      fc.record({
        promptKind: fc.constantFrom('fresh', 'fresh', 'sharedPrefix', 'same'),
        prefixLength: fc.integer({min: 1, max: 40}),
        own: fc.integer({min: 1, max: 50}).chain(tokens),
        params: paramsArb,
        arriveAfterStep: fc.oneof({weight: 3, arbitrary: fc.constant(0)}, {weight: 1, arbitrary: fc.integer({min: 1, max: 15})}),
        abort: abortArb,
      }),
      {minLength: 2, maxLength: 12},
    ),
  )
  .map(([pressure, prefix, drafts]) => {
    const requests: FuzzRequest[] = []
    for (const draft of drafts) {
      // Half the workloads run every request to a long max_tokens, all at once: pools fill and preempt.
      const params = pressure ? {...draft.params, ignoreEos: true, stop: [], stopTokenIds: [], maxTokens: Math.max(draft.params.maxTokens, 40)} : draft.params
      const arriveAfterStep = pressure ? Math.min(draft.arriveAfterStep, 2) : draft.arriveAfterStep
      const earlier = requests.at(-1)
      const prompt =
        draft.promptKind === 'same' && earlier !== undefined
          ? [...earlier.prompt]
          : draft.promptKind === 'sharedPrefix'
            ? [...prefix.slice(0, draft.prefixLength), ...draft.own]
            : draft.own
      requests.push({prompt, params, arriveAfterStep, abort: draft.abort})
    }
    return {pressure, requests}
  })

/** Engine configs under stress: tight pools (recompute, swap, no swap space), tiny token budgets, every policy and overlap. */
export const configArb = fc.record({
  policy: fc.constantFrom('paged', 'paged', 'paged', 'paged', 'paged', 'orca-max', 'orca-pow2', 'orca-oracle', 'contiguous'),
  blockSize: fc.constantFrom(1, 2, 4, 16, 32),
  /** The pool holds this share of what all requests need at their longest (at least what the largest one needs). */
  poolShare: fc.constantFrom(0, 0.2, 0.35, 0.6),
  /** Chunked prefill with a budget of a few tokens, or whole prompts in one step (96: every prompt, not every recompute). */
  chunkedBudget: fc.option(fc.constantFrom(3, 8, 17, 64), {freq: 4}),
  wholeBudget: fc.constantFrom(96, 512),
  maxNumSeqs: fc.constantFrom(1, 6, 256, 256, 256, 256),
  preemptionMode: fc.constantFrom('recompute', 'swap', 'auto'),
  swapSpaceBytes: fc.constantFrom(0, 1 << 12, 1 << 16, 1 << 22),
  enablePrefixCaching: fc.boolean(),
  /** Blocks kept free at admission: 0.1 keeps a few even in the small pools here. */
  watermark: fc.constantFrom(0.01, 0.1),
  hostOverlap: fc.constantFrom('async', 'async', 'async', 'outputs', 'none'),
  /** One run in four, the backend fails this native step. */
  failNativeCall: rarely(fc.record({when: fc.integer({min: 1, max: 30}), beforeMoves: fc.boolean()})),
}).map(({chunkedBudget, wholeBudget, poolShare, failNativeCall, ...config}) => ({
  poolShare,
  failNativeCall,
  config: {...config, enableChunkedPrefill: chunkedBudget !== null, maxNumBatchedTokens: chunkedBudget ?? wholeBudget} as Partial<EngineConfig> & {blockSize: number},
}))
