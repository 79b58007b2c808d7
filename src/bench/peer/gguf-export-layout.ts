// What llama.cpp's converter writes for each architecture the GGUF writer covers: the tensors of a layer (fused,
// permuted or shifted as it stores them), the metadata beyond the llama keys, and the checks a file could not express.
import type {ModelConfig} from '../../engine/model/model-config.js'

/** llama.cpp's general.architecture for each HF architecture written here. */
export const GGUF_EXPORT_ARCHITECTURES: Record<string, string> = {
  LlamaForCausalLM: 'llama', MistralForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3',
  GemmaForCausalLM: 'gemma', Gemma2ForCausalLM: 'gemma2', Gemma3ForCausalLM: 'gemma3', Phi3ForCausalLM: 'phi3',
}

/** One GGUF tensor: the HF tensors whose rows it stacks, and how its values are changed on the way. */
export interface ExportTensorSpec {
  gguf: string
  hf: string[]
  vector: boolean
  /** Heads whose q/k rows are interleaved for llama.cpp's (non-NEOX) rope; 0: rows as stored. */
  permuteHeads: number
  /** Gemma's (1 + weight) norms are stored with the 1 added. */
  plusOne: boolean
}

export type ExportMetadata = {type: 'u32' | 'f32'; value: number}

const GEMMA_ARCHITECTURES = new Set(['gemma', 'gemma2', 'gemma3'])

