// Logits of every position of two seeded-random prompts run as one CPU batch, to compare two loads of the same weights.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {loadNativeModel, type WeightFormat} from '../../src/engine/native.js'
import {TestBlockPool, TestSequence, buildStep} from './paged-batch.js'
import {argmax} from './reference-model.js'

const BLOCK_SIZE = 4

/**
 * Logits of every position of the prompts (two seeded ones of 13 and 6 tokens by default) run as one batch, the prompts,
 * and the resident size of the weights. A hybrid model's prompts each take a recurrent state slot of their own.
 */
export async function promptLogits(model: LoadedModel, weightFormat: WeightFormat, given?: number[][]): Promise<{logits: Float32Array; prompts: number[][]; weightBytes: number}> {
  const random = new SeededRandom(5)
  const prompts = given ?? [13, 6].map((length) => [1, ...Array.from({length: length - 1}, () => 5 + random.nextInt(model.config.vocabSize - 5))])
  const slots = model.config.hybrid ? prompts.length : 0
  const native = await loadNativeModel({
    config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: BLOCK_SIZE, numSwapBlocks: 0, weightFormat, threads: 2, device: 'cpu', ...(slots > 0 ? {numStateSlots: slots} : {}),
  })
  try {
    const parts = prompts.map((tokens) => ({sequence: new TestSequence(tokens), count: tokens.length, logits: 'all' as const}))
    const {batch} = buildStep(parts, new TestBlockPool(64), BLOCK_SIZE)
    const logits = await native.step({}, slots > 0 ? {...batch, stateSlots: Int32Array.from(prompts.keys())} : batch)
    return {logits, prompts, weightBytes: native.info.weightBytes}
  } finally {
    native.close()
  }
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`)
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
  return worst
}

/** `steps` greedy tokens after `prompt`, each from the last position's f32 logits of the whole sequence run afresh. */
export async function greedyTokens(model: LoadedModel, prompt: number[], steps = 6): Promise<number[]> {
  const tokens = [...prompt]
  for (let step = 0; step < steps; step++) {
    const {logits} = await promptLogits(model, 'f32', [tokens])
    tokens.push(argmax(logits.subarray((tokens.length - 1) * model.config.vocabSize)))
  }
  return tokens.slice(prompt.length)
}
