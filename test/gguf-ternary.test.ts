// TQ1_0 / TQ2_0 (llama.cpp's ternary BitNet formats) decode as their layouts say, and a bitnet GGUF file with its
// projections in them runs as Q8_0 blocks of the same values: the logits and greedy tokens of the file holding those
// Q8_0 blocks, bit for bit; rows that are not whole 256-value blocks and data cut short are refused by name.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {f16BitsToFloat32, float32ToF16Bits} from '../src/engine/model/float-formats.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel, nativeOps} from '../src/engine/native.js'
import {dequantizeReference} from './support/ggml-blocks.js'
import {ggufBytes, q8_0Matrices, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {moreDenseMetadata, moreDenseTensors, ternarizedBitnetCheckpoint} from './support/more-dense-gguf.js'
import {TestBlockPool, TestSequence, buildStep, logitsRow} from './support/paged-batch.js'
import {argmax} from './support/reference-model.js'
import {TERNARY_TYPE_IDS, ternaryAsQ8_0, ternaryBlocks, type TernaryFormat} from './support/ternary-blocks.js'

const ops = nativeOps()
const FORMATS: TernaryFormat[] = ['tq1_0', 'tq2_0']
const BLOCK_SIZE = 4
const GREEDY_TOKENS = 6

/** A [rows, cols] matrix of codes in {-1, 0, 1} times a scale per 256 values (some blocks all zero, some of one sign), and its codes. */
function ternaryMatrix(rows: number, cols: number, seed: number): {values: Float32Array; codes: Int8Array; scales: Float32Array} {
  const random = new SeededRandom(seed)
  const codes = Int8Array.from({length: rows * cols}, () => random.nextInt(3) - 1)
  const scales = Float32Array.from({length: (rows * cols) / 256}, () => Math.abs(random.normals(1, 0, 0.05)[0]!) + 1e-3)
  for (let i = 0; i < 256; i++) codes[256 + i] = 0
  for (let i = 0; i < 256; i++) codes[512 + i] = random.nextInt(2)
  return {values: Float32Array.from(codes, (c, i) => c * scales[Math.floor(i / 256)]!), codes, scales}
}

describe('TQ1_0 / TQ2_0 blocks', () => {
  for (const format of FORMATS) {
    it(`${format}: blocks written from a ternary matrix decode natively to its codes times the fp16 scale, as a float64 decoder of the layout does`, () => {
      const rows = 3
      const cols = 768
      const {values, codes, scales} = ternaryMatrix(rows, cols, format === 'tq1_0' ? 1 : 2)
      const raw = new Uint8Array(ternaryBlocks(format, values, rows, cols))
      const decoded = ops.dequantizeRows(raw, rows, cols, format)
      const expected = Float32Array.from(codes, (c, i) => c * f16BitsToFloat32(float32ToF16Bits(scales[Math.floor(i / 256)]!)))
      assert.deepEqual(decoded, expected)
      assert.deepEqual(decoded, dequantizeReference(format, raw, rows, cols))
    })
  }

  it('has no linear kernel (converted to q8_0 at load) and is never written', () => {
    const weights = new Float32Array(4 * 256)
    assert.throws(() => new ops.LinearWeights(weights, 'F32', 4, 256, 'tq1_0'), /tq1_0 weights have no linear kernel; they are converted at load to q8_0/)
    assert.throws(() => ops.quantizeRows(weights, 4, 256, 'tq2_0'), /tq2_0 blocks are only read from GGUF files, never written/)
  })
})

describe('GGUF bitnet file with TQ1_0 / TQ2_0 projections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-ternary-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  let hf: LoadedModel
  let metadata: Record<string, GgufEntry>
  let tensors: GgufTensorSpec[]
  before(async () => {
    // The small preset: its projections' rows are 512 values (two blocks), its down_proj rows 1408 (not whole blocks).
    hf = await loadModel(ternarizedBitnetCheckpoint(await ensureTestModel('small', {variant: 'bitnet'}), join(dir, 'hf-bitnet'), 'relu2'))
    metadata = moreDenseMetadata('bitnet', hf)
    tensors = moreDenseTensors(hf)
  })
  const write = (name: string, specs: GgufTensorSpec[]): string => {
    const path = join(dir, `${name}.gguf`)
    writeFileSync(path, ggufBytes(metadata, {tensors: specs}))
    return path
  }
  const isProjection = (t: GgufTensorSpec) => /^blk\.\d+\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(t.name)
  /** The file's tensors: the projections whose rows are whole 256-value blocks as `encode` writes them, the rest as llama.cpp's Q8_0 files. */
  const encoded = (encode: (values: Float32Array, rows: number, cols: number) => GgufTensorSpec['data'], type: number): GgufTensorSpec[] => {
    let count = 0
    const specs = tensors.map((t) => {
      const [cols, rows] = t.dims as [number, number]
      if (!isProjection(t) || cols % 256 !== 0) return t
      count++
      return {...t, type, data: encode(new Float32Array(new Uint8Array(t.data).buffer), rows, cols)}
    })
    assert.equal(count, 6 * hf.config.numLayers)
    return q8_0Matrices(specs)
  }

  /** The weights label, the logits of every position of a prompt, and the greedy tokens after it. */
  const run = async (path: string): Promise<{label: string; logits: Float32Array; greedy: number[]}> => {
    const model = await loadModel(path)
    const native = await loadNativeModel({
      config: model.config, tensors: model.tensors, numBlocks: 32, blockSize: BLOCK_SIZE, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu',
    })
    try {
      const random = new SeededRandom(7)
      const sequence = new TestSequence([1, ...Array.from({length: 10}, () => 5 + random.nextInt(model.config.vocabSize - 5))])
      const pool = new TestBlockPool(32)
      let logits: Float32Array | undefined
      const greedy: number[] = []
      for (let i = 0; i <= GREEDY_TOKENS; i++) {
        const {batch, logitRows} = buildStep([{sequence, count: sequence.tokens.length - sequence.cachedTokens, logits: 'all'}], pool, BLOCK_SIZE)
        const step = await native.step({}, batch)
        logits ??= step
        if (i === GREEDY_TOKENS) break
        const token = argmax(logitsRow(step, logitRows[0]!.at(-1)!, model.config.vocabSize))
        greedy.push(token)
        sequence.tokens.push(token)
      }
      return {label: native.weightsLabel, logits: logits!, greedy}
    } finally {
      native.close()
    }
  }

  for (const format of FORMATS) {
    it(`${format}: the logits and greedy tokens of the file holding the same values as Q8_0 blocks, bit for bit, and a label that says so`, async () => {
      const ternary = await run(write(format, encoded((values, rows, cols) => ternaryBlocks(format, values, rows, cols), TERNARY_TYPE_IDS[format])))
      const q8 = await run(write(`${format}-as-q8_0`, encoded(ternaryAsQ8_0, 8)))
      assert.equal(ternary.label, `q8_0+${format} (GGUF); ${format} converted to q8_0 at load`)
      assert.deepEqual(ternary.logits, q8.logits)
      assert.deepEqual(ternary.greedy, q8.greedy)
    })
  }

  const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

  it('refuses rows that are not whole 256-value blocks and data cut short, naming the tensor', async () => {
    const down = tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!
    const notWhole = tensors.map((t) => (t === down ? {...t, type: TERNARY_TYPE_IDS.tq1_0, data: Buffer.alloc(54)} : t))
    await assert.rejects(loadModel(write('tq1_0-rows', notWhole)), loadError(/tensor blk\.0\.ffn_down\.weight is TQ1_0 with rows of 1408 values, not a whole number of its 256-value blocks/))
    // The last tensor in TQ2_0, its last block cut off the end of the file.
    const up = tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!
    const [cols, rows] = up.dims as [number, number]
    const last = {...up, type: TERNARY_TYPE_IDS.tq2_0, data: ternaryBlocks('tq2_0', new Float32Array(new Uint8Array(up.data).buffer), rows, cols)}
    const bytes = ggufBytes(metadata, {tensors: [...tensors.filter((t) => t !== up), last]})
    const path = join(dir, 'tq2_0-cut.gguf')
    writeFileSync(path, bytes.subarray(0, bytes.length - 66))
    await assert.rejects(loadModel(path), loadError(/tensor blk\.0\.ffn_up\.weight \(TQ2_0 \[\d+, 512\]\) ends past the end of the file; the file may be truncated/))
  })
})
