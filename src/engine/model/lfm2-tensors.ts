// The tensors of LFM2 and LFM2-MoE (lfm2-config.ts): each layer's gated short convolution (model.layers.N.conv.*, as
// the checkpoint names it) or attention, and the checkpoint names that differ from the engine's, renamed at load by
// mamba2-tensors.ts' table: operator_norm / ffn_norm, self_attn.out_proj and q/k_layernorm, feed_forward.w1 / w3 / w2,
// the router (feed_forward.gate), expert_bias and per-expert w1 / w3 / w2 (the hub's layout), embedding_norm (the
// final norm, after the last layer despite its name).
import type {ModelConfig} from './model-config.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N): the short convolution's tensors, or the attention's. */
export function lfm2LayerShapes(config: ModelConfig, kernel: number, conv: boolean, prefix: string): Shape[] {
  const hidden = config.hiddenSize
  if (conv) {
    return [
      {name: `${prefix}.conv.in_proj.weight`, shape: [3 * hidden, hidden]},
      {name: `${prefix}.conv.conv.weight`, shape: [hidden, 1, kernel]},
      {name: `${prefix}.conv.out_proj.weight`, shape: [hidden, hidden]},
    ]
  }
  const q = config.numHeads * config.headDim
  const kv = config.numKvHeads * config.headDim
  return [
    {name: `${prefix}.self_attn.q_proj.weight`, shape: [q, hidden]},
    {name: `${prefix}.self_attn.k_proj.weight`, shape: [kv, hidden]},
    {name: `${prefix}.self_attn.v_proj.weight`, shape: [kv, hidden]},
    {name: `${prefix}.self_attn.q_norm.weight`, shape: [config.headDim]},
    {name: `${prefix}.self_attn.k_norm.weight`, shape: [config.headDim]},
    {name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, q]},
  ]
}

/** [checkpoint name, engine name]; {L} stands for a layer number, {X} for an expert's. */
export const LFM2_RENAMES: [string, string][] = [
  ['model.layers.{L}.operator_norm.weight', 'model.layers.{L}.input_layernorm.weight'],
  ['model.layers.{L}.ffn_norm.weight', 'model.layers.{L}.post_attention_layernorm.weight'],
  ['model.layers.{L}.self_attn.out_proj.weight', 'model.layers.{L}.self_attn.o_proj.weight'],
  ['model.layers.{L}.self_attn.q_layernorm.weight', 'model.layers.{L}.self_attn.q_norm.weight'],
  ['model.layers.{L}.self_attn.k_layernorm.weight', 'model.layers.{L}.self_attn.k_norm.weight'],
  ['model.layers.{L}.feed_forward.w1.weight', 'model.layers.{L}.mlp.gate_proj.weight'],
  ['model.layers.{L}.feed_forward.w3.weight', 'model.layers.{L}.mlp.up_proj.weight'],
  ['model.layers.{L}.feed_forward.w2.weight', 'model.layers.{L}.mlp.down_proj.weight'],
  ['model.embedding_norm.weight', 'model.norm.weight'],
]

export const LFM2_MOE_RENAMES: [string, string][] = [
  ...LFM2_RENAMES,
  ['model.layers.{L}.feed_forward.gate.weight', 'model.layers.{L}.mlp.gate.weight'],
  ['model.layers.{L}.feed_forward.expert_bias', 'model.layers.{L}.mlp.gate.e_score_correction_bias'],
  ['model.layers.{L}.feed_forward.experts.{X}.w1.weight', 'model.layers.{L}.mlp.experts.{X}.gate_proj.weight'],
  ['model.layers.{L}.feed_forward.experts.{X}.w3.weight', 'model.layers.{L}.mlp.experts.{X}.up_proj.weight'],
  ['model.layers.{L}.feed_forward.experts.{X}.w2.weight', 'model.layers.{L}.mlp.experts.{X}.down_proj.weight'],
]
