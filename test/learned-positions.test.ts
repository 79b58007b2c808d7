// Learned position embeddings (GPT-2's 512 rows, OPT's 514 read at p + 2): a position past the table is refused by name
// before anything reads it; the same host check (pagedllm/learned_positions.h) guards the CUDA backend's kernels.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel} from '../src/engine/native.js'
import {TestBlockPool, TestSequence, buildStep} from './support/paged-batch.js'

describe('learned positions', () => {
  for (const variant of ['gpt2', 'opt'] as const) {
    it(`${variant}: every position of the table runs, the next one is refused`, async () => {
      const model = await loadModel(await ensureTestModel('tiny', {variant}))
      const positions = model.config.layerNorm!.learnedPositions - model.config.layerNorm!.positionOffset
      assert.equal(positions, 512)
      const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 40, blockSize: 16, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu'})
      try {
        const pool = new TestBlockPool(40)
        const sequence = new TestSequence(Array.from({length: positions + 1}, (_, i) => 1 + (i % 200)))
        const {batch} = buildStep([{sequence, count: positions, logits: 'last'}], pool, 16)
        assert.equal((await native.step({}, batch)).length, model.config.vocabSize)
        const {batch: past} = buildStep([{sequence, count: 1, logits: 'last'}], pool, 16)
        await assert.rejects(native.step({}, past), /position 512 is beyond the learned position embeddings/)
      } finally {
        native.close()
      }
    })
  }
})
