// GGUF files of gpt-oss (MXFP4 experts included), deepseek2 (DeepSeek V2/V3's latent attention and grouped routing)
// and glm4moe, as llama.cpp's converter writes them, load as the checkpoints they were converted from: the test models,
// themselves held to transformers (gpt-oss.test.ts, deepseek-models.test.ts).
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat32} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {f32, GGUF_GLOBAL_NAMES, ggufBytes, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {floatTensor, kvBSplit} from './support/youtu-gguf.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

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

type ExpertForm = 'apart' | 'fused'

/**
 * A gpt-oss checkpoint's tensors as llama.cpp's converter writes them: the fused [experts, hidden, 2 x inter]
 * gate_up (gate and up in alternate columns) as ffn_gate_exps + ffn_up_exps [experts, inter, hidden] (or, fused, one
 * ffn_gate_up_exps of gate rows then up rows), down transposed to [experts, hidden, inter], biases split alike.
 */
function gptOssGgufTensors(dir: string, inter: number, form: ExpertForm): GgufTensorSpec[] {
  return readCheckpointTensors(dir).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GGUF_GLOBAL_NAMES[t.name]) return [floatTensor(GGUF_GLOBAL_NAMES[t.name]!, t.shape, values)]
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
    await assert.rejects(loadModel(mxfp4Path), loadError(/tensor blk\.1\.ffn_down_exps\.weight is IQ2_XXS: its codes index lattice codebooks .*IQ4_XS, TQ1_0, TQ2_0 and MXFP4 tensors/))
  })

  it('a file the gguf Python package wrote (its names, keys and MXFP4 quantizer) gives transformers\' logits within 1e-4 and renders its harmony template', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures', 'gguf-python')
    const expected = JSON.parse(readFileSync(join(fixtures, 'gpt-oss-mxfp4.json'), 'utf8')) as {prompt_token_ids: number[]; logits: number[]}
    const model = await loadModel(join(fixtures, 'gpt-oss-mxfp4.gguf'))
    assert.equal(model.tensors.filter((t) => t.ggmlMxfp4).length, 2 * 3 * model.config.moe!.numExperts)
    assert.deepEqual(model.config.layerWindows, [4, 0])
    const {logits} = await promptLogits(model, 'f32', [expected.prompt_token_ids])
    assert.ok(maxAbsDifference(logits, Float32Array.from(expected.logits)) < 1e-4, `${maxAbsDifference(logits, Float32Array.from(expected.logits))}`)
    const text = model.tokenizer.applyChatTemplate([{role: 'user', content: 'hello'}])
    assert.match(text, /^<\|start\|>system<\|message\|>You are ChatGPT[^]*<\|start\|>user<\|message\|>hello<\|end\|><\|start\|>assistant$/)
  })

  it('refuses a file missing what llama.cpp reads (the expert count, the window, a sinks tensor) or saying what it cannot run', async () => {
    const source = await ensureTestModel('tiny', {variant: 'gptoss'})
    const hf = await loadModel(source)
    const tensors = gptOssGgufTensors(source, hf.config.moe!.expertIntermediateSize, 'apart')
    const path = join(dir, 'gpt-oss-broken.gguf')
    const cases: [Record<string, GgufEntry>, GgufTensorSpec[], RegExp][] = [
      [(({'gpt-oss.expert_count': _, ...rest}) => rest)(gptOssMetadata(hf.config)), tensors, /GGUF metadata gpt-oss\.expert_count is missing/],
      [(({'gpt-oss.attention.sliding_window': _, ...rest}) => rest)(gptOssMetadata(hf.config)), tensors, /GGUF metadata gpt-oss\.attention\.sliding_window is missing/],
      [gptOssMetadata(hf.config), tensors.filter((t) => t.name !== 'blk.1.attn_sinks.weight'), /model\.layers\.1\.self_attn\.sinks is missing/],
      [{...gptOssMetadata(hf.config), 'gpt-oss.rope.scaling.type': {type: 'string', value: 'longrope'}}, tensors, /gpt-oss rope scaling "longrope" is not supported/],
      [{...gptOssMetadata(hf.config), 'gpt-oss.attention.sliding_window_pattern': {type: 'bools', value: [true]}}, tensors, /gpt-oss\.attention\.sliding_window_pattern must hold one true\/false per layer \(2\)/],
    ]
    for (const [metadata, files, pattern] of cases) {
      writeFileSync(path, ggufBytes(metadata, {tensors: files}))
      await assert.rejects(loadModel(path), loadError(pattern))
    }
  })
})

