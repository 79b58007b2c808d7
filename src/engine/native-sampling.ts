// Sampling in the backend: the one rule for which sampled rows the backend draws, the flat arrays that ask it
// (native/src/sampling_input.cpp reads them), and its answers turned back into SampleResults.
//
// A row is sampled in the backend unless JS needs its logits: beam search (ranks candidates across beams),
// speculative verification (samples a sequence's rows in order, each draw after the previous token), prompt
// logprobs (their samples stay in JS for now; the prompt rows themselves are ranked in the step), and constrained
// rows (grammar, allowed_token_ids, bad_words: their masks come from the grammar worker and SequenceGuides).
// Everything else returns only token ids and the logprobs the request asked for; its logits row never reaches JS.
// PAGEDLLM_SAMPLER=js sends every row to the JS sampler (the reference), for measurements and debugging.
import type {LogitsRows} from './model-runner.js'
import type {ScheduledSequence} from './scheduler.js'
import {seedWords} from './philox.js'
import type {SampleRequest, SampleResult} from './sampler.js'
import {isGreedy, type SamplingParams} from './sampling-params.js'
import type {Sequence, SequenceGroup, TokenLogprobs} from './sequence.js'

/** What one step asks the backend to sample; field order matches native/src/sampling_input.cpp. */
export interface NativeSamplingArrays {
  /** Per sample: row, topK, numLogprobs, seedLow, seedHigh, stream, position, then [begin, end) of prompt, output and
   * suppressed ids in tokenIds, [begin, end) in biasIds, and the mask index (-1 = none). */
  ints: Int32Array
  /** Per sample: temperature, topP, minP, presencePenalty, frequencyPenalty, repetitionPenalty. */
  floats: Float64Array
  tokenIds: Int32Array
  biasIds: Int32Array
  biasValues: Float64Array
  /** Allowed-token bitmasks, ceil(vocab / 32) words each. */
  masks: Int32Array
  /** Slots per sample in the top-logprob answers: the most logprobs asked + 1. */
  topStride: number
  /** Logits rows JS still reads; the step returns exactly these, compactly, in this order. */
  hostRows: Int32Array
}

/** The backend's answers, sample by sample. */
export interface NativeSampledArrays {
  tokenIds: Int32Array
  logprobs: Float64Array
  topCounts: Int32Array
  topIds: Int32Array
  topLogprobs: Float64Array
}

/** The samples a step asks the backend for, and per scheduled entry the index of its first one (-1: JS samples it). */
export interface SamplingPlan {
  arrays: NativeSamplingArrays
  firstSample: Int32Array
}

const INT_FIELDS = 16
const FLOAT_FIELDS = 6

/** Whether the backend samples at all (PAGEDLLM_SAMPLER=js: never). */
export function backendSamplingEnabled(): boolean {
  return process.env.PAGEDLLM_SAMPLER !== 'js'
}

/** THE rule: a scheduled row is sampled in the backend unless JS needs its logits (see the file header). */
export function samplesInBackend(params: SamplingParams, draftTokens: number): boolean {
  return (
    !params.useBeamSearch &&
    draftTokens === 0 &&
    params.promptLogprobs === null &&
    params.guided === null &&
    params.allowedTokenIds === null &&
    params.badWords.length === 0
  )
}

/**
 * Before a step: the samples the backend draws (samplesInBackend decides; `requestsOf` gives an entry's requests, several
 * for a best_of request's first sample), with every row JS still reads as a host row; null when JS samples everything.
 */
export function planBackendSampling(
  scheduled: readonly ScheduledSequence[],
  rows: readonly LogitsRows[],
  requestsOf: (group: SequenceGroup, seq: Sequence, row: number) => SampleRequest[],
): SamplingPlan | null {
  const requests: SampleRequest[] = []
  const hostRows = new Set<number>()
  const firstSample = new Int32Array(scheduled.length).fill(-1)
  scheduled.forEach((entry, i) => {
    const row = rows[i]!
    if (entry.samples && samplesInBackend(entry.group.params, entry.draftTokenIds.length)) {
      firstSample[i] = requests.length
      requests.push(...requestsOf(entry.group, entry.seq, row.sampleRow))
      return
    }
    if (entry.samples) for (const r of [row.sampleRow, ...row.draftRows]) hostRows.add(r)
  })
  if (requests.length === 0) return null
  return {arrays: encodeSampleRequests(requests, [...hostRows].sort((a, b) => a - b)), firstSample}
}

