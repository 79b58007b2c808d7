// Writes a loaded Granite 4.0 hybrid or Mamba2 test model as llama.cpp's converter writes its GGUF file
// (conversion/granite.py, mamba.py): Mamba-2 tensors renamed (dt_bias as ssm_dt.bias), A stored as -exp(A_log), conv1d
// squeezed, A and D as [heads, 1], the gated norm as [groups, inner / groups]; experts fused per layer, q/k rows permuted
// for llama.cpp's rope (LlamaModel.permute); attention.head_count_kv per layer (0 for a mixer), the ssm.* keys and
// Granite's multipliers.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import type {Mamba2Features} from '../../src/engine/model/mamba2-config.js'
import {readSafetensorsHeader, readTensorFloat64} from '../../src/engine/model/safetensors.js'
import {nativeOps} from '../../src/engine/native.js'
import {f32, GGUF_GLOBAL_NAMES, llamaPermuted, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts, ggufSpec} from './gguf-fused-experts.js'
import {familyVocabMetadata} from './llama-gguf.js'

const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.shared_expert.gate_proj.weight': 'ffn_gate_shexp.weight', 'mlp.shared_expert.up_proj.weight': 'ffn_up_shexp.weight', 'mlp.shared_expert.down_proj.weight': 'ffn_down_shexp.weight',
  'mamba.in_proj.weight': 'ssm_in.weight', 'mamba.conv1d.weight': 'ssm_conv1d.weight', 'mamba.conv1d.bias': 'ssm_conv1d.bias', 'mamba.dt_bias': 'ssm_dt.bias',
  'mamba.A_log': 'ssm_a', 'mamba.D': 'ssm_d', 'mamba.norm.weight': 'ssm_norm.weight', 'mamba.out_proj.weight': 'ssm_out.weight',
}

/**
 * One tensor as the converter stores a Mamba-2 mixer's (and any other tensor as it is, dims reversed): A as -exp(A_log),
 * A and D as [heads, 1], conv1d squeezed to [channels, kernel], the gated norm as [groups, inner / groups].
 */
export function mamba2TensorSpec(name: string, shape: readonly number[], values: Float32Array<ArrayBuffer>, m: Mamba2Features): GgufTensorSpec {
  if (name.endsWith('.ssm_a')) return ggufSpec(name, [1, m.heads], values.map((a) => -Math.exp(a)))
  if (name.endsWith('.ssm_d')) return ggufSpec(name, [1, m.heads], values)
  if (name.endsWith('.ssm_conv1d.weight')) return ggufSpec(name, [m.convKernel, shape[0]!], values)
  if (name.endsWith('.ssm_norm.weight')) return ggufSpec(name, [values.length / m.groups, m.groups], values)
  return ggufSpec(name, [...shape].reverse(), values)
}

/** Every tensor of `hf` as the converter stores it; per-expert tensors fused back into ffn_{gate,up,down}_exps. */
export function hybridTensors(hf: LoadedModel, arch: 'granitehybrid' | 'mamba2'): GgufTensorSpec[] {
  const c = hf.config
  const m = c.hybrid!.mamba2!
  const specs: GgufTensorSpec[] = []
  const experts = new FusedExperts()
  for (const tensor of hf.tensors) {
    let values: Float32Array<ArrayBuffer> = Float32Array.from(readTensorFloat64(tensor))
    if (experts.take(tensor, values)) continue
    const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const name = layer ? `blk.${layer[1]}.${LAYER[layer[2]!]}` : GGUF_GLOBAL_NAMES[tensor.name]!
    const heads = arch !== 'granitehybrid' ? 0 : name.endsWith('.attn_q.weight') ? c.numHeads : name.endsWith('.attn_k.weight') ? c.numKvHeads : 0
    if (heads > 0) values = llamaPermuted(values, heads, tensor.shape[1]!)
    specs.push(mamba2TensorSpec(name, tensor.shape, values, m))
  }
  specs.push(...experts.specs())
  return specs
}

