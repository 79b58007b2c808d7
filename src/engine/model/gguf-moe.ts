// Mixture-of-experts GGUF files (llama with experts = Mixtral, qwen2moe, qwen3moe (qwen3vlmoe's text too), olmoe, granitemoe with or without a shared expert): their config.json keys and their expert tensors under the engine's names.
import {ModelLoadError, quotedValue} from '../errors.js'
import {GGUF_DEEPSEEK_ARCHITECTURES} from './gguf-deepseek.js'
import {GGUF_GEMMA4_ARCHITECTURES} from './gguf-gemma4.js'
import {GGUF_HYBRID_ARCHITECTURES} from './gguf-hybrid.js'
import {GGUF_MOE_FAMILY_ARCHITECTURES} from './gguf-moe-families.js'
import {isQwen3MoeGguf} from './gguf-vl-text.js'
import type {TensorInfo} from './safetensors.js'

/** The HF architecture and config.json keys a GGUF file's expert metadata stands for; null for a dense file. */
export function ggufMoeConfigKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): {architecture: string; modelType: string; keys: Record<string, unknown>} | null {
  const experts = get('expert_count')
  // gpt-oss's experts (gguf-gpt-oss.ts), DeepSeek's grouped ones (gguf-deepseek.ts), Llama 4's (gguf-llama4.ts) and
  // the hybrid families' (gguf-hybrid.ts), the other MoE families' (gguf-moe-families.ts) and Gemma 4's MoE block
  // (gguf-gemma4.ts) are read with the rest of their config.
  if (arch === 'gpt-oss' || GGUF_DEEPSEEK_ARCHITECTURES[arch] || arch === 'llama4' || GGUF_HYBRID_ARCHITECTURES[arch] || GGUF_MOE_FAMILY_ARCHITECTURES[arch] || GGUF_GEMMA4_ARCHITECTURES[arch]) return null
  if (experts === undefined || experts === 0) {
    if (arch === 'qwen2moe' || isQwen3MoeGguf(arch) || arch === 'olmoe' || arch === 'granitemoe') throw new ModelLoadError(`${path}: GGUF metadata ${arch}.expert_count is missing`)
    return null
  }
  // llama.cpp's softmax gating (1) is the only one these architectures use; sigmoid gating (2) is DeepSeek's.
  const gating = get('expert_gating_func')
  if (gating !== undefined && gating !== 1) throw new ModelLoadError(`${path}: ${arch}.expert_gating_func ${quotedValue(gating)} is not supported (softmax routing only).`)
  const common = {num_experts: experts, num_experts_per_tok: get('expert_used_count') ?? null}
  // llama.cpp renormalises the top-k weights for Mixtral and Qwen3-MoE and not for Qwen2-MoE, unless the file says.
  const normalized = (fallback: boolean) => get('expert_weights_norm') ?? fallback
  if (arch === 'llama' || arch === 'mistral') {
    return {architecture: 'MixtralForCausalLM', modelType: 'mixtral', keys: {...common}}
  }
  // OLMoE and GraniteMoE experts are as wide as feed_forward_length (intermediate_size); GraniteMoE renormalises its
  // top-k (a softmax over the chosen logits), OLMoE does not unless the file says.
  if (arch === 'olmoe') return {architecture: 'OlmoeForCausalLM', modelType: 'olmoe', keys: {...common, norm_topk_prob: normalized(false)}}
  if (arch === 'granitemoe') {
    // GraniteMoeShared's files are granitemoe with a shared expert (ffn_{gate,up,down}_shexp).
    const shared = get('expert_shared_feed_forward_length')
    if (shared === undefined && tensorNames.has('blk.0.ffn_up_shexp.weight')) throw new ModelLoadError(`${path}: GGUF metadata granitemoe.expert_shared_feed_forward_length is missing (the file has ffn_*_shexp tensors)`)
    if (shared !== undefined) return {architecture: 'GraniteMoeSharedForCausalLM', modelType: 'granitemoeshared', keys: {...common, shared_intermediate_size: shared}}
    return {architecture: 'GraniteMoeForCausalLM', modelType: 'granitemoe', keys: {...common}}
  }
  // A layer without a router is dense (Qwen's mlp_only_layers, decoder_sparse_step); llama.cpp's own files have none.
  const layers = Number(get('block_count'))
  const denseLayers = Number.isInteger(layers) && layers > 0 && layers <= tensorNames.size ? [...Array(layers).keys()].filter((l) => !tensorNames.has(`blk.${l}.ffn_gate_inp.weight`)) : []
  const qwen = {...common, moe_intermediate_size: get('expert_feed_forward_length') ?? null, decoder_sparse_step: 1, mlp_only_layers: denseLayers}
  if (arch === 'qwen2moe') {
    return {
      architecture: 'Qwen2MoeForCausalLM', modelType: 'qwen2_moe',
      keys: {...qwen, norm_topk_prob: normalized(false), shared_expert_intermediate_size: get('expert_shared_feed_forward_length') ?? null},
    }
  }
  if (isQwen3MoeGguf(arch)) return {architecture: 'Qwen3MoeForCausalLM', modelType: 'qwen3_moe', keys: {...qwen, norm_topk_prob: normalized(true)}}
  throw new ModelLoadError(`${path}: ${arch}.expert_count ${quotedValue(experts)}: mixture-of-experts ${arch} files are not supported (llama, qwen2moe, qwen3moe, olmoe, granitemoe).`)
}

