// Hy3 (HYV3ForCausalLM, Tencent Hy3-preview) as transformers 5.18's HYV3Config reads it: Llama's attention with per-head
// q/k norms before rope (Apertus's), dense MLPs where mlp_layer_types says "dense" (the first layer by default), and on
// the others DeepSeek-V3's sigmoid routing chosen with a correction bias in one group, renormalised and scaled by
// router_scaling_factor, beside an ungated shared MLP num_shared_experts * moe_intermediate_size wide (deepseek-config.ts,
// moe-config.ts family hy_v3). Its checkpoints keep the router as mlp.router.gate, the bias as mlp.expert_bias and the
// shared MLP as mlp.shared_mlp (tensor-renames.ts, moe-config.ts), as transformers renames them.
import {ModelLoadError, quotedValue} from '../errors.js'
import {switchOn} from './config-switch.js'

export const HYV3 = 'HYV3ForCausalLM'

type Json = Record<string, unknown>

/** The config under DeepSeek-V3's keys with HYV3Config's defaults (8 KV heads, router_scaling_factor 2.826, one shared expert). */
export function hyV3View(config: Json, source: string): Json {
  // LlamaMLP's mlp_bias would put biases on the shared MLP too, which the expert kernels do not take.
  if (switchOn(config, 'mlp_bias', source)) throw new ModelLoadError(`${source}: "mlp_bias" true is not supported for ${HYV3} (its shared MLP would carry biases).`)
  switchOn(config, 'enable_moe_fp32_combine', source) // the engine adds the routed and shared outputs in fp32 either way
  const shared = config.num_shared_experts ?? 1
  // HYV3MLP falls back to intermediate_size for a width of 0, so 0 does not mean none.
  if (typeof shared !== 'number' || !Number.isInteger(shared) || shared <= 0) throw new ModelLoadError(`${source}: "num_shared_experts" must be a positive integer for ${HYV3}, got ${quotedValue(shared)}.`)
  const scale = config.router_scaling_factor ?? 2.826
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new ModelLoadError(`${source}: "router_scaling_factor" must be a positive number, got ${quotedValue(scale)}.`)
  // HYV3TopKRouter has one group and always renormalises, whatever DeepSeek's keys say.
  return {num_key_value_heads: 8, ...config, n_shared_experts: shared, routed_scaling_factor: scale, n_group: 1, topk_group: 1, norm_topk_prob: true, topk_method: undefined}
}