/**
 * Every matrix at Q8_0 but the conv1d, the routers and norms, which llama.cpp's quantizer keeps in F32, and those whose
 * rows are not whole 32-value blocks (kept F32 here; llama.cpp falls back to another type).
 */
export function q8_0HybridMatrices(tensors: GgufTensorSpec[]): GgufTensorSpec[] {
  return tensors.map((t) => {
    if (t.dims.length < 2 || t.dims[0]! % 32 !== 0 || /ffn_gate_inp|_norm|ssm_conv1d|ssm_a|ssm_d/.test(t.name)) return t
    const cols = t.dims[0]!, rows = t.dims.slice(1).reduce((a, b) => a * b, 1)
    const blocks = nativeOps().quantizeRows(new Float32Array(new Uint8Array(t.data).buffer), rows, cols, 'q8_0')
    return {...t, type: 8, data: Buffer.from(blocks.buffer, blocks.byteOffset, blocks.byteLength)}
  })
}

/** The metadata the converter writes for `hf` (Granite's from its config.json, as the converter reads hparams). */
export function hybridMetadata(hf: LoadedModel, arch: 'granitehybrid' | 'mamba2'): Record<string, GgufEntry> {
  const c = hf.config
  const m = c.hybrid!.mamba2!
  const json = JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8')) as Record<string, unknown>
  const common: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps),
    [`${arch}.ssm.conv_kernel`]: u32(m.convKernel), [`${arch}.ssm.state_size`]: u32(m.stateSize), [`${arch}.ssm.group_count`]: u32(m.groups),
    [`${arch}.ssm.inner_size`]: u32(m.heads * m.headDim), [`${arch}.ssm.time_step_rank`]: u32(m.heads),
    ...familyVocabMetadata('gpt2', c.vocabSize),
  }
  if (arch === 'mamba2') {
    return {...common, 'mamba2.context_length': u32(1 << 20), 'mamba2.feed_forward_length': u32(0), 'mamba2.attention.head_count': u32(0)}
  }
  const moe = c.moe
  const rope = json.position_embedding_type === 'rope'
  return {
    ...common,
    'granitehybrid.context_length': u32(rope ? c.maxPositionEmbeddings : 1 << 20), 'granitehybrid.feed_forward_length': u32(Number(json.intermediate_size)),
    'granitehybrid.attention.head_count': u32(c.numHeads),
    'granitehybrid.attention.head_count_kv': {type: 'i32s', value: c.hybrid!.linearLayers.map((mixer) => (mixer ? 0 : c.numKvHeads))},
    'granitehybrid.rope.dimension_count': u32(c.headDim), 'granitehybrid.rope.freq_base': f32(c.ropeTheta),
    // The converter writes false for every GraniteMoeHybrid checkpoint; true is what llama.cpp rotates by.
    'granitehybrid.rope.scaling.finetuned': {type: 'bool', value: rope},
    'granitehybrid.attention.scale': f32(Number(json.attention_multiplier)), 'granitehybrid.embedding_scale': f32(Number(json.embedding_multiplier)),
    'granitehybrid.residual_scale': f32(Number(json.residual_multiplier)), 'granitehybrid.logit_scale': f32(Number(json.logits_scaling)),
    'granitehybrid.expert_shared_feed_forward_length': u32(Number(json.shared_intermediate_size)),
    ...(moe ? {'granitehybrid.expert_count': u32(moe.numExperts), 'granitehybrid.expert_used_count': u32(moe.numExpertsPerToken)} : {}),
  }
}

type GatedDeltaArch = 'qwen3next' | 'qwen35' | 'qwen35moe'

/** Row blocks of `size` rows from grouped order ([key head][value head of the group]) to tiled ([value head of the group][key head]). */
function tiled(values: Float32Array, keyHeads: number, perKey: number, size: number, cols: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(values.length)
  const block = size * cols
  for (let g = 0; g < keyHeads; g++) for (let r = 0; r < perKey; r++) out.set(values.subarray((g * perKey + r) * block, (g * perKey + r + 1) * block), (r * keyHeads + g) * block)
  return out
}

