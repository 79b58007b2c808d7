// Aria's language model (AriaTextForCausalLM) as transformers 5.18's AriaTextConfig reads it: Llama's attention over a
// sparse MLP in every layer: moe_num_experts experts as wide as intermediate_size, a softmax over the moe_topk best
// router logits (Mixtral's renormalised top-k), each layer's experts fused and stored [in, out] as Llama 4's
// (llama4-tensors.ts; the older fc1 / fc2 names too), beside a shared MLP moe_num_shared_experts times as wide.
import {ModelLoadError, quotedValue} from '../errors.js'
import {switchOn} from './config-switch.js'

export const ARIA_TEXT = 'AriaTextForCausalLM'

type Json = Record<string, unknown>

/** The config under the shared parser's MoE keys, with AriaTextConfig's defaults (8 experts, top-2, 2 shared). */
export function ariaTextView(config: Json, source: string): Json {
  // AriaExperts run silu whatever hidden_act says; only the shared MLP reads it.
  const act = config.hidden_act ?? 'silu'
  if (act !== 'silu') throw new ModelLoadError(`${source}: "hidden_act" ${quotedValue(act)} is not supported for ${ARIA_TEXT} (its experts run silu, its shared MLP hidden_act).`)
  // LlamaMLP's mlp_bias would put biases on the shared MLP, which the expert kernels do not take.
  if (switchOn(config, 'mlp_bias', source)) throw new ModelLoadError(`${source}: "mlp_bias" true is not supported for ${ARIA_TEXT} (its shared MLP would carry biases).`)
  const count = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
    return value
  }
  const [experts, topK] = [count('moe_num_experts', 8), count('moe_topk', 2)]
  if (topK > experts) throw new ModelLoadError(`${source}: "moe_topk" ${topK} exceeds the ${experts} experts (moe_num_experts).`)
  return {...config, num_experts: experts, num_local_experts: undefined, num_experts_per_tok: topK}
}

/** The shared MLP's width: intermediate_size x moe_num_shared_experts (0: none). */
export function ariaSharedSize(config: Json, intermediateSize: number, source: string): number {
  const count = config.moe_num_shared_experts ?? 2
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new ModelLoadError(`${source}: "moe_num_shared_experts" must be a non-negative integer, got ${quotedValue(count)}.`)
  return count * intermediateSize
}
