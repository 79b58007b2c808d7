// FP8 checkpoints (quant_method "fp8" with block scales; compressed-tensors float8 per tensor / per row) load with their
// weights dequantized at load: the native decoder matches torch's float8 for every code, and a tiny Llama and DeepSeek-V3
// give the logits of the float checkpoint holding the dequantized values, bit for bit.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {encodeFloats, readCheckpointTensors, readFileBytes, readTensorFloat32, writeSafetensors, type TensorInfo, type TensorToWrite} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {nativeOps} from '../src/engine/native.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const ops = nativeOps()
const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const work = mkdtempSync(join(tmpdir(), 'fp8-weights-'))
after(() => rmSync(work, {recursive: true, force: true}))

/** Every code's value as the native loader decodes it. */
const E4M3 = ops.decodeFp8(Uint8Array.from({length: 256}, (_, i) => i), 'e4m3')
/** The finite codes, by value, for rounding a value to its nearest e4m3 code. */
const FINITE_CODES = Array.from({length: 256}, (_, i) => i).filter((i) => Number.isFinite(E4M3[i]!))

function nearestCode(value: number): number {
  let best = 0
  for (const code of FINITE_CODES) if (Math.abs(E4M3[code]! - value) < Math.abs(E4M3[best]! - value)) best = code
  return best
}

/** How one test checkpoint stores a weight's scales: one per block of `block`, per row, or per tensor. */
type Layout = {kind: 'block'; block: [number, number]} | {kind: 'row'} | {kind: 'tensor'}

/** A weight quantized to e4m3 the way the formats define (scale = block amax / 448), with the values it dequantizes to. */
function quantize(values: Float32Array, rows: number, cols: number, layout: Layout, scaleDtype: 'F32' | 'BF16') {
  const [blockRows, blockCols] = layout.kind === 'block' ? layout.block : layout.kind === 'row' ? [1, cols] : [rows, cols]
  const [gridRows, gridCols] = [Math.ceil(rows / blockRows), Math.ceil(cols / blockCols)]
  const amax = new Float32Array(gridRows * gridCols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const g = Math.floor(r / blockRows) * gridCols + Math.floor(c / blockCols)
    amax[g] = Math.max(amax[g]!, Math.abs(values[r * cols + c]!))
  }
  // The scale as stored (a BF16 one rounded), so the dequantized values are what the file says.
  const exact = amax.map((a) => (a === 0 ? 1 : a / 448))
  const scales = scaleDtype === 'F32' ? exact : ops.convert(new Uint16Array(encodeFloats(exact, 'BF16').buffer), 'BF16')
  const codes = new Uint8Array(rows * cols)
  const dequantized = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const scale = scales[Math.floor(r / blockRows) * gridCols + Math.floor(c / blockCols)]!
    const i = r * cols + c
    codes[i] = nearestCode(values[i]! / scale)
    dequantized[i] = Math.fround(E4M3[codes[i]!]! * scale)
  }
  const scaleShape = layout.kind === 'block' ? [gridRows, gridCols] : layout.kind === 'row' ? [rows, 1] : [1]
  return {codes, scales: encodeFloats(scales, scaleDtype), scaleShape, dequantized}
}

/** Weights left in float: embeddings, norms, the LM head (modules_to_not_convert / ignore) and DeepSeek's router. */
const keptFloat = (t: TensorInfo) => t.shape.length !== 2 || /embed_tokens|norm|lm_head|mlp\.gate\.weight$/.test(t.name)

