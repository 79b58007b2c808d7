// GGUF files of gpt-oss (MXFP4 experts included), deepseek2 (DeepSeek V2/V3's latent attention and grouped routing)
// and glm4moe, as llama.cpp's converter writes them, load as the checkpoints they were converted from: the test models,
// themselves held to transformers (gpt-oss.test.ts, deepseek-models.test.ts).
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat32} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ggufBytes, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const u32 = (value: number): GgufEntry => ({type: 'u32', value})
const f32 = (value: number): GgufEntry => ({type: 'f32', value})

/** A float tensor of PyTorch shape `shape` as a GGUF F32 tensor (ggml dims are the shape reversed). */
function floatTensor(name: string, shape: number[], values: Float32Array): GgufTensorSpec {
  return {name, dims: [...shape].reverse(), data: Buffer.from(values.buffer, values.byteOffset, values.byteLength)}
}

/** Columns `pick(c)` of each row of a [rows, cols] matrix (a [n] vector is one row). */
function columns(values: Float32Array, cols: number, picked: number[]): Float32Array {
  const rows = values.length / cols
  const out = new Float32Array(rows * picked.length)
  for (let r = 0; r < rows; r++) picked.forEach((c, i) => (out[r * picked.length + i] = values[r * cols + c]!))
  return out
}

/** Each [a, b] slab of a [n, a, b] tensor transposed to [b, a]. */
function transposeSlabs(values: Float32Array, a: number, b: number): Float32Array {
  const out = new Float32Array(values.length)
  for (let s = 0; s < values.length / (a * b); s++) {
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[s * a * b + j * a + i] = values[s * a * b + i * b + j]!
  }
  return out
}

// ---- gpt-oss ----------------------------------------------------------------------------------------------------

const GPT_OSS_LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm', post_attention_layernorm: 'post_attention_norm', 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output', 'mlp.router': 'ffn_gate_inp',
}
const GLOBAL: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight'}

type ExpertForm = 'apart' | 'fused'

/**
 * A gpt-oss checkpoint's tensors as llama.cpp's converter writes them: the fused [experts, hidden, 2 x inter]
 * gate_up (gate and up in alternate columns) as ffn_gate_exps + ffn_up_exps [experts, inter, hidden] (or, fused, one
 * ffn_gate_up_exps of gate rows then up rows), down transposed to [experts, hidden, inter], biases split alike.
 */
function gptOssGgufTensors(dir: string, inter: number, form: ExpertForm): GgufTensorSpec[] {
  return readCheckpointTensors(dir).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GLOBAL[t.name]) return [floatTensor(GLOBAL[t.name]!, t.shape, values)]
    const match = /^model\.layers\.(\d+)\.(.+)$/.exec(t.name)!
    const blk = `blk.${match[1]}`
    const [experts] = t.shape as [number]
    const even = Array.from({length: inter}, (_, i) => 2 * i), odd = even.map((c) => c + 1)
    const gateUp = (gate: Float32Array, up: Float32Array, perExpert: number): Float32Array => {
      if (form === 'apart') return new Float32Array(0)
      const out = new Float32Array(gate.length * 2)
      for (let e = 0; e < experts; e++) {
        out.set(gate.subarray(e * perExpert, (e + 1) * perExpert), 2 * e * perExpert)
        out.set(up.subarray(e * perExpert, (e + 1) * perExpert), (2 * e + 1) * perExpert)
      }
      return out
    }
    switch (match[2]) {
      case 'self_attn.sinks': return [floatTensor(`${blk}.attn_sinks.weight`, t.shape, values)]
      case 'mlp.experts.gate_up_proj': {
        const hidden = t.shape[1]!
        // [experts, hidden, 2 inter] -> per expert [inter, hidden] of the even (gate) and odd (up) columns.
        const [gate, up] = [even, odd].map((picked) => transposeSlabs(columns(values, 2 * inter, picked), hidden, inter))
        if (form === 'fused') return [floatTensor(`${blk}.ffn_gate_up_exps.weight`, [experts, 2 * inter, hidden], gateUp(gate!, up!, inter * hidden))]
        return [floatTensor(`${blk}.ffn_gate_exps.weight`, [experts, inter, hidden], gate!), floatTensor(`${blk}.ffn_up_exps.weight`, [experts, inter, hidden], up!)]
      }
      case 'mlp.experts.gate_up_proj_bias': {
        const [gate, up] = [even, odd].map((picked) => columns(values, 2 * inter, picked))
        if (form === 'fused') return [floatTensor(`${blk}.ffn_gate_up_exps.bias`, [experts, 2 * inter], gateUp(gate!, up!, inter))]
        return [floatTensor(`${blk}.ffn_gate_exps.bias`, [experts, inter], gate!), floatTensor(`${blk}.ffn_up_exps.bias`, [experts, inter], up!)]
      }
      case 'mlp.experts.down_proj': return [floatTensor(`${blk}.ffn_down_exps.weight`, [experts, t.shape[2]!, t.shape[1]!], transposeSlabs(values, t.shape[1]!, t.shape[2]!))]
      case 'mlp.experts.down_proj_bias': return [floatTensor(`${blk}.ffn_down_exps.bias`, t.shape, values)]
    }
    const part = /^(.+)\.(weight|bias)$/.exec(match[2]!)!
    return [floatTensor(`${blk}.${GPT_OSS_LAYER[part[1]!]!}.${part[2]}`, t.shape, values)]
  })
}