/** Columns in blocks of `size` reordered as `tiled` does rows ([rows, cols] row-major). */
function tiledColumns(values: Float32Array, rows: number, keyHeads: number, perKey: number, size: number): Float32Array<ArrayBuffer> {
  const cols = keyHeads * perKey * size
  const out = new Float32Array(values.length)
  for (let row = 0; row < rows; row++) out.set(tiled(values.subarray(row * cols, (row + 1) * cols), keyHeads, perKey, size, 1), row * cols)
  return out
}

/**
 * A Qwen3-Next / Qwen 3.5 test checkpoint (read from its safetensors, as the converter reads it) as llama.cpp's
 * converter writes it (conversion/qwen.py): A as -exp(A_log), dt_bias as ssm_dt.bias, conv1d squeezed, every norm but
 * the linear layers' gated one with its 1 added, Qwen3-Next's in_proj_qkvz split into attn_qkv [all q | all k | all v]
 * and attn_gate, Qwen 3.5's value heads tiled over the key heads where there are more, experts fused per layer.
 */
export function gatedDeltaTensors(hf: LoadedModel, arch: GatedDeltaArch): GgufTensorSpec[] {
  const h = hf.config.hybrid!
  const [keyHeads, perKey, kDim, vDim] = [h.linearNumKeyHeads, h.linearNumValueHeads / h.linearNumKeyHeads, h.linearKeyHeadDim, h.linearValueHeadDim]
  const reorder = arch !== 'qwen3next' && perKey > 1
  const specs: GgufTensorSpec[] = []
  const experts = new FusedExperts()
  const names: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'post_attention_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
    'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
    'mlp.shared_expert.gate_proj.weight': 'ffn_gate_shexp.weight', 'mlp.shared_expert.up_proj.weight': 'ffn_up_shexp.weight',
    'mlp.shared_expert.down_proj.weight': 'ffn_down_shexp.weight', 'mlp.shared_expert_gate.weight': 'ffn_gate_inp_shexp.weight',
    'linear_attn.in_proj_qkv.weight': 'attn_qkv.weight', 'linear_attn.in_proj_z.weight': 'attn_gate.weight', 'linear_attn.in_proj_b.weight': 'ssm_beta.weight',
    'linear_attn.in_proj_a.weight': 'ssm_alpha.weight', 'linear_attn.in_proj_ba.weight': 'ssm_ba.weight', 'linear_attn.conv1d.weight': 'ssm_conv1d.weight',
    'linear_attn.dt_bias': 'ssm_dt.bias', 'linear_attn.A_log': 'ssm_a', 'linear_attn.norm.weight': 'ssm_norm.weight', 'linear_attn.out_proj.weight': 'ssm_out.weight',
  }
  for (const tensor of readSafetensorsHeader(join(hf.dir, 'model.safetensors'))) {
    let values: Float32Array<ArrayBuffer> = Float32Array.from(readTensorFloat64(tensor))
    const cols = tensor.shape.length === 2 ? tensor.shape[1]! : 1
    if (experts.take(tensor, values)) continue
    const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const suffix = layer?.[2]
    const name = layer ? `blk.${layer[1]}.${names[suffix!]}` : GGUF_GLOBAL_NAMES[tensor.name]!
    if (/norm\.weight$/.test(tensor.name) && suffix !== 'linear_attn.norm.weight') values = values.map((w) => w + 1)
    if (reorder) {
      const keys = 2 * keyHeads * kDim
      if (suffix === 'linear_attn.in_proj_qkv.weight' || suffix === 'linear_attn.conv1d.weight') {
        const width = tensor.shape.length === 2 ? cols : tensor.shape[2]!
        values.set(tiled(values.subarray(keys * width), keyHeads, perKey, vDim, width), keys * width)
      }
      if (suffix === 'linear_attn.in_proj_z.weight') values = tiled(values, keyHeads, perKey, vDim, cols)
      if (suffix === 'linear_attn.in_proj_b.weight' || suffix === 'linear_attn.in_proj_a.weight') values = tiled(values, keyHeads, perKey, 1, cols)
      if (suffix === 'linear_attn.A_log' || suffix === 'linear_attn.dt_bias') values = tiled(values, keyHeads, perKey, 1, 1)
      if (suffix === 'linear_attn.out_proj.weight') values = tiledColumns(values, tensor.shape[0]!, keyHeads, perKey, vDim)
    }
    if (suffix === 'linear_attn.in_proj_qkvz.weight') {
      // [q | k | v | z] per key head -> [all q | all k | all v] and [all z].
      const widths = [kDim, kDim, perKey * vDim, perKey * vDim].map((rows) => rows * cols)
      const per = widths.reduce((a, b) => a + b, 0)
      const parts = widths.map((width, i) => {
        const start = widths.slice(0, i).reduce((a, b) => a + b, 0)
        return Array.from({length: keyHeads}, (_, g) => values.subarray(g * per + start, g * per + start + width))
      })
      const join = (blocks: Float32Array[]) => {
        const out = new Float32Array(blocks.reduce((n, b) => n + b.length, 0))
        let at = 0
        for (const b of blocks) out.set(b, (at += b.length) - b.length)
        return out
      }
      const qkv = join([...parts[0]!, ...parts[1]!, ...parts[2]!])
      specs.push(ggufSpec(`blk.${layer![1]}.attn_qkv.weight`, [cols, qkv.length / cols], qkv), ggufSpec(`blk.${layer![1]}.attn_gate.weight`, [cols, perKey * vDim * keyHeads], join(parts[3]!)))
      continue
    }
    if (suffix === 'linear_attn.A_log') values = values.map((a) => -Math.exp(a))
    const shape = suffix === 'linear_attn.conv1d.weight' ? [tensor.shape[0]!, tensor.shape[2]!] : tensor.shape
    specs.push(ggufSpec(name, [...shape].reverse(), values))
  }
  specs.push(...experts.specs())
  return specs
}

