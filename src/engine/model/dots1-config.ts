// dots.llm1 (Dots1ForCausalLM) as transformers 5.18's Dots1Config reads it: Qwen3's attention (per-head q/k norms, layer
// types from sliding_window and max_window_layers without a use_sliding_window switch) over DeepSeek-V3's sigmoid grouped
// routing and shared experts (deepseek-config.ts, moe-config.ts family dots1).
import {ModelLoadError, quotedValue} from '../errors.js'
import {DOTS1} from './deepseek-config.js'

type Json = Record<string, unknown>

export {DOTS1}

/** The config under the shared parser's keys: n_routed_experts as num_experts, Qwen's sliding rule always on (max_window_layers 62). */
export function dots1View(config: Json, source: string): Json {
  // Dots1Config has no default expert count nor top-k: transformers cannot build the sparse layers without them.
  for (const key of ['n_routed_experts', 'num_experts_per_tok']) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive integer for ${DOTS1}, got ${quotedValue(value)}.`)
  }
  return {...config, num_experts: config.n_routed_experts, use_sliding_window: true, max_window_layers: config.max_window_layers ?? 62}
}