/** The per-layer tensors of layer `layer`, in the order llama.cpp's converter writes them. */
export function layerTensorSpecs(c: ModelConfig, arch: string, layer: number): ExportTensorSpec[] {
  const hf = `model.layers.${layer}`
  const gguf = `blk.${layer}`
  const plusOne = GEMMA_ARCHITECTURES.has(arch)
  const matrix = (name: string, parts: string[], permuteHeads = 0): ExportTensorSpec => ({gguf: `${gguf}.${name}`, hf: parts.map((p) => `${hf}.${p}`), vector: false, permuteHeads, plusOne: false})
  const vector = (name: string, part: string, norm = true): ExportTensorSpec => ({gguf: `${gguf}.${name}`, hf: [`${hf}.${part}`], vector: true, permuteHeads: 0, plusOne: plusOne && norm})
  if (arch === 'phi3') {
    // Phi-3's checkpoint fusions, kept: q|k|v rows, and gate rows above up rows.
    return [
      vector('attn_norm.weight', 'input_layernorm.weight'),
      matrix('attn_qkv.weight', ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight']),
      matrix('attn_output.weight', ['self_attn.o_proj.weight']),
      vector('ffn_norm.weight', 'post_attention_layernorm.weight'),
      matrix('ffn_up.weight', ['mlp.gate_proj.weight', 'mlp.up_proj.weight']),
      matrix('ffn_down.weight', ['mlp.down_proj.weight']),
    ]
  }
  // Only llama's q/k rows are interleaved for llama.cpp's rope; the others use its NEOX (rotate_half) rope.
  const ropeHeads = (heads: number) => (arch === 'llama' ? heads : 0)
  // Llama's attention_bias: this exporter writes q/k/v biases only, so the o_proj bias would be lost.
  if (c.attentionOutputBias) throw new Error(`GGUF ${arch} export does not write an o_proj bias (attention_bias)`)
  if (c.mlpBias) throw new Error(`GGUF ${arch} export does not write MLP biases (mlp_bias)`)
  const specs = [
    vector('attn_norm.weight', 'input_layernorm.weight'),
    matrix('attn_q.weight', ['self_attn.q_proj.weight'], ropeHeads(c.numHeads)),
    matrix('attn_k.weight', ['self_attn.k_proj.weight'], ropeHeads(c.numKvHeads)),
    matrix('attn_v.weight', ['self_attn.v_proj.weight']),
  ]
  if (c.attentionBias) for (const part of ['q', 'k', 'v']) specs.push(vector(`attn_${part}.bias`, `self_attn.${part}_proj.bias`, false))
  if (c.qkNorm) specs.push(vector('attn_q_norm.weight', 'self_attn.q_norm.weight'), vector('attn_k_norm.weight', 'self_attn.k_norm.weight'))
  specs.push(matrix('attn_output.weight', ['self_attn.o_proj.weight']))
  // Gemma 2/3's sandwich: ffn_norm is the pre-feedforward norm, the attention's output norm is post_attention_norm.
  if (c.sandwichNorms) {
    specs.push(vector('post_attention_norm.weight', 'post_attention_layernorm.weight'), vector('ffn_norm.weight', 'pre_feedforward_layernorm.weight'))
  } else {
    specs.push(vector('ffn_norm.weight', 'post_attention_layernorm.weight'))
  }
  specs.push(matrix('ffn_gate.weight', ['mlp.gate_proj.weight']), matrix('ffn_up.weight', ['mlp.up_proj.weight']), matrix('ffn_down.weight', ['mlp.down_proj.weight']))
  if (c.sandwichNorms) specs.push(vector('post_ffw_norm.weight', 'post_feedforward_layernorm.weight'))
  return specs
}

/** Whether the global norm is stored with Gemma's 1 added. */
export function normPlusOne(arch: string): boolean {
  return GEMMA_ARCHITECTURES.has(arch)
}

/** llama.cpp's fixed sliding-layer patterns: every 2nd (Gemma 2) or 6th (Gemma 3) layer full; Phi-3 slides on all. */
const SLIDING_PATTERN: Record<string, number> = {gemma2: 2, gemma3: 6, phi3: 0}

/**
 * Metadata beyond the llama keys (overriding them where they differ), and the F32 tensors llama.cpp adds (LongRoPE
 * factors). Throws where the model has something llama.cpp's file for it cannot say, so no file runs another model.
 */
export function archExtras(c: ModelConfig, arch: string): {metadata: Record<string, ExportMetadata>; tensors: {name: string; values: Float32Array}[]} {
  const metadata: Record<string, ExportMetadata> = {}
  const tensors: {name: string; values: Float32Array}[] = []
  const pattern = SLIDING_PATTERN[arch]
  const windows = c.layerWindows ?? []
  if (pattern !== undefined) {
    const window = Math.max(0, ...windows)
    const expected = Array.from({length: c.numLayers}, (_, i) => (pattern === 0 || (i + 1) % pattern !== 0 ? window : 0))
    if (windows.length > 0 && windows.some((w, i) => w !== expected[i])) {
      throw new Error(`GGUF ${arch} files slide on ${pattern === 0 ? 'every layer' : `all but every ${pattern}th layer`}; this model's windows are [${windows.join(', ')}]`)
    }
    if (window > 0 || arch === 'phi3') metadata[`${arch}.attention.sliding_window`] = {type: 'u32', value: window}
  } else if (windows.length > 0) {
    throw new Error(`GGUF ${arch} files carry no sliding window; this model has [${windows.join(', ')}]`)
  }
  if (arch === 'gemma2' || arch === 'gemma3') {
    // llama.cpp implies the attention scale: 1/sqrt(hidden / heads) for the 27B models, 1/sqrt(head size) otherwise.
    const largest = c.numLayers === (arch === 'gemma2' ? 46 : 62)
    const scale = 1 / Math.sqrt(largest ? c.hiddenSize / c.numHeads : c.headDim)
    if (Math.abs(c.attentionScale - scale) > 1e-12) throw new Error(`GGUF ${arch} files imply the attention scale ${scale}; this model's query_pre_attn_scalar gives ${c.attentionScale}`)
    if (c.attnLogitSoftcap > 0) metadata[`${arch}.attn_logit_softcapping`] = {type: 'f32', value: c.attnLogitSoftcap}
    if (c.finalLogitSoftcap > 0) metadata[`${arch}.final_logit_softcapping`] = {type: 'f32', value: c.finalLogitSoftcap}
    if (arch === 'gemma2' && (c.attnLogitSoftcap === 0 || c.finalLogitSoftcap === 0)) throw new Error('GGUF gemma2 files always soft-cap (an absent key means 50 / 30)')
    if (arch === 'gemma3' && (c.ropeLocalTheta ?? 10000) !== 10000) throw new Error(`GGUF gemma3 files rotate sliding layers with base 10000; this model's is ${c.ropeLocalTheta}`)
  }
  const rope = c.ropeScaling
  if (rope.type === 'longrope') {
    if (arch !== 'phi3') throw new Error(`GGUF ${arch} files do not carry longrope scaling`)
    metadata['phi3.context_length'] = {type: 'u32', value: rope.maxPosition}
    metadata['phi3.rope.scaling.original_context_length'] = {type: 'u32', value: rope.originalMaxPosition}
    metadata['phi3.rope.scaling.attn_factor'] = {type: 'f32', value: rope.attentionFactor}
    tensors.push({name: 'rope_factors_long.weight', values: Float32Array.from(rope.longFactor)}, {name: 'rope_factors_short.weight', values: Float32Array.from(rope.shortFactor)})
  } else if (rope.type === 'yarn') {
    throw new Error('GGUF export does not write yarn rope scaling')
  }
  return {metadata, tensors}
}
