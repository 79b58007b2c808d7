// A GGUF file whose matrices use every block type llama.cpp's presets write (Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS beside Q4_0, Q8_0, Q4_K, Q6_K) loads and runs: the label says what was converted, the stored bytes are the formats', and greedy tokens and logprobs follow a float64 forward of the same blocks.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {writeGguf, type GgufTensorFormat} from '../src/bench/peer/gguf-writer.js'
import {f16BitsToFloat32, float32ToF16Bits} from '../src/engine/model/float-formats.js'
import {readGguf} from '../src/engine/model/gguf-file.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel, nativeOps, type NativeModel, type QuantizedFormat} from '../src/engine/native.js'
import {BLOCK_SHAPES} from './support/ggml-blocks.js'
import {logSoftmax, randomPrompt, topLogprobError} from './support/logprobs.js'
import {TestBlockPool, TestSequence, buildStep, logitsRow} from './support/paged-batch.js'
import {ReferenceModel, argmax} from './support/reference-model.js'

const BLOCK_SIZE = 4
const NUM_BLOCKS = 128
const DIR = join(tmpdir(), `pagedllm-gguf-types-${process.pid}`)
/** As test/quantized-model.test.ts: activations rounded to 8 bits move logprobs by tenths; a wrong code, scale or layout by whole units. */
const LOGPROB_TOLERANCE = 0.3
const CLEAR_MARGIN = 2 * LOGPROB_TOLERANCE
const GREEDY_TOKENS = 8

/** 256-value and 32-value formats, rotated over the layers so that each sits in several roles (the `small` preset's down rows are 1408 = 44 x 32 wide). */
const SUPER: QuantizedFormat[] = ['q2_k', 'q3_k', 'q5_k', 'iq4_xs', 'q4_k', 'q6_k']
const BLOCK32: QuantizedFormat[] = ['q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q8_0', 'q4_0']
const ROLES: Record<string, {hf: string; list: QuantizedFormat[]; shift: number}> = {
  attn_q: {hf: 'self_attn.q_proj', list: SUPER, shift: 0}, attn_k: {hf: 'self_attn.k_proj', list: SUPER, shift: 1},
  attn_v: {hf: 'self_attn.v_proj', list: BLOCK32, shift: 0}, attn_output: {hf: 'self_attn.o_proj', list: BLOCK32, shift: 1},
  ffn_gate: {hf: 'mlp.gate_proj', list: SUPER, shift: 2}, ffn_up: {hf: 'mlp.up_proj', list: BLOCK32, shift: 2},
  ffn_down: {hf: 'mlp.down_proj', list: BLOCK32, shift: 3},
}
const GLOBAL: Record<string, {hf: string; format: QuantizedFormat}> = {
  'token_embd.weight': {hf: 'model.embed_tokens.weight', format: 'q3_k'}, 'output.weight': {hf: 'lm_head.weight', format: 'q5_k'},
}

/** The block format the file stores a matrix in, by its GGUF name. */
function fileFormat(ggufName: string): QuantizedFormat {
  if (GLOBAL[ggufName]) return GLOBAL[ggufName].format
  const [, layer, role] = /^blk\.(\d+)\.(\w+)\.weight$/.exec(ggufName)!
  const {list, shift} = ROLES[role]
  return list[(Number(layer) + shift) % list.length]
}

/** The same, by the Hugging Face name of the matrix. */
function fileFormatOfHfName(name: string): QuantizedFormat {
  const global = Object.entries(GLOBAL).find(([, g]) => g.hf === name)
  if (global) return global[1].format
  const [, layer, hf] = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name)!
  const role = Object.entries(ROLES).find(([, r]) => r.hf === hf)![0]
  return fileFormat(`blk.${layer}.${role}.weight`)
}

/**
 * IQ4_XS blocks as the engine keeps them, written from the format: IQ4_NL blocks with the same codes and each 32-value
 * sub-block's scale d * (s - 32) rounded to fp16 (s: 4 low bits in scales_l, 2 high in scales_h).
 */
