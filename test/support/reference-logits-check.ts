// Holds a test-model variant's logits at every position to the float64 reference, on the portable kernels and on AVX2.
import assert from 'node:assert/strict'
import {loadModel} from '../../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {nativeOps} from '../../src/engine/native.js'
import {promptLogits} from './model-logits.js'
import {ReferenceModel} from './reference-model.js'
import {relativeError} from './relative-error.js'

/** Every position's logits within 1e-4 (relative) of the float64 reference, on the portable kernels and on AVX2 (`dir`: a variant's model edited). */
export async function checkAgainstReference(variant: TestModelVariant, given?: string): Promise<void> {
  const dir = given ?? (await ensureTestModel('tiny', {variant}))
  const [model, reference] = [await loadModel(dir), await ReferenceModel.load(dir)]
  const ops = nativeOps()
  const avx2 = ops.avx2Status()
  try {
    for (const useAvx2 of avx2.supported ? [false, true] : [false]) {
      ops.setAvx2(useAvx2)
      const {logits, prompts} = await promptLogits(model, 'f32')
      const vocab = model.config.vocabSize
      let row = 0
      for (const prompt of prompts) {
        for (const [position, expected] of reference.logits(prompt).entries()) {
          const error = relativeError(logits.subarray(row * vocab, (row + 1) * vocab), expected)
          assert.ok(error < 1e-4, `${variant} avx2=${useAvx2}: position ${position} relative error ${error.toExponential(2)}`)
          row++
        }
      }
    }
  } finally {
    ops.setAvx2(avx2.enabled)
  }
}

