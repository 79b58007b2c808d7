// Comparing a model's logits with a reference's: log-softmax, the worst logprob error over the reference's top 10, and seeded random prompts.
import {SeededRandom} from '../../src/engine/model/seeded-random.js'

export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i])
  let sum = 0
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max)
  const logZ = max + Math.log(sum)
  return Float64Array.from(logits, (v) => v - logZ)
}

/** Max |logprob error| of `actual` over the top-10 tokens of `expected`. */
export function topLogprobError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  const a = logSoftmax(actual)
  const e = logSoftmax(expected)
  const top = [...e.keys()].sort((i, j) => e[j] - e[i]).slice(0, 10)
  return Math.max(...top.map((i) => Math.abs(a[i] - e[i])))
}

/** BOS (id 1) then length - 1 seeded random ids from 5 up. */
export function randomPrompt(length: number, vocabSize: number, seed: number): number[] {
  const random = new SeededRandom(seed)
  return [1, ...Array.from({length: length - 1}, () => 5 + random.nextInt(vocabSize - 5))]
}