function iq4XsAsIq4Nl(raw: Uint8Array): Uint8Array {
  const blocks = raw.length / 136
  const out = new Uint8Array(blocks * 8 * 18)
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const outView = new DataView(out.buffer)
  for (let b = 0; b < blocks; b++) {
    const at = 136 * b
    const d = f16BitsToFloat32(view.getUint16(at, true))
    const scalesHigh = view.getUint16(at + 2, true)
    for (let j = 0; j < 8; j++) {
      const s = (((raw[at + 4 + (j >> 1)] >> (4 * (j & 1))) & 0xf) | (((scalesHigh >> (2 * j)) & 3) << 4)) - 32
      const to = 18 * (8 * b + j)
      outView.setUint16(to, float32ToF16Bits(Math.fround(d * s)), true)
      out.set(raw.subarray(at + 8 + 16 * j, at + 24 + 16 * j), to + 2)
    }
  }
  return out
}

/** A matrix's values as the engine multiplies them: quantized as the file stores it, converted as at load, decoded. */
function engineValues(name: string, values: Float64Array, shape: number[]): Float64Array {
  const ops = nativeOps()
  const [rows, cols] = shape as [number, number]
  const format = fileFormatOfHfName(name)
  const raw = ops.quantizeRows(Float32Array.from(values), rows, cols, format)
  const decoded = format === 'iq4_xs' ? ops.dequantizeRows(iq4XsAsIq4Nl(raw), rows, cols, 'iq4_nl') : ops.dequantizeRows(raw, rows, cols, format)
  return Float64Array.from(decoded)
}

/** The file's matrices (norms stay f32), with `rename` applied to their formats. */
function writeMixed(model: LoadedModel, path: string, rename: (format: QuantizedFormat) => QuantizedFormat = (format) => format): void {
  writeGguf(model, path, {format: 'f32', tensorFormat: (name) => (name.endsWith('_norm.weight') ? undefined : (rename(fileFormat(name)) as GgufTensorFormat))})
}

/** Logits of every position of one prompt. */
async function promptLogits(native: NativeModel, vocab: number): Promise<Float32Array> {
  const prompt = randomPrompt(11, vocab, 7)
  return native.step({}, buildStep([{sequence: new TestSequence(prompt), count: prompt.length, logits: 'all'}], new TestBlockPool(NUM_BLOCKS), BLOCK_SIZE).batch)
}

function loadCpu(model: LoadedModel): Promise<NativeModel> {
  return loadNativeModel({
    config: model.config, tensors: model.tensors, numBlocks: NUM_BLOCKS, blockSize: BLOCK_SIZE, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu',
  })
}

