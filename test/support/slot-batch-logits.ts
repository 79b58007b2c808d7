// The hybrid models' logit check: the fixture's prompts prefilled as one batch on state slots out of order (2, 0, 3),
// each last position's top-10 logits within 1e-4 of transformers'. Shared by the state-slot families' tests.
import assert from 'node:assert/strict'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {loadNativeModel, type WeightFormat} from '../../src/engine/native.js'
import {TestBlockPool, TestSequence, buildStep} from './paged-batch.js'
import {relativeError} from './relative-error.js'
import type {TransformersFixture} from './transformers-fixture.js'

export async function checkSlotBatchLogits(model: LoadedModel, expected: TransformersFixture): Promise<void> {
  const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: 4, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu', numStateSlots: 4})
  try {
    const parts = expected.prompts.map((p) => ({sequence: new TestSequence(p.prompt_token_ids), count: p.prompt_token_ids.length, logits: 'last' as const}))
    const {batch} = buildStep(parts, new TestBlockPool(64), 4)
    const logits = await native.step({}, {...batch, stateSlots: Int32Array.from([2, 0, 3])})
    expected.prompts.forEach((p, i) => {
      const row = logits.subarray(i * model.config.vocabSize, (i + 1) * model.config.vocabSize)
      assert.ok(relativeError(p.last_position_top10.ids.map((id) => row[id]!), p.last_position_top10.logits) < 1e-4, `prompt ${i}`)
    })
  } finally {
    native.close()
  }
}

/** Logits of every position of two seeded prompts run as one batch, each in its own state slot. */
export async function seededSlotBatchLogits(model: LoadedModel, weightFormat: WeightFormat): Promise<Float32Array> {
  const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: 4, numSwapBlocks: 0, weightFormat, threads: 2, device: 'cpu', numStateSlots: 2})
  try {
    const random = new SeededRandom(5)
    const parts = [11, 6].map((length) => {
      const tokens = [1, ...Array.from({length: length - 1}, () => 5 + random.nextInt(model.config.vocabSize - 5))]
      return {sequence: new TestSequence(tokens), count: tokens.length, logits: 'all' as const}
    })
    return await native.step({}, {...buildStep(parts, new TestBlockPool(64), 4).batch, stateSlots: Int32Array.from([1, 0])})
  } finally {
    native.close()
  }
}
