// Layer tensors some families name apart from the engine's (HF Llama's / Gemma 2's) names for the same role: GLM-4-0414's
// sandwich norms, VaultGemma's pre-MLP norm, HunYuan's q/k norms, Llama 4's feed_forward. Renamed at load, and back when writing test checkpoints.
import type {ModelConfig} from './model-config.js'

/** Per architecture: [checkpoint suffix, engine suffix] of a layer's weights. */
const RENAMES: Record<string, [string, string][]> = {
  Glm4ForCausalLM: [
    ['post_self_attn_layernorm', 'post_attention_layernorm'],
    ['post_attention_layernorm', 'pre_feedforward_layernorm'],
    ['post_mlp_layernorm', 'post_feedforward_layernorm'],
  ],
  // Gemma 2's block without its two post-norms: pre_feedforward_layernorm takes post_attention_layernorm's (Llama's) place.
  VaultGemmaForCausalLM: [['pre_feedforward_layernorm', 'post_attention_layernorm']],
  // Apertus: Llama's two pre-norms under their own names.
  ApertusForCausalLM: [['attention_layernorm', 'input_layernorm'], ['feedforward_layernorm', 'post_attention_layernorm']],
  // NanoChat: CLIP's ungated MLP (fc1, relu2, fc2).
  NanoChatForCausalLM: [['mlp.fc1', 'mlp.up_proj'], ['mlp.fc2', 'mlp.down_proj']],
  HunYuanDenseV1ForCausalLM: [['self_attn.query_layernorm', 'self_attn.q_norm'], ['self_attn.key_layernorm', 'self_attn.k_norm']],
  // Llama 4's feed_forward and router (its fused experts: llama4-tensors.ts).
  Llama4ForCausalLM: [['feed_forward.router', 'mlp.gate'], ...['gate_proj', 'up_proj', 'down_proj', 'shared_expert.gate_proj', 'shared_expert.up_proj', 'shared_expert.down_proj'].map((part): [string, string] => [`feed_forward.${part}`, `mlp.${part}`])],
  // Hunyuan MoE: the dense one's q/k norms, its router (gate.wg) and shared MLP (shared_mlp) under the engine's MoE names.
  // AFMoE: its router, and its MLP's sandwich norms under Gemma 2's names (its post_attention_layernorm is Gemma 2's already).
  AfmoeForCausalLM: [['mlp.router.gate', 'mlp.gate'], ['pre_mlp_layernorm', 'pre_feedforward_layernorm'], ['post_mlp_layernorm', 'post_feedforward_layernorm']],
  // Cohere2-MoE's shared MLP (shared_experts).
  Cohere2MoeForCausalLM: ['gate', 'up', 'down'].map((part): [string, string] => [`mlp.shared_experts.${part}_proj`, `mlp.shared_expert.${part}_proj`]),
  // HyperCLOVAX's post-norms (use_post_norm) as GLM-4-0414's.
  HyperCLOVAXForCausalLM: [
    ['post_norm1', 'post_attention_layernorm'],
    ['post_attention_layernorm', 'pre_feedforward_layernorm'],
    ['post_norm2', 'post_feedforward_layernorm'],
  ],
  // Hy3's router and shared MLP (its router's correction bias, mlp.expert_bias: moe-config.ts).
  HYV3ForCausalLM: [['mlp.router.gate', 'mlp.gate'], ...['gate', 'up', 'down'].map((part): [string, string] => [`mlp.shared_mlp.${part}_proj`, `mlp.shared_expert.${part}_proj`])],
  // Aria's router and shared MLP (its fused experts: llama4-tensors.ts).
  AriaTextForCausalLM: [['mlp.router', 'mlp.gate'], ...['gate', 'up', 'down'].map((part): [string, string] => [`mlp.shared_experts.${part}_proj`, `mlp.shared_expert.${part}_proj`])],
  // A.X K1's norm on the sparse layers' MLP output, kept at the layer level in its checkpoints.
  AXK1ForCausalLM: [['post_mlp_layernorm', 'post_feedforward_layernorm']],
  HunYuanMoEV1ForCausalLM: [['self_attn.query_layernorm', 'self_attn.q_norm'], ['self_attn.key_layernorm', 'self_attn.k_norm'], ['mlp.gate.wg', 'mlp.gate'],
    ...(['gate', 'up', 'down'].map((part): [string, string] => [`mlp.shared_mlp.${part}_proj`, `mlp.shared_expert.${part}_proj`]))],
}

/** Whether the layers have Gemma 2's four norms (GLM-4-0414 under its own names); VaultGemma has Gemma 2's other traits without them. */
export function hasSandwichNorms(architecture: string, gemma2: boolean): boolean {
  return (gemma2 && architecture !== 'VaultGemmaForCausalLM') || architecture === 'Glm4ForCausalLM' || architecture === 'AfmoeForCausalLM'
}

/** The architecture's renames; HyperCLOVAX's only where its post-norms are (use_post_norm: without, Granite's names). */
function renames(config: Pick<ModelConfig, 'architecture' | 'sandwichNorms'>): [string, string][] | undefined {
  return config.architecture === 'HyperCLOVAXForCausalLM' && !config.sandwichNorms ? undefined : RENAMES[config.architecture]
}

/** A layer tensor's name with its suffix swapped by `pairs` (from -> to), all at once; other names as they are. */
function renamed(name: string, pairs: [string, string][]): string {
  const match = /^(model\.layers\.\d+\.)(.+)(\.weight)$/.exec(name)
  const to = match ? pairs.find(([from]) => from === match[2])?.[1] : undefined
  return to === undefined ? name : match![1] + to + match![3]
}

/** The checkpoint's names as the engine's (expectedTensorShapes lists those). */
export function engineTensorNames<T extends {name: string}>(config: Pick<ModelConfig, 'architecture' | 'sandwichNorms'>, tensors: T[]): T[] {
  const pairs = renames(config)
  return pairs ? tensors.map((t) => ({...t, name: renamed(t.name, pairs)})) : tensors
}

/** The engine's names as the checkpoint's: for error messages and for writing test checkpoints. */
export function checkpointTensorNames<T extends {name: string}>(config: Pick<ModelConfig, 'architecture' | 'sandwichNorms'>, tensors: T[]): T[] {
  const pairs = renames(config)?.map(([checkpoint, engine]): [string, string] => [engine, checkpoint])
  return pairs ? tensors.map((t) => ({...t, name: renamed(t.name, pairs)})) : tensors
}