// ---- deepseek2 and glm4moe --------------------------------------------------------------------------------------

const DEEPSEEK_LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm', 'self_attn.q_a_proj': 'attn_q_a', 'self_attn.q_a_layernorm': 'attn_q_a_norm',
  'self_attn.q_b_proj': 'attn_q_b', 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v',
  'self_attn.kv_a_proj_with_mqa': 'attn_kv_a_mqa', 'self_attn.kv_a_layernorm': 'attn_kv_a_norm', 'self_attn.kv_b_proj': 'attn_kv_b',
  'self_attn.o_proj': 'attn_output', 'self_attn.q_norm': 'attn_q_norm', 'self_attn.k_norm': 'attn_k_norm',
  'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down', 'mlp.gate': 'ffn_gate_inp', 'mlp.gate.e_score_correction_bias': 'exp_probs_b',
  'mlp.shared_experts.gate_proj': 'ffn_gate_shexp', 'mlp.shared_experts.up_proj': 'ffn_up_shexp', 'mlp.shared_experts.down_proj': 'ffn_down_shexp',
}

/**
 * A DeepSeek / GLM-4-MoE checkpoint's tensors as llama.cpp's converter writes them: experts stacked into ffn_*_exps,
 * the router bias as exp_probs_b.bias, GLM's post-attention norm under its own name, and (splitKvB) kv_b as attn_k_b
 * [heads, kv_lora_rank, nope] (each head's k rows transposed) and attn_v_b [heads, v, kv_lora_rank].
 */
function deepseekGgufTensors(hf: LoadedModel, source: string, arch: string, splitKvB: boolean): GgufTensorSpec[] {
  const experts = new Map<string, Float32Array[]>()
  const c = hf.config
  return readCheckpointTensors(source).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GGUF_GLOBAL_NAMES[t.name]) return [floatTensor(GGUF_GLOBAL_NAMES[t.name]!, t.shape, values)]
    const expert = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(t.name)
    if (expert) {
      const name = `blk.${expert[1]}.ffn_${expert[3]}_exps.weight`
      const all = [...(experts.get(name) ?? []), values]
      experts.set(name, all)
      if (all.length < c.moe!.numExperts) return []
      const stacked = new Float32Array(all.length * values.length)
      all.forEach((v, e) => stacked.set(v, e * values.length))
      return [floatTensor(name, [all.length, ...t.shape], stacked)]
    }
    const match = /^model\.layers\.(\d+)\.(.+?)(?:\.(weight|bias))?$/.exec(t.name)!
    const [blk, part, kind] = [`blk.${match[1]}`, match[2]!, match[3] ?? 'bias']
    if (part === 'self_attn.kv_b_proj' && splitKvB) return kvBSplit(match[1]!, values, c)
    const name = arch === 'glm4moe' && part === 'post_attention_layernorm' ? 'post_attention_norm' : DEEPSEEK_LAYER[part]!
    return [floatTensor(`${blk}.${name}.${part.endsWith('e_score_correction_bias') ? 'bias' : kind}`, t.shape, values)]
  })
}

