// BitNet b1.58 (BitNetForCausalLM, microsoft/bitnet-b1.58-2B-4T-bf16 style): Llama's attention with an RMSNorm on its
// output before o_proj (attn_sub_norm), Gemma's gated MLP with relu2 and an RMSNorm before down_proj (ffn_sub_norm). With
// its quantization_config (quant_method bitnet, autobitlinear, online) transformers' AutoBitLinear runs every decoder
// projection on ternary weights (each tensor's absmean scale) and int8 per-token activations (absmax): bitLinear, the
// weights ternarized at load (native/cpu/model_weights.cpp), the activations in the forward (native/cpu/activation.cpp).
// Read as transformers 5.18's BitNetConfig and BitNetQuantConfig read them; rms-variants.ts carries it (CPU only).
import {ModelLoadError, quotedValue} from '../errors.js'
import {switchOn} from './config-switch.js'

export const BITNET = 'BitNetForCausalLM'

type Json = Record<string, unknown>

/**
 * BitNetConfig's defaults for what config.json leaves out (relu2, 5 KV heads, eps 1e-5, base 5e5, bos / eos 128000 /
 * 128001), and whether its checkpoint quantizes online. The packed checkpoints (quantization_mode offline: uint8 weights,
 * four ternary values a byte, with weight_scale) and the other BitNet layers are refused, naming the key.
 */
export function bitnetView(config: Json, source: string): {config: Json; bitLinear: boolean} {
  const {quantization_config: quantization, ...rest} = config
  const view = {hidden_act: 'relu2', num_key_value_heads: 5, rms_norm_eps: 1e-5, rope_theta: 5e5, bos_token_id: 128000, eos_token_id: 128001, ...rest}
  if (quantization == null) return {config: view, bitLinear: false}
  const q = (typeof quantization === 'object' && !Array.isArray(quantization) ? quantization : {}) as Json
  const refuse = (key: string, why: string) => new ModelLoadError(`${source}: quantization_config.${key} ${quotedValue(q[key])} is not supported (${why}).`)
  if (q.quant_method !== 'bitnet') throw refuse('quant_method', 'a BitNet checkpoint quantizes with "bitnet"')
  if (q.linear_class !== 'autobitlinear') throw refuse('linear_class', 'only "autobitlinear" runs here')
  if (q.quantization_mode !== 'online') throw refuse('quantization_mode', 'packed ternary weights are not loaded; load the bf16 checkpoint, whose "online" mode ternarizes them')
  if (switchOn(q, 'use_rms_norm', `${source}: quantization_config`)) throw refuse('use_rms_norm', 'an RMSNorm inside every BitLinear is not run')
  const skipped = q.modules_to_not_convert
  // transformers leaves lm_head (the output embeddings) unquantized by default; naming it changes nothing.
  if (skipped != null && !(Array.isArray(skipped) && skipped.every((name) => name === 'lm_head'))) throw refuse('modules_to_not_convert', 'only lm_head may stay unquantized')
  return {config: view, bitLinear: true}
}
