// OLMo Hybrid (OlmoHybridForCausalLM): Gated DeltaNet layers (Qwen 3.5's kernel: native/cpu/linear_attention.cpp) with
// q, k, v, a, b and g projections apart, beta doubled (linear_allow_neg_eigval) and a gated norm of eps 1e-5, each
// pre-norm as Llama's layers, among OLMo 3's post-norm attention layers (whole-width q/k norms, rope unless rope_theta is
// null: the released checkpoints run NoPE). Facts from transformers 5.18's OlmoHybridConfig and modeling code.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {parseHybrid, type HybridFeatures} from './qwen35-config.js'
import type {RmsVariantFeatures} from './rms-variants.js'
import {switchOn} from './config-switch.js'

type Json = Record<string, unknown>

export const OLMO_HYBRID = 'OlmoHybridForCausalLM'

/** OlmoHybridRMSNormGated's eps: fixed, not rms_norm_eps. */
const GATED_NORM_EPS = 1e-5

/** The config with OlmoHybridConfig's defaults (its layer_types and linear sizes); NoPE when rope_theta is null. */
export function olmoHybridView(config: Json, source: string): {config: Json; noRope: boolean} {
  const act = config.hidden_act ?? 'silu'
  // The MLP and the short convolution both read hidden_act; the kernels convolve with silu.
  if (act !== 'silu') throw new ModelLoadError(`${source}: "hidden_act" ${quotedValue(act)} is not supported for ${OLMO_HYBRID} (its linear layers' convolution runs silu).`)
  if (switchOn(config, 'attention_bias', source)) throw new ModelLoadError(`${source}: "attention_bias" true is not supported for ${OLMO_HYBRID} (its attention layers run without biases here).`)
  const negative = config.linear_allow_neg_eigval ?? true
  if (typeof negative !== 'boolean') throw new ModelLoadError(`${source}: "linear_allow_neg_eigval" must be a boolean, got ${quotedValue(negative)}.`)
  const layers = config.num_hidden_layers ?? 32
  const heads = config.num_attention_heads ?? 30
  const hidden = config.hidden_size ?? 3840
  const rope = isObject(config.rope_parameters) ? config.rope_parameters : null
  // OlmoHybridModel builds no rotary embedding when rope_parameters.rope_theta is null.
  const noRope = (rope !== null && 'rope_theta' in rope && rope.rope_theta === null) || (rope === null && 'rope_theta' in config && config.rope_theta === null)
  const view: Json = {max_position_embeddings: 65536, rms_norm_eps: 1e-6, tie_word_embeddings: false, ...config, head_dim: undefined}
  if (noRope) Object.assign(view, {rope_parameters: {rope_type: 'default'}, rope_theta: undefined})
  if (config.layer_types == null && typeof layers === 'number' && Number.isInteger(layers) && layers > 0) {
    // Every 4th layer full attention, the last one where that leaves none.
    const types = Array.from({length: layers}, (_, i) => (i % 4 === 3 ? 'full_attention' : 'linear_attention'))
    if (!types.includes('full_attention')) types[layers - 1] = 'full_attention'
    view.layer_types = types
  }
  if (config.head_dim != null && typeof hidden === 'number' && typeof heads === 'number' && config.head_dim !== hidden / heads) {
    throw new ModelLoadError(`${source}: "head_dim" ${quotedValue(config.head_dim)} is not read by ${OLMO_HYBRID} (its heads are hidden_size / num_attention_heads wide); remove it.`)
  }
  const keyHeads = config.linear_num_key_heads ?? heads
  const keyDim = config.linear_key_head_dim ?? (typeof hidden === 'number' && typeof keyHeads === 'number' ? Math.trunc((0.75 * hidden) / keyHeads) : undefined)
  Object.assign(view, {
    linear_num_key_heads: keyHeads, linear_num_value_heads: config.linear_num_value_heads ?? heads, linear_key_head_dim: keyDim,
    linear_value_head_dim: config.linear_value_head_dim ?? (typeof keyDim === 'number' ? 2 * keyDim : undefined), linear_allow_neg_eigval: negative,
  })
  return {config: view, noRope}
}

/** The linear layers and their sizes, beta's scale and the gated norm's eps; the attention layers' whole q/k norms and rope. */
export function olmoHybridFeatures(config: Json, numLayers: number, noRope: boolean, source: string): {hybrid: HybridFeatures; rmsVariant: RmsVariantFeatures} {
  const parsed = parseHybrid(config, OLMO_HYBRID, numLayers, source)
  if (parsed.linearLayers.every(Boolean) || !parsed.linearLayers.some(Boolean)) {
    throw new ModelLoadError(`${source}: "layer_types" must hold both "linear_attention" and "full_attention" layers for ${OLMO_HYBRID}.`)
  }
  const hybrid: HybridFeatures = {...parsed, attentionOutputGate: false, olmoHybrid: {betaScale: config.linear_allow_neg_eigval ? 2 : 1, gatedNormEps: GATED_NORM_EPS}}
  const rmsVariant: RmsVariantFeatures = {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: true, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0,
    ...(noRope ? {ropeLayers: Array<boolean>(numLayers).fill(false)} : {})}
  return {hybrid, rmsVariant}
}