/** `source` rewritten as an FP8 checkpoint (`scaleSuffix` beside each quantized weight) and as the float one of its dequantized values. */
function writeFp8Pair(source: string, name: string, scaleSuffix: string, layoutOf: (t: TensorInfo) => Layout, scaleDtype: 'F32' | 'BF16', quantizationConfig: object): {fp8: string; float: string} {
  const [fp8, float] = [join(work, `${name}-fp8`), join(work, `${name}-float`)]
  cpSync(source, fp8, {recursive: true})
  cpSync(source, float, {recursive: true})
  const quantized: TensorToWrite[] = [], dequantized: TensorToWrite[] = []
  for (const t of readCheckpointTensors(source)) {
    const values = readTensorFloat32(t)
    if (keptFloat(t)) {
      const data = () => encodeFloats(values, 'F32')
      quantized.push({name: t.name, dtype: 'F32', shape: t.shape, data})
      dequantized.push({name: t.name, dtype: 'F32', shape: t.shape, data})
      continue
    }
    const q = quantize(values, t.shape[0]!, t.shape[1]!, layoutOf(t), scaleDtype)
    quantized.push({name: t.name, dtype: 'F8_E4M3', shape: t.shape, data: () => q.codes}, {name: t.name + scaleSuffix, dtype: scaleDtype, shape: q.scaleShape, data: () => q.scales})
    dequantized.push({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(q.dequantized, 'F32')})
  }
  writeSafetensors(join(fp8, 'model.safetensors'), quantized, {format: 'pt'})
  writeSafetensors(join(float, 'model.safetensors'), dequantized, {format: 'pt'})
  const config = JSON.parse(readFileSync(join(fp8, 'config.json'), 'utf8'))
  writeFileSync(join(fp8, 'config.json'), JSON.stringify({...config, quantization_config: quantizationConfig}))
  return {fp8, float}
}

/** The FP8 checkpoint's logits are the float one's exactly, and (its weights rounded) not the source's. */
async function assertSameLogits(source: string, pair: {fp8: string; float: string}): Promise<void> {
  const prompts = [[1, 5, 9, 2, 7], [3, 3, 8]]
  const model = await loadModel(pair.fp8)
  assert.ok(model.tensors.some((t) => t.fp8Scales))
  const [fromFp8, fromFloat, fromSource] = [await promptLogits(model, 'f32', prompts), await promptLogits(await loadModel(pair.float), 'f32', prompts), await promptLogits(await loadModel(source), 'f32', prompts)]
  assert.ok(fromFp8.logits.length > 0)
  assert.equal(maxAbsDifference(fromFp8.logits, fromFloat.logits), 0)
  assert.ok(maxAbsDifference(fromFp8.logits, fromSource.logits) > 0)
}

const blockFp8 = (block: [number, number]) => ({quant_method: 'fp8', activation_scheme: 'dynamic', fmt: 'e4m3', weight_block_size: block, modules_to_not_convert: ['lm_head']})

describe('FP8 codes', () => {
  const table = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'fp8-codes.json'), 'utf8')) as Record<'e4m3' | 'e5m2', (number | string | null)[]>
  for (const format of ['e4m3', 'e5m2'] as const) {
    it(`${format}: all 256 codes decode as torch's float8 (test/fixtures/fp8-codes.json, scripts/fp8-codes-fixture.py: NaNs, subnormals, ${format === 'e4m3' ? 'no infinities' : 'infinities'})`, () => {
      const decoded = ops.decodeFp8(Uint8Array.from({length: 256}, (_, i) => i), format)
      const expected = table[format].map((v) => (v === null ? NaN : Number(v)))
      assert.deepEqual([...decoded], expected)
    })
  }
})