/** gpt-oss.* metadata as llama.cpp's converter writes it (no layer pattern, no SwiGLU limit: llama.cpp fixes both). */
function gptOssMetadata(c: LoadedModel['config']): Record<string, GgufEntry> {
  const yarn = c.ropeScaling as Extract<LoadedModel['config']['ropeScaling'], {type: 'yarn'}>
  return {
    'general.architecture': {type: 'string', value: 'gpt-oss'},
    'gpt-oss.context_length': u32(c.maxPositionEmbeddings), 'gpt-oss.embedding_length': u32(c.hiddenSize), 'gpt-oss.block_count': u32(c.numLayers),
    'gpt-oss.feed_forward_length': u32(c.moe!.expertIntermediateSize), 'gpt-oss.expert_feed_forward_length': u32(c.moe!.expertIntermediateSize),
    'gpt-oss.attention.head_count': u32(c.numHeads), 'gpt-oss.attention.head_count_kv': u32(c.numKvHeads),
    'gpt-oss.attention.key_length': u32(c.headDim), 'gpt-oss.attention.value_length': u32(c.headDim), 'gpt-oss.rope.freq_base': f32(c.ropeTheta),
    'gpt-oss.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps), 'gpt-oss.expert_count': u32(c.moe!.numExperts), 'gpt-oss.expert_used_count': u32(c.moe!.numExpertsPerToken),
    'gpt-oss.attention.sliding_window': u32(Math.max(...c.layerWindows!)),
    'gpt-oss.rope.scaling.type': {type: 'string', value: 'yarn'}, 'gpt-oss.rope.scaling.factor': f32(yarn.factor), 'gpt-oss.rope.scaling.original_context_length': u32(yarn.originalMaxPosition),
    ...familyVocabMetadata('gpt2', c.vocabSize, 'gpt-4o'),
  }
}

/** Seeded MXFP4 codes and scale bytes for `rows` rows of `cols` values. */
function seededMxfp4(rows: number, cols: number, seed: number): {codes: Uint8Array; scales: Uint8Array} {
  let state = seed
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31), state >> 16)
  return {codes: Uint8Array.from({length: rows * cols}, () => next() & 15), scales: Uint8Array.from({length: (rows * cols) / 32}, () => 122 + (next() % 5))}
}

/** ggml's MXFP4 blocks of those codes: the scale byte, then 16 bytes holding value j in the low nibble and j + 16 in the high. */
function ggmlMxfp4Blocks({codes, scales}: {codes: Uint8Array; scales: Uint8Array}): Buffer {
  const out = Buffer.alloc(scales.length * 17)
  for (let b = 0; b < scales.length; b++) {
    out[b * 17] = scales[b]!
    for (let j = 0; j < 16; j++) out[b * 17 + 1 + j] = codes[b * 32 + j]! | (codes[b * 32 + j + 16]! << 4)
  }
  return out
}

/** The codes' values in float64 as the checkpoint's convention reads the same bytes: e2m1 x 2^(scale - 127) (ggml's is doubled e2m1 x 2^(scale - 128)). */
function mxfp4Values({codes, scales}: {codes: Uint8Array; scales: Uint8Array}): Float32Array {
  const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
  return Float32Array.from(codes, (code, i) => (code & 8 ? -1 : 1) * E2M1[code & 7]! * 2 ** (scales[Math.floor(i / 32)]! - 127))
}

