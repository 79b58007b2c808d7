// Random sampling requests for the sampler tests and the GPU check (every parameter drawn from values the API allows),
// and model-like rows of logits for them.
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