/** The metadata qwen.py writes for a Qwen3-Next / Qwen 3.5 test checkpoint (its full layers every 2nd, as the variants lay them). */
export function gatedDeltaMetadata(hf: LoadedModel, arch: GatedDeltaArch): Record<string, GgufEntry> {
  const c = hf.config
  const h = c.hybrid!
  const json = JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8')) as Record<string, unknown>
  const moe = c.moe
  return {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    ...(json.intermediate_size != null ? {[`${arch}.feed_forward_length`]: u32(Number(json.intermediate_size))} : {}),
    [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim),
    [`${arch}.rope.freq_base`]: f32(c.ropeTheta), [`${arch}.rope.dimension_count`]: u32(c.rotaryDim ?? c.headDim),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps),
    [`${arch}.ssm.conv_kernel`]: u32(h.convKernel), [`${arch}.ssm.state_size`]: u32(h.linearKeyHeadDim), [`${arch}.ssm.group_count`]: u32(h.linearNumKeyHeads),
    [`${arch}.ssm.time_step_rank`]: u32(h.linearNumValueHeads), [`${arch}.ssm.inner_size`]: u32(h.linearNumValueHeads * h.linearValueHeadDim),
    [`${arch}.full_attention_interval`]: u32(2),
    ...(moe ? {
      [`${arch}.expert_count`]: u32(moe.numExperts), [`${arch}.expert_used_count`]: u32(moe.numExpertsPerToken),
      [`${arch}.expert_feed_forward_length`]: u32(moe.expertIntermediateSize), [`${arch}.expert_shared_feed_forward_length`]: u32(moe.sharedExpertIntermediateSize),
    } : {}),
    ...familyVocabMetadata('qwen2', c.vocabSize, 'qwen2'),
  }
}
