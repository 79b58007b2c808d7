// Random sampling requests for the sampler tests and the GPU check (every parameter drawn from values the API allows,
// or from its extremes), and model-like or hostile rows of logits for them.
import {bitmaskOf} from '../../src/engine/guided/token-mask.js'
import {makeRng} from '../../src/engine/random.js'
import type {SampleRequest} from '../../src/engine/sampler.js'
import {makeSamplingParams, type SamplingParamsInput} from '../../src/engine/sampling-params.js'

/** A random request over `numRows` rows: every parameter drawn from values the API allows. */
/** A SampleRequest's token fields from separate prompt and output lists. */
export function tokensOf(prompt: readonly number[], output: readonly number[]): Pick<SampleRequest, 'tokenIds' | 'promptLength'> {
  return {tokenIds: [...prompt, ...output], promptLength: prompt.length}
}

export function randomRequest(rng: {nextFloat(): number}, numRows: number, vocab: number): SampleRequest {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.nextFloat() * values.length)]!
  const ids = (count: number) => Array.from({length: count}, () => Math.floor(rng.nextFloat() * vocab))
  const params: SamplingParamsInput = {
    temperature: pick([0, 0.3, 0.8, 1, 1.7]),
    topK: pick([0, 0, 1, 7, 60, 1000]),
    topP: pick([1, 1, 0.95, 0.9, 0.5, 0.1]),
    minP: pick([0, 0, 0.02, 0.1, 0.5]),
    repetitionPenalty: pick([1, 1, 1.3, 0.8]),
    frequencyPenalty: pick([0, 0, 0.5, -0.7]),
    presencePenalty: pick([0, 0, 1.2, -0.4]),
    logprobs: pick([null, null, 0, 3, 20]),
    logitBias: pick([null, null, {[ids(1)[0]!]: 5, [ids(1)[0]!]: -100, [vocab + 3]: 7}]),
  }
  return {
    row: Math.floor(rng.nextFloat() * numRows),
    params: makeSamplingParams(params),
    ...tokensOf(ids(pick([0, 5, 40])), [...ids(pick([0, 3, 20])), ...ids(2).flatMap((id) => [id, id, id])]),
    seed: Math.floor(rng.nextFloat() * 2 ** 40) - 2 ** 39,
    stream: pick([0, 1, 5]),
    suppressTokenIds: pick([[], [], ids(3), [vocab + 1]]),
    allowedMask: pick([null, null, null, bitmaskOf(ids(vocab >> 2), vocab)]),
  }
}

/** Logits shaped like a model's: a few strong tokens over a Gaussian-ish floor. */
export function modelLikeLogits(numRows: number, vocab: number, seed: number): Float32Array {
  const rng = makeRng(seed, 0)
  const logits = new Float32Array(numRows * vocab)
  for (let i = 0; i < logits.length; i++) logits[i] = 2.5 * Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat())
  for (let r = 0; r < numRows; r++) for (let k = 0; k < 5; k++) logits[r * vocab + Math.floor(rng.nextFloat() * vocab)] = 8 + 4 * rng.nextFloat()
  return logits
}

/** Rows a broken or unusual model gives: ties, all equal, mostly -inf, NaN, huge magnitudes, no finite logit, +inf. */
export const HOSTILE_ROW_KINDS = ['model', 'ties', 'equal', 'neg-inf', 'nan', 'huge', 'all-neg-inf', 'pos-inf'] as const
export function hostileRow(rng: {nextFloat(): number}, kind: (typeof HOSTILE_ROW_KINDS)[number], vocab: number): Float32Array {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.nextFloat() * values.length)]!
  const int = (n: number) => Math.floor(rng.nextFloat() * n)
  const row = new Float32Array(vocab)
  for (let i = 0; i < vocab; i++) row[i] = 2.5 * Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat())
  for (let k = 0; k < 4; k++) row[int(vocab)] = 8 + 4 * rng.nextFloat()
  switch (kind) {
    case 'ties': for (let i = 0; i < vocab; i++) row[i] = Math.round(row[i]! / 2); break
    case 'equal': row.fill(pick([0, -3.5, 1e4])); break
    case 'neg-inf': for (let i = 0; i < vocab; i++) if (rng.nextFloat() < 0.7) row[i] = -Infinity; break
    case 'nan': for (let i = 0; i < vocab; i++) if (rng.nextFloat() < 0.1) row[i] = Number.NaN; break
    case 'huge': for (let i = 0; i < vocab; i++) row[i] = (rng.nextFloat() * 2 - 1) * pick([1e30, 3e38, 1e4]); break
    case 'all-neg-inf': row.fill(-Infinity); break
    case 'pos-inf': row[int(vocab)] = Infinity; row[int(vocab)] = Infinity; break
  }
  return row
}

/**
 * A request at the API's extremes: temperature 0..100 (and raw tiny ones past makeSamplingParams), top_k -1..past the
 * vocabulary, top_p 1e-9, min_p 1, +-100 biases on many (and out-of-range) ids, repetition_penalty 0.01..100 over
 * histories of up to 2500 tokens, every token suppressed, single-token masks.
 */
export function extremeRequest(rng: {nextFloat(): number}, row: number, vocab: number): SampleRequest {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.nextFloat() * values.length)]!
  const int = (n: number) => Math.floor(rng.nextFloat() * n)
  const ids = (count: number) => Array.from({length: count}, () => int(vocab))
  const biasIds = pick([0, 0, 1, 50, Math.min(vocab, 2000)])
  const bias: Record<number, number> = {}
  for (const id of ids(biasIds)) bias[id] = pick([100, -100, 0.5, -7])
  if (rng.nextFloat() < 0.3) bias[vocab + int(1000)] = pick([100, -100])
  const params: SamplingParamsInput = {
    temperature: pick([0, 1e-6, 0.01, 0.05, 0.7, 1, 2, 100]),
    topK: pick([-1, 0, 1, 2, vocab - 1, vocab, vocab + 5, 40]),
    topP: pick([1, 1, 1e-9, 0.5, 0.999999, 0.9]),
    minP: pick([0, 0, 1, 0.999, 0.3, 1e-9]),
    repetitionPenalty: pick([1, 1, 0.01, 100, 1.1, 3]),
    frequencyPenalty: pick([0, 2, -2, 0.3]),
    presencePenalty: pick([0, 2, -2, 0.5]),
    logprobs: pick([null, 0, 1, 5, 20]),
    logitBias: biasIds > 0 || Object.keys(bias).length > 0 ? bias : null,
  }
  const promptLength = pick([0, 3, 500])
  const history = ids(promptLength + pick([0, 1, 300, 2000]))
  // makeSamplingParams raises (0, 0.01) to 0.01; set some tiny ones after it so the samplers' own greedy rule is fuzzed.
  const made = makeSamplingParams(params)
  const rawTemperature = pick([null, null, null, 1e-6, 9.9e-6, 1e-5])
  return {
    row,
    params: rawTemperature === null ? made : {...made, temperature: rawTemperature},
    tokenIds: history,
    promptLength,
    seed: pick([0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, int(2 ** 31)]),
    stream: pick([0, 1, 63]),
    suppressTokenIds: pick([[], ids(5), [vocab + 1, -1], Array.from({length: vocab}, (_, i) => i)]),
    allowedMask: pick([null, null, null, bitmaskOf(ids(Math.max(1, vocab >> 3)), vocab), bitmaskOf([int(vocab)], vocab)]),
  }
}
