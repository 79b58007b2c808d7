// Hunyuan MoE (HunYuanMoEV1ForCausalLM, Hunyuan-A13B) as transformers 5.18's HunYuanMoEV1Config reads it: the dense
// Hunyuan's attention (q/k norms after rope, dynamic-alpha rope: hunyuan-config.ts) over sparse MLPs in every layer: a
// softmax router (mlp.gate.wg) whose top-k is renormalised, experts as wide as intermediate_size, and an ungated shared
// MLP (mlp.shared_mlp) of that width. Checkpoint names are renamed at load (tensor-renames.ts).
import {ModelLoadError, quotedValue} from '../errors.js'

export const HUNYUAN_MOE = 'HunYuanMoEV1ForCausalLM'

type Json = Record<string, unknown>

/** num_experts and moe_topk may be per-layer lists; the engine takes one value for every layer, so a list must repeat it. */
function oneValue(config: Json, key: string, fallback: number, source: string): unknown {
  const value = config[key] ?? fallback
  if (!Array.isArray(value)) return value
  if (value.length === 0 || value.some((v) => v !== value[0])) throw new ModelLoadError(`${source}: "${key}" ${quotedValue(value)} differs between layers, which is not supported (one value for every layer).`)
  return value[0]
}

/** The config under the shared parser's keys: moe_topk as num_experts_per_tok; HunYuanMoEV1Config's defaults (1 expert, top-1, eps 1e-5, ids 1 / 2). */
export function hunyuanMoeView(config: Json, source: string): Json {
  return {
    ...config,
    num_experts: oneValue(config, 'num_experts', 1, source),
    num_experts_per_tok: oneValue(config, 'moe_topk', 1, source),
    rms_norm_eps: config.rms_norm_eps ?? 1e-5,
    bos_token_id: config.bos_token_id === undefined ? 1 : config.bos_token_id,
    eos_token_id: config.eos_token_id === undefined ? 2 : config.eos_token_id,
  }
}