describe('FP8 checkpoints load dequantized', () => {
  it('quant_method "fp8", blocks not dividing the matrices: a tiny Llama\'s logits equal the float checkpoint\'s, and it stays on the CPU', async () => {
    const source = await ensureTestModel('tiny')
    const pair = writeFp8Pair(source, 'llama-block', '_scale_inv', () => ({kind: 'block', block: [48, 40]}), 'F32', blockFp8([48, 40]))
    await assertSameLogits(source, pair)
    const model = await loadModel(pair.fp8)
    assert.equal(model.tensors.filter((t) => t.fp8Scales).length, model.config.numLayers * 7)
    assert.match(cpuOnlyNeed({quantization: undefined, batchInvariant: false}, model)!.reason, /FP8 weights/)
  })

  it('compressed-tensors float8, per tensor and per row with BF16 scales: the logits of the float checkpoint', async () => {
    const layout = (t: TensorInfo): Layout => (/self_attn/.test(t.name) ? {kind: 'tensor'} : {kind: 'row'})
    const config = {quant_method: 'compressed-tensors', format: 'float-quantized', ignore: ['lm_head'], config_groups: {group_0: {targets: ['Linear'], weights: {num_bits: 8, type: 'float', strategy: 'channel', symmetric: true, dynamic: false}, input_activations: {num_bits: 8, type: 'float', strategy: 'token', dynamic: true}}}}
    const source = await ensureTestModel('tiny')
    await assertSameLogits(source, writeFp8Pair(source, 'llama-ct', '_scale', layout, 'BF16', config))
  })

  it('a tiny DeepSeek-V3 (latent attention, experts) in 16x16 blocks: the logits of the float checkpoint', async () => {
    const source = await ensureTestModel('tiny', {variant: 'deepseek-v3'})
    await assertSameLogits(source, writeFp8Pair(source, 'deepseek-v3', '_scale_inv', () => ({kind: 'block', block: [16, 16]}), 'F32', blockFp8([16, 16])))
  })

  it('refuses an FP8 weight without its scales, scales of the wrong grid, FP8 weights the config does not declare, and fused ones cut into windows', async () => {
    const pair = writeFp8Pair(await ensureTestModel('tiny'), 'llama-bad', '_scale_inv', () => ({kind: 'block', block: [32, 32]}), 'F32', blockFp8([32, 32]))
    const config = JSON.parse(readFileSync(join(pair.fp8, 'config.json'), 'utf8'))
    const tensors = readCheckpointTensors(pair.fp8).map((t) => ({...t, bytes: readFileBytes(t.path, t.offset, t.nbytes)}))
    const rewrite = (keep: (t: TensorInfo) => boolean, reshape: (t: TensorInfo) => number[] = (t) => t.shape) => writeSafetensors(join(pair.fp8, 'model.safetensors'),
      tensors.filter(keep).map((t) => ({name: t.name, dtype: t.dtype, shape: reshape(t), data: () => t.bytes})), {format: 'pt'})
    rewrite((t) => t.name !== 'model.layers.1.mlp.down_proj.weight_scale_inv')
    await assert.rejects(loadModel(pair.fp8), loadError(/Tensor model\.layers\.1\.mlp\.down_proj\.weight is F8_E4M3 but has no model\.layers\.1\.mlp\.down_proj\.weight_scale_inv beside it/))
    rewrite(() => true, (t) => (t.name === 'model.layers.0.self_attn.q_proj.weight_scale_inv' ? [t.shape[0]! * t.shape[1]!, 1] : t.shape))
    await assert.rejects(loadModel(pair.fp8), loadError(/Tensor model\.layers\.0\.self_attn\.q_proj\.weight_scale_inv has shape \[\d+, 1\], but weight model\.layers\.0\.self_attn\.q_proj\.weight \[\d+, \d+\] needs scales \[\d+, \d+\] \(blocks of 32 x 32\)/))
    rewrite(() => true)
    writeFileSync(join(pair.fp8, 'config.json'), JSON.stringify({...config, quantization_config: undefined}))
    await assert.rejects(loadModel(pair.fp8), loadError(/Tensor model\.layers\.0\.self_attn\.q_proj\.weight is F8_E4M3, but config\.json declares no FP8 quantization_config/))
    // Phi-3's fused qkv_proj / gate_up_proj are cut into windows, which their block scales are not.
    const phi3 = writeFp8Pair(await ensureTestModel('tiny', {variant: 'phi3'}), 'phi3', '_scale_inv', () => ({kind: 'block', block: [32, 32]}), 'F32', blockFp8([32, 32]))
    await assert.rejects(loadModel(phi3.fp8), loadError(/Tensor model\.layers\.0\.self_attn\.q_proj\.weight is cut from a fused FP8 weight/))
  })
})