describe('GGUF gpt-oss files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-gpt-oss-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it("llama.cpp's tensors (gate and up apart, or fused), sinks, biases, window pattern and YaRN give the checkpoint's bit-identical logits", async () => {
    const source = await ensureTestModel('tiny', {variant: 'gptoss'})
    const hf = await loadModel(source)
    const expected = (await promptLogits(hf, 'f32')).logits
    for (const form of ['apart', 'fused'] as const) {
      const path = join(dir, `gpt-oss-${form}.gguf`)
      writeFileSync(path, ggufBytes(gptOssMetadata(hf.config), {tensors: gptOssGgufTensors(source, hf.config.moe!.expertIntermediateSize, form)}))
      const gguf = await loadModel(path)
      const features = (m: LoadedModel) => [m.config.architecture, m.config.layerWindows, m.config.ropeScaling, m.config.attentionSinks, m.config.attentionOutputBias, m.config.headDim]
      assert.deepEqual(features(gguf), features(hf))
      assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, expected), 0, form)
    }
  })

  it('MXFP4 experts (ggml type 39) decode exactly to the float64 values of their codes under the checkpoint\'s scale convention', async () => {
    const source = await ensureTestModel('tiny', {variant: 'gptoss'})
    const hf = await loadModel(source)
    const {numExperts: experts, expertIntermediateSize: inter} = hf.config.moe!
    const tensors = gptOssGgufTensors(source, inter, 'apart')
    const quantized: GgufTensorSpec[] = [], decoded: GgufTensorSpec[] = []
    tensors.forEach((t, i) => {
      if (!/_exps\.weight$/.test(t.name)) return quantized.push(t), decoded.push(t)
      const [cols, rows] = t.dims as [number, number]
      const mxfp4 = seededMxfp4(experts * rows, cols, i + 1)
      quantized.push({...t, type: 39, data: ggmlMxfp4Blocks(mxfp4)})
      decoded.push(floatTensor(t.name, [experts, rows, cols], mxfp4Values(mxfp4)))
    })
    const [mxfp4Path, floatPath] = [join(dir, 'gpt-oss-mxfp4.gguf'), join(dir, 'gpt-oss-decoded.gguf')]
    writeFileSync(mxfp4Path, ggufBytes(gptOssMetadata(hf.config), {tensors: quantized}))
    writeFileSync(floatPath, ggufBytes(gptOssMetadata(hf.config), {tensors: decoded}))
    const model = await loadModel(mxfp4Path)
    assert.ok(model.tensors.some((t) => t.ggmlMxfp4 && t.name === 'model.layers.0.mlp.experts.3.down_proj.weight'))
    assert.equal(model.defaultWeightFormat, 'f32')
    assert.equal(maxAbsDifference((await promptLogits(model, 'f32')).logits, (await promptLogits(await loadModel(floatPath), 'f32')).logits), 0)
    // A type still refused is named, with the types that load (MXFP4 among them).
    writeFileSync(mxfp4Path, ggufBytes(gptOssMetadata(hf.config), {tensors: quantized.map((t) => (t.name === 'blk.1.ffn_down_exps.weight' ? {...t, type: 16} : t))}))
    await assert.rejects(loadModel(mxfp4Path), loadError(/tensor blk\.1\.ffn_down_exps\.weight is IQ2_XXS: its codes index lattice codebooks .*IQ4_XS and MXFP4 tensors/))
  })

  it('refuses a file missing what llama.cpp reads: the expert count, the window, a sinks tensor', async () => {
    const source = await ensureTestModel('tiny', {variant: 'gptoss'})
    const hf = await loadModel(source)
    const tensors = gptOssGgufTensors(source, hf.config.moe!.expertIntermediateSize, 'apart')
    const path = join(dir, 'gpt-oss-broken.gguf')
    const cases: [Record<string, GgufEntry>, GgufTensorSpec[], RegExp][] = [
      [(({'gpt-oss.expert_count': _, ...rest}) => rest)(gptOssMetadata(hf.config)), tensors, /GGUF metadata gpt-oss\.expert_count is missing/],
      [(({'gpt-oss.attention.sliding_window': _, ...rest}) => rest)(gptOssMetadata(hf.config)), tensors, /GGUF metadata gpt-oss\.attention\.sliding_window is missing/],
      [gptOssMetadata(hf.config), tensors.filter((t) => t.name !== 'blk.1.attn_sinks.weight'), /model\.layers\.1\.self_attn\.sinks is missing/],
      [{...gptOssMetadata(hf.config), 'gpt-oss.rope.scaling.type': {type: 'string', value: 'longrope'}}, tensors, /gpt-oss rope scaling "longrope" is not supported/],
    ]
    for (const [metadata, files, pattern] of cases) {
      writeFileSync(path, ggufBytes(metadata, {tensors: files}))
      await assert.rejects(loadModel(path), loadError(pattern))
    }
  })
})
