// Random sampling requests for the sampler tests and the GPU check: every parameter drawn from values the API allows.
import {bitmaskOf} from '../../src/engine/guided/token-mask.js'
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