/** Per-layer GGUF tensor suffix -> engine name: router, experts (3D, or Mixtral's older one tensor per expert), shared expert. */
const MOE_LAYER_NAMES: Record<string, string> = {
  'ffn_gate_inp.weight': 'mlp.gate.weight',
  'ffn_gate_exps.weight': 'mlp.experts.gate_proj.weight', 'ffn_up_exps.weight': 'mlp.experts.up_proj.weight', 'ffn_down_exps.weight': 'mlp.experts.down_proj.weight',
  'ffn_gate_shexp.weight': 'mlp.shared_expert.gate_proj.weight', 'ffn_up_shexp.weight': 'mlp.shared_expert.up_proj.weight',
  'ffn_down_shexp.weight': 'mlp.shared_expert.down_proj.weight', 'ffn_gate_inp_shexp.weight': 'mlp.shared_expert_gate.weight',
  // gpt-oss's expert biases, and its experts' gate and up as one tensor (gate rows then up rows) when converted fused.
  'ffn_gate_exps.bias': 'mlp.experts.gate_proj.bias', 'ffn_up_exps.bias': 'mlp.experts.up_proj.bias', 'ffn_down_exps.bias': 'mlp.experts.down_proj.bias',
  'ffn_gate_up_exps.weight': 'mlp.experts.gate_up_proj.weight', 'ffn_gate_up_exps.bias': 'mlp.experts.gate_up_proj.bias',
}

/** The engine name of a GGUF expert tensor (3D ones still fused: ggufExpertTensors splits them), or null. */
export function ggufMoeName(ggufName: string): string | null {
  const match = /^blk\.(\d+)\.(.+)$/.exec(ggufName)
  if (!match) return null
  const perExpert = /^ffn_(gate|up|down)\.(\d+)\.weight$/.exec(match[2]!)
  if (perExpert) return `model.layers.${match[1]}.mlp.experts.${perExpert[2]}.${perExpert[1]}_proj.weight`
  const suffix = MOE_LAYER_NAMES[match[2]!]
  return suffix ? `model.layers.${match[1]}.${suffix}` : null
}

/**
 * A fused [experts, rows, cols] tensor (a bias [experts, rows]) as one [rows, cols] tensor per expert (each expert's slab
 * is contiguous, in float or block storage alike); the shared expert's gate [hidden] as the [1, hidden] of
 * transformers. Others as they are.
 */
export function ggufExpertTensors(tensor: TensorInfo): TensorInfo[] {
  // Nemotron-H's under the checkpoint's mixer.experts (gguf-ssm-hybrids.ts).
  const fused = /^(model\.layers\.\d+\.(?:mlp|mixer)\.experts)\.(gate|up|down|gate_up)_proj\.(weight|bias)$/.exec(tensor.name)
  if (fused && tensor.shape.length === (fused[3] === 'weight' ? 3 : 2)) {
    const [experts, ...shape] = tensor.shape as [number, ...number[]]
    const slab = tensor.nbytes / experts
    return Array.from({length: experts}, (_, e) => ({...tensor, name: `${fused[1]}.${e}.${fused[2]}_proj.${fused[3]}`, shape, offset: tensor.offset + e * slab, nbytes: slab}))
  }
  if (tensor.name.endsWith('.mlp.shared_expert_gate.weight') && tensor.shape.length === 1) return [{...tensor, shape: [1, tensor.shape[0]!]}]
  return [tensor]
}
