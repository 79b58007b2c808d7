// DBRX (DbrxForCausalLM) as transformers 5.18's DbrxConfig reads it: d_model / n_heads / n_layers / max_seq_len, and
// attn_config / ffn_config objects whose keys are read here under the shared parser's names. Its block is Llama's under
// LayerNorms without bias (Cohere's normMean: rms-variants.ts) with q/k/v clamped to clip_qkv, over softmax top-k experts
// in every layer whose weights are divided by their moe_normalize_expert_weights-norm (1: the sum, Mixtral's
// renormalisation). Its checkpoint layout is dbrx-tensors.ts's.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {switchOn} from './config-switch.js'

export const DBRX = 'DbrxForCausalLM'

type Json = Record<string, unknown>

/** DbrxAttentionConfig / DbrxFFNConfig keys the engine reads; any other is a training setting (dropout, loss weight, jitter). */
function subConfig(config: Json, key: 'attn_config' | 'ffn_config', source: string): Json {
  const value = config[key] ?? {}
  if (!isObject(value)) throw new ModelLoadError(`${source}: "${key}" of ${DBRX} must be an object, got ${quotedValue(value)}.`)
  return value
}

/**
 * The config under the shared parser's keys, with DbrxConfig's defaults (d_model 2048, 16 heads, 24 layers, 2048
 * positions, one KV head, 4 experts top-1 of 3584, silu). The rope base is rope_parameters' or rope_theta when given,
 * else attn_config.rope_theta (where databricks' files keep it, as vLLM reads it; transformers 5.18 reads only the former).
 */
export function dbrxView(config: Json, source: string): Json {
  const attn = subConfig(config, 'attn_config', source)
  const ffn = subConfig(config, 'ffn_config', source)
  // DbrxConfig refuses tied embeddings.
  if (switchOn(config, 'tie_word_embeddings', source)) throw new ModelLoadError(`${source}: "tie_word_embeddings" true is not supported for ${DBRX} (DbrxConfig refuses it).`)
  const act = ffn.ffn_act_fn ?? {name: 'silu'}
  if (!isObject(act)) throw new ModelLoadError(`${source}: "ffn_config.ffn_act_fn" must be an object naming the activation, got ${quotedValue(act)}.`)
  const rope = isObject(config.rope_parameters) || config.rope_theta != null ? {} : {rope_theta: attn.rope_theta ?? 10000}
  return {
    ...config,
    ...rope,
    hidden_size: config.d_model ?? 2048,
    num_attention_heads: config.n_heads ?? 16,
    num_hidden_layers: config.n_layers ?? 24,
    max_position_embeddings: config.max_seq_len ?? 2048,
    vocab_size: config.vocab_size ?? 32000,
    num_key_value_heads: attn.kv_n_heads ?? 1,
    clip_qkv: attn.clip_qkv ?? null,
    intermediate_size: ffn.ffn_hidden_size ?? 3584,
    num_local_experts: ffn.moe_num_experts ?? 4,
    num_experts_per_tok: ffn.moe_top_k ?? 1,
    norm_topk_prob: dbrxRenormalises(ffn, source),
    hidden_act: act.name ?? 'silu',
    // nn.LayerNorm's default eps; no attention or MLP biases.
    rms_norm_eps: 1e-5,
    head_dim: undefined,
    attention_bias: false,
    mlp_bias: false,
  }
}

/** moe_normalize_expert_weights: 1 divides the top-k softmax weights by their sum (they are positive), null leaves them. */
function dbrxRenormalises(ffn: Json, source: string): boolean {
  const p = ffn.moe_normalize_expert_weights === undefined ? 1 : ffn.moe_normalize_expert_weights
  if (p === null) return false
  if (p === 1) return true
  throw new ModelLoadError(`${source}: "ffn_config.moe_normalize_expert_weights" ${quotedValue(p)} is not supported for ${DBRX} (1, the sum, or null, none).`)
}