describe('GGUF file with every common llama.cpp block type', () => {
  let hf: LoadedModel
  let gguf: LoadedModel
  let native: NativeModel
  let reference: ReferenceModel
  before(async () => {
    mkdirSync(DIR, {recursive: true})
    const dir = await ensureTestModel('small')
    hf = await loadModel(dir)
    assert.equal(hf.config.tieWordEmbeddings, false)
    writeMixed(hf, join(DIR, 'mixed.gguf'))
    gguf = await loadModel(join(DIR, 'mixed.gguf'))
    native = await loadCpu(gguf)
    reference = await ReferenceModel.load(dir, {mapWeight: (name, values, shape) => (shape.length === 2 ? engineValues(name, values, shape) : values)})
  })
  after(() => {
    native?.close()
    rmSync(DIR, {recursive: true, force: true})
  })

  it('keeps every tensor in its stored format but IQ4_XS, which becomes IQ4_NL, and says so', () => {
    const stored = new Set(gguf.tensors.flatMap((t) => (t.blockFormat ? [t.blockFormat] : [])))
    assert.deepEqual([...stored].sort(), [...new Set([...SUPER, ...BLOCK32])].sort())
    assert.match(native.weightsLabel, /\(GGUF\); iq4_xs converted to iq4_nl at load$/)
    let expected = 0
    for (const t of gguf.tensors) {
      if (!t.blockFormat) {
        expected += t.nbytes
        continue
      }
      const kept = t.blockFormat === 'iq4_xs' ? 'iq4_nl' : t.blockFormat
      const [rows, cols] = t.shape as [number, number]
      expected += (rows * cols / BLOCK_SHAPES[kept].values) * BLOCK_SHAPES[kept].bytes
    }
    assert.equal(native.info.weightBytes, expected)
  })

  it('converts IQ4_XS block by block: the same logits, bit for bit, as a file holding those blocks as IQ4_NL', async () => {
    // The second file has IQ4_NL where the first has IQ4_XS, its blocks then overwritten with the first file's, converted
    // as the format says (iq4XsAsIq4Nl); everything else is the same bytes.
    const path = join(DIR, 'as-iq4-nl.gguf')
    writeMixed(hf, path, (format) => (format === 'iq4_xs' ? 'iq4_nl' : format))
    const first = readFileSync(join(DIR, 'mixed.gguf'))
    const second = readFileSync(path)
    const secondTensors = readGguf(path).tensors
    let converted = 0
    for (const t of readGguf(join(DIR, 'mixed.gguf')).tensors.filter((tensor) => tensor.type === 'IQ4_XS')) {
      const target = secondTensors.find((tensor) => tensor.name === t.name)!
      assert.equal(target.type, 'IQ4_NL')
      const blocks = iq4XsAsIq4Nl(first.subarray(t.offset, t.offset + t.nbytes!))
      assert.equal(blocks.length, target.nbytes)
      second.set(blocks, target.offset)
      converted++
    }
    assert.ok(converted >= 3, `${converted} IQ4_XS tensors`)
    writeFileSync(path, second)
    const asNl = await loadCpu(await loadModel(path))
    try {
      assert.deepEqual(await promptLogits(native, gguf.config.vocabSize), await promptLogits(asNl, gguf.config.vocabSize))
    } finally {
      asNl.close()
    }
  })

  it('greedy tokens and logprobs follow a float64 forward of the same blocks', async () => {
    const pool = new TestBlockPool(NUM_BLOCKS, 2)
    const vocab = gguf.config.vocabSize
    let worst = 0
    let agreed = 0
    for (const [p, length] of [9, 17].entries()) {
      const prompt = randomPrompt(length, vocab, 40 + p)
      const sequence = new TestSequence([...prompt])
      const expected = reference.newSequence()
      let expectedLogits = expected.append(prompt)[0]
      for (let i = 0; i < GREEDY_TOKENS; i++) {
        const {batch, logitRows} = buildStep([{sequence, count: sequence.tokens.length - sequence.cachedTokens, logits: 'last'}], pool, BLOCK_SIZE)
        const row = logitsRow(await native.step({}, batch), logitRows[0][0], vocab)
        const token = argmax(row)
        worst = Math.max(worst, topLogprobError(row, expectedLogits))
        const sorted = [...logSoftmax(expectedLogits)].sort((a, b) => b - a)
        if (sorted[0] - sorted[1] > CLEAR_MARGIN) assert.equal(token, argmax(expectedLogits), `prompt ${p} token ${i}`)
        agreed += token === argmax(expectedLogits) ? 1 : 0
        sequence.tokens.push(token)
        // Teacher forcing: the reference follows the engine's tokens, so one near-tie does not derail the rest.
        expectedLogits = expected.append([token])[0]
      }
    }
    console.log(`# mixed-type GGUF (small): max top-10 logprob error vs float64 ${worst.toFixed(3)}, greedy agreement ${agreed}/${2 * GREEDY_TOKENS}`)
    assert.ok(worst < LOGPROB_TOLERANCE, `worst logprob error ${worst}`)
  })
})