/** Flattens sample requests (rows as the step numbers them) for the backend; masks are passed when a request has one. */
export function encodeSampleRequests(requests: readonly SampleRequest[], hostRows: readonly number[]): NativeSamplingArrays {
  const ints = new Int32Array(requests.length * INT_FIELDS)
  const floats = new Float64Array(requests.length * FLOAT_FIELDS)
  const tokenIds: number[] = []
  // logit_bias crosses as its typed arrays: one request's as they are, several copied whole (one set each), never
  // walked key by key each step.
  const biased = requests.filter((request) => request.params.logitBias !== null && request.params.logitBias.ids.length > 0)
  const only = biased.length === 1 ? biased[0]!.params.logitBias : null
  const biasCount = biased.reduce((sum, request) => sum + request.params.logitBias!.ids.length, 0)
  const biasIds = only?.ids ?? new Int32Array(biasCount)
  const biasValues = only?.values ?? new Float64Array(biasCount)
  let biasEnd = 0
  const masks: Int32Array[] = []
  let topStride = 1
  const pushTokens = (ids: readonly number[], from = 0, to = ids.length): [number, number] => {
    const begin = tokenIds.length
    for (let i = from; i < to; i++) tokenIds.push(ids[i]!)
    return [begin, tokenIds.length]
  }
  requests.forEach((request, i) => {
    const {params} = request
    const [seedLow, seedHigh] = seedWords(request.seed)
    // Token lists cross only when a penalty reads them.
    const {tokenIds: sequenceIds, promptLength} = request
    const prompt = pushTokens(sequenceIds, 0, params.repetitionPenalty !== 1 ? promptLength : 0)
    const penalized = params.repetitionPenalty !== 1 || params.frequencyPenalty !== 0 || params.presencePenalty !== 0
    const output = pushTokens(sequenceIds, promptLength, penalized ? sequenceIds.length : promptLength)
    const suppress = pushTokens(request.suppressTokenIds)
    const biasBegin = biasEnd
    if (params.logitBias !== null && params.logitBias.ids.length > 0) {
      if (only === null) {
        biasIds.set(params.logitBias.ids, biasEnd)
        biasValues.set(params.logitBias.values, biasEnd)
      }
      biasEnd += params.logitBias.ids.length
    }
    let maskIndex = -1
    if (request.allowedMask) {
      maskIndex = masks.length
      masks.push(request.allowedMask)
    }
    if (params.logprobs !== null) topStride = Math.max(topStride, params.logprobs + 1)
    ints.set([request.row, params.topK, params.logprobs ?? -1, seedLow | 0, seedHigh | 0, request.stream, sequenceIds.length - promptLength,
      ...prompt, ...output, ...suppress, biasBegin, biasEnd, maskIndex], i * INT_FIELDS)
    floats.set([isGreedy(params) ? 0 : params.temperature, params.topP, params.minP, params.presencePenalty, params.frequencyPenalty, params.repetitionPenalty], i * FLOAT_FIELDS)
  })
  const maskWords = masks[0]?.length ?? 0
  const flatMasks = new Int32Array(masks.length * maskWords)
  masks.forEach((mask, i) => flatMasks.set(mask, i * maskWords))
  return {
    ints,
    floats,
    tokenIds: Int32Array.from(tokenIds),
    biasIds,
    biasValues,
    masks: flatMasks,
    topStride,
    hostRows: Int32Array.from(hostRows),
  }
}

/** The index-th backend sample as the JS sampler reports one (topLogprobs only when the request asked). */
export function sampledResult(sampled: NativeSampledArrays, index: number, stride: number, params: SamplingParams): SampleResult {
  let topLogprobs: TokenLogprobs | null = null
  if (params.logprobs !== null) {
    topLogprobs = new Map()
    for (let j = 0; j < sampled.topCounts[index]!; j++) topLogprobs.set(sampled.topIds[index * stride + j]!, sampled.topLogprobs[index * stride + j]!)
  }
  return {tokenId: sampled.tokenIds[index]!, logprob: sampled.logprobs[index]!, topLogprobs}
}

/** Row numbers of the step's logits -> rows of the compact logits it returned (hostRows order); -1 where absent. */
export function compactRows(rows: readonly LogitsRows[], hostRows: Int32Array): LogitsRows[] {
  const compact = new Map<number, number>()
  hostRows.forEach((row, i) => compact.set(row, i))
  const at = (row: number) => compact.get(row) ?? -1
  return rows.map((row) => ({
    sampleRow: row.sampleRow < 0 ? -1 : at(row.sampleRow),
    draftRows: row.draftRows.map(at),
  }))
}