/** deepseek2.* / glm4moe.* metadata as llama.cpp's converter writes it (newMla: key_length_mla / value_length_mla, as files since 2025). */
function deepseekMetadata(arch: 'deepseek2' | 'glm4moe', c: LoadedModel['config'], options: {newMla?: boolean; nextn?: number} = {}): Record<string, GgufEntry> {
  const moe = c.moe!, grouped = moe.grouped!
  const rope = c.rotaryDim ?? c.headDim
  const yarn = c.ropeScaling.type === 'yarn' ? c.ropeScaling : null
  const common: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: arch},
    context_length: u32(c.maxPositionEmbeddings), embedding_length: u32(c.hiddenSize), block_count: u32(c.numLayers + (options.nextn ?? 0)),
    feed_forward_length: u32(c.intermediateSize), 'attention.head_count': u32(c.numHeads), 'rope.freq_base': f32(c.ropeTheta),
    'attention.layer_norm_rms_epsilon': f32(c.rmsNormEps), leading_dense_block_count: u32(moe.sparseLayers.indexOf(true)),
    expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_count: u32(moe.numExperts), expert_used_count: u32(moe.numExpertsPerToken),
    expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize), expert_weights_scale: f32(grouped.routedScalingFactor),
    ...(moe.normTopkProb ? {expert_weights_norm: {type: 'bool', value: true}} : {}),
    // V2's softmax gating is llama.cpp's default: older files do not write it.
    ...(grouped.sigmoid ? {expert_gating_func: u32(2)} : {}),
    expert_group_count: u32(grouped.groups), expert_group_used_count: u32(grouped.topkGroups), 'rope.dimension_count': u32(rope),
  }
  const mla = c.mla
  const attention: Record<string, GgufEntry> = arch === 'glm4moe'
    ? {'attention.head_count_kv': u32(c.numKvHeads), 'attention.key_length': u32(c.headDim), 'attention.value_length': u32(c.headDim), ...(options.nextn ? {nextn_predict_layers: u32(options.nextn)} : {})}
    : {
        'attention.head_count_kv': u32(1), 'attention.kv_lora_rank': u32(mla!.kvLoraRank), ...(mla!.qLoraRank > 0 ? {'attention.q_lora_rank': u32(mla!.qLoraRank)} : {}),
        ...(options.newMla
          ? {'attention.key_length': u32(mla!.kvLoraRank + rope), 'attention.value_length': u32(mla!.kvLoraRank), 'attention.key_length_mla': u32(c.headDim), 'attention.value_length_mla': u32(mla!.vHeadDim)}
          : {'attention.key_length': u32(c.headDim), 'attention.value_length': u32(mla!.vHeadDim)}),
      }
  const scaling: Record<string, GgufEntry> = yarn
    ? {'rope.scaling.type': {type: 'string', value: 'yarn'}, 'rope.scaling.factor': f32(yarn.factor), 'rope.scaling.original_context_length': u32(yarn.originalMaxPosition), 'rope.scaling.yarn_log_multiplier': f32(0.1 * 0.8)}
    : {}
  return {
    ...Object.fromEntries(Object.entries({...common, ...attention, ...scaling}).map(([key, value]) => [key === 'general.architecture' ? key : `${arch}.${key}`, value])),
    ...familyVocabMetadata('gpt2', c.vocabSize, 'deepseek-v3'),
  }
}

/** The deepseek-v3 test model with mscale equal to mscale_all_dim (0.8), the YaRN a GGUF file can say. */
async function deepseekV3OneMscale(dir: string): Promise<string> {
  const copy = join(dir, 'hf-deepseek-v3')
  cpSync(await ensureTestModel('tiny', {variant: 'deepseek-v3'}), copy, {recursive: true})
  const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8'))
  writeFileSync(join(copy, 'config.json'), JSON.stringify({...config, rope_scaling: {...config.rope_scaling, mscale: 0.8, mscale_all_dim: 0.8}}))
  return copy
}

/**
 * A one-layer dense deepseek2 file of seeded weights whose attn_k_b (nope 32: whole Q8_0 blocks) is F32, or Q8_0
 * blocks (scale 1/64) holding the same values: a quantized k_b is stored along the dimension the loader transposes.
 */
