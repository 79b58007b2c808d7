// Every block format decodes random blocks exactly as its format says, IQ4_XS has no kernel (it is converted at load), and GGUF tensors of types pagedllm does not run, rows that are not whole blocks and truncated block data are refused by name.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {BLOCK_FORMATS} from '../src/engine/model/gguf-block-types.js'
import {float32ToF16Bits} from '../src/engine/model/float-formats.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {nativeOps} from '../src/engine/native.js'
import {BLOCK_SHAPES, HALF_FIELDS, dequantizeReference} from './support/ggml-blocks.js'
import {SMALL_GGUF_SHAPE, llamaGgufBytes, llamaTensors} from './support/llama-gguf.js'

const ops = nativeOps()

describe('random block bytes decode as the format says', () => {
  for (const format of BLOCK_FORMATS) {
    it(`${format}: every code, scale and bit pattern, with finite fp16 scales`, () => {
      const rows = 3
      const cols = 1024
      const {values, bytes} = BLOCK_SHAPES[format]
      const blocks = (rows * cols) / values
      const random = new SeededRandom(BLOCK_FORMATS.indexOf(format) + 1)
      const raw = Uint8Array.from({length: blocks * bytes}, () => random.nextInt(256))
      const view = new DataView(raw.buffer)
      for (let b = 0; b < blocks; b++) {
        for (const field of HALF_FIELDS[format]) view.setUint16(b * bytes + field, float32ToF16Bits(random.normals(1, 0, 0.1)[0]), true)
      }
      const decoded = ops.dequantizeRows(raw, rows, cols, format)
      assert.deepEqual(decoded, dequantizeReference(format, raw, rows, cols))
      assert.ok(decoded.every(Number.isFinite))
    })
  }
})

describe('iq4_xs is a stored format only', () => {
  it('round-trips within its grid, and a linear layer of it is refused, naming the format it is converted to', () => {
    const weights = new SeededRandom(3).normals(4 * 512, 0, 1)
    const back = ops.dequantizeRows(ops.quantizeRows(weights, 4, 512, 'iq4_xs'), 4, 512, 'iq4_xs')
    let error = 0
    let total = 0
    for (let i = 0; i < weights.length; i++) error += (weights[i] - back[i]) ** 2, total += weights[i] ** 2
    assert.ok(Math.sqrt(error / total) < 0.12, `rms error ${Math.sqrt(error / total)}`)
    assert.throws(() => new ops.LinearWeights(weights, 'F32', 4, 512, 'iq4_xs'), /iq4_xs weights have no linear kernel; they are converted at load to iq4_nl/)
  })
})

describe('GGUF block tensors pagedllm cannot run are refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-types-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  let files = 0
  /** The small llama file with output.weight ([320, 32]) of ggml type `type` holding `data`, last in the file; `cut` bytes cut off its end. */
  const fileWithOutput = (type: number, data: Buffer, cut = 0): string => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    const output = tensors.splice(tensors.findIndex((t) => t.name === 'output.weight'), 1)[0]!
    tensors.push({...output, type, data})
    const bytes = llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors})
    const path = join(dir, `model-${files++}.gguf`)
    writeFileSync(path, bytes.subarray(0, bytes.length - cut))
    return path
  }
  const refused = (pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected a ModelLoadError, got ${String(error)}`)
    assert.match(error.message, pattern)
    return true
  }
  const q5_0 = () => Buffer.from(ops.quantizeRows(new SeededRandom(5).normals(320 * 32, 0, 0.1), 320, 32, 'q5_0'))

  it('a file made here with a Q5_0 output matrix loads (the cases below differ from it in one thing)', async () => {
    const model = await loadModel(fileWithOutput(6, q5_0()))
    assert.equal(model.tensors.find((t) => t.name === 'lm_head.weight')?.blockFormat, 'q5_0')
  })

  it('a type id ggml does not have', async () => {
    await assert.rejects(loadModel(fileWithOutput(99, q5_0())), refused(/tensor output\.weight is TYPE_99; pagedllm loads F32, F16, BF16, Q8_0, .*IQ4_XS, TQ1_0, TQ2_0 and MXFP4 tensors/))
  })

  it('an IQ2_XXS tensor (lattice codebooks), a Q4_0_4_4 one (ARM repacking)', async () => {
    await assert.rejects(loadModel(fileWithOutput(16, q5_0())), refused(/tensor output\.weight is IQ2_XXS: its codes index lattice codebooks/))
    await assert.rejects(loadModel(fileWithOutput(31, q5_0())), refused(/tensor output\.weight is Q4_0_4_4: it is a Q4_0 layout interleaved for ARM that llama\.cpp itself no longer loads \(requantize to Q4_0\)/))
  })

  it('Q5_K rows of 32 values (not whole 256-value blocks)', async () => {
    await assert.rejects(loadModel(fileWithOutput(13, q5_0())), refused(/output\.weight is Q5_K with rows of 32 values, not a whole number of its 256-value blocks/))
  })

  it('Q5_0 data cut short at the end of the file', async () => {
    await assert.rejects(loadModel(fileWithOutput(6, q5_0(), 100)), refused(/tensor output\.weight \(Q5_0 \[320, 32\]\) ends past the end of the file; the file may be truncated/))
  })
})