function kbFile(quantizedKb: boolean, change: {metadata?: Record<string, GgufEntry | null>; tensors?: (t: GgufTensorSpec[]) => GgufTensorSpec[]} = {}): Buffer {
  const [hidden, heads, nope, rope, v, rank, vocab] = [32, 2, 32, 8, 16, 32, 320]
  let state = 11
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31), state >> 16)
  const seeded = (shape: number[], scale = 0.1) => floatTensor('', shape, Float32Array.from({length: shape.reduce((a, b) => a * b)}, () => ((next() % 2001) / 1000 - 1) * scale))
  const ones = (n: number) => floatTensor('', [n], new Float32Array(n).fill(1))
  const codes = Int8Array.from({length: heads * rank * nope}, () => (next() % 255) - 127)
  const kb: GgufTensorSpec = quantizedKb
    ? {name: '', dims: [nope, rank, heads], type: 8, data: Buffer.concat(Array.from({length: codes.length / 32}, (_, b) => Buffer.concat([Buffer.from([0x00, 0x24]), Buffer.from(codes.buffer, b * 32, 32)])))}
    : floatTensor('', [heads, rank, nope], Float32Array.from(codes, (q) => q / 64))
  const tensors: [string, GgufTensorSpec][] = [
    ['token_embd.weight', seeded([vocab, hidden])], ['output_norm.weight', ones(hidden)], ['output.weight', seeded([vocab, hidden])],
    ['blk.0.attn_norm.weight', ones(hidden)], ['blk.0.attn_q.weight', seeded([heads * (nope + rope), hidden])],
    ['blk.0.attn_kv_a_mqa.weight', seeded([rank + rope, hidden])], ['blk.0.attn_kv_a_norm.weight', ones(rank)], ['blk.0.attn_k_b.weight', kb],
    ['blk.0.attn_v_b.weight', seeded([heads, v, rank])], ['blk.0.attn_output.weight', seeded([hidden, heads * v])], ['blk.0.ffn_norm.weight', ones(hidden)],
    ['blk.0.ffn_gate.weight', seeded([32, hidden])], ['blk.0.ffn_up.weight', seeded([32, hidden])], ['blk.0.ffn_down.weight', seeded([hidden, 32])],
  ]
  const metadata: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: 'deepseek2'},
    ...Object.fromEntries(Object.entries({
      context_length: 64, embedding_length: hidden, block_count: 1, feed_forward_length: 32, 'attention.head_count': heads, 'attention.head_count_kv': 1,
      leading_dense_block_count: 1, expert_count: 2, expert_used_count: 1, expert_feed_forward_length: 16, 'attention.kv_lora_rank': rank,
      'attention.key_length': rank + rope, 'attention.value_length': rank, 'attention.key_length_mla': nope + rope, 'attention.value_length_mla': v, 'rope.dimension_count': rope,
    }).map(([key, value]) => [`deepseek2.${key}`, u32(value)])),
    'deepseek2.attention.layer_norm_rms_epsilon': f32(1e-6),
    ...familyVocabMetadata('gpt2', vocab, 'deepseek-v3'),
  }
  const edited = Object.entries({...metadata, ...change.metadata}).filter((entry): entry is [string, GgufEntry] => entry[1] !== null)
  const named = tensors.map(([name, t]) => ({...t, name}))
  return ggufBytes(Object.fromEntries(edited), {tensors: change.tensors ? change.tensors(named) : named})
}

describe('GGUF deepseek2 and glm4moe files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-deepseek-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  const cases = [
    {variant: 'deepseek-v2', arch: 'deepseek2', splitKvB: false, newMla: false},
    {variant: 'deepseek-v3', arch: 'deepseek2', splitKvB: true, newMla: true},
    {variant: 'glm4-moe', arch: 'glm4moe', splitKvB: false, newMla: false},
  ] as const
  for (const {variant, arch, splitKvB, newMla} of cases) {
    it(`${arch} (${variant}${splitKvB ? ', attn_k_b / attn_v_b' : ''}): llama.cpp's names and metadata give the checkpoint's bit-identical logits`, async () => {
      const source = variant === 'deepseek-v3' ? await deepseekV3OneMscale(dir) : await ensureTestModel('tiny', {variant})
      const hf = await loadModel(source)
      const path = join(dir, `${variant}.gguf`)
      // GLM's nextn (MTP) layer: counted in block_count, its tensors in the file, never run.
      const nextn = arch === 'glm4moe' ? [floatTensor(`blk.${hf.config.numLayers}.nextn.eh_proj.weight`, [hf.config.hiddenSize, 2 * hf.config.hiddenSize], new Float32Array(2 * hf.config.hiddenSize ** 2)),
        floatTensor(`blk.${hf.config.numLayers}.attn_norm.weight`, [hf.config.hiddenSize], new Float32Array(hf.config.hiddenSize))] : []
      writeFileSync(path, ggufBytes(deepseekMetadata(arch, hf.config, {newMla, nextn: nextn.length > 0 ? 1 : 0}), {tensors: [...deepseekGgufTensors(hf, source, arch, splitKvB), ...nextn]}))
      const gguf = await loadModel(path)
      const features = (m: LoadedModel) => [m.config.architecture, m.config.numLayers, m.config.headDim, m.config.rotaryDim, m.config.attentionScale, m.config.ropeScaling, {...m.config.mla, kvBApart: undefined}, m.config.moe, m.config.qkNorm]
      assert.deepEqual(features(gguf), features(hf))
      assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
    })
  }

  it('a Q8_0 attn_k_b (blocks along nope, transposed at load) gives the logits of the F32 one holding its values', async () => {
    const [floatPath, quantizedPath] = [join(dir, 'kb-f32.gguf'), join(dir, 'kb-q8_0.gguf')]
    writeFileSync(floatPath, kbFile(false))
    writeFileSync(quantizedPath, kbFile(true))
    const quantized = await loadModel(quantizedPath)
    assert.equal(quantized.tensors.find((t) => t.name === 'model.layers.0.self_attn.k_b_proj.1.weight')?.blockFormat, 'q8_0')
    assert.equal(maxAbsDifference((await promptLogits(quantized, 'f32')).logits, (await promptLogits(await loadModel(floatPath), 'f32')).logits), 0)
  })

  it('refuses malformed or incomplete files, naming the key or tensor', async () => {
    const path = join(dir, 'deepseek-broken.gguf')
    const cases: [Parameters<typeof kbFile>[1], RegExp][] = [
      [{metadata: {'deepseek2.attention.kv_lora_rank': null}}, /GGUF metadata deepseek2\.attention\.kv_lora_rank is missing/],
      // Without experts only an all-dense file (Youtu-LLM's: gguf-youtu.test.ts) loads.
      [{metadata: {'deepseek2.expert_count': null, 'deepseek2.leading_dense_block_count': u32(0)}}, /GGUF metadata deepseek2\.expert_count is missing/],
      [{metadata: {'deepseek2.expert_gating_func': u32(3)}}, /deepseek2\.expert_gating_func 3 is not supported \(1 softmax, 2 sigmoid\)/],
      [{metadata: {'deepseek2.rope.scaling.type': {type: 'string', value: 'linear'}}}, /deepseek2 rope scaling "linear" is not supported \(none or yarn\)/],
      [{tensors: (t) => t.filter((x) => x.name !== 'blk.0.attn_kv_a_norm.weight')}, /self_attn\.kv_a_layernorm\.weight is missing/],
      [{tensors: (t) => t.map((x) => (x.name === 'blk.0.attn_k_b.weight' ? {...x, dims: [x.dims[0]!, x.dims[1]! * x.dims[2]!]} : x))}, /tensor blk\.0\.attn_k_b\.weight has shape \[64, 32\]; llama\.cpp writes it per head, 3D/],
      [{tensors: (t) => t.filter((x) => x.name !== 'blk.0.attn_v_b.weight')}, /self_attn\.v_b_proj\.0\.weight is missing/],
    ]
    for (const [change, pattern] of cases) {
      writeFileSync(path, kbFile(false, change))
      await assert.rejects(loadModel(path), loadError(pattern))
    }
  })
})
