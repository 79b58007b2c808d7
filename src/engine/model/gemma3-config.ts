// Gemma 3's config.json seen as the keys the shared parser reads: its two rope bases, and Gemma3TextConfig's defaults where they differ from Gemma 2's.
import {ModelLoadError} from '../errors.js'
import {layerTypeRopes, localRopeTheta} from './layer-type-rope.js'
import {isObject} from './rope-scaling.js'

type Json = Record<string, unknown>

/**
 * Gemma3TextConfig rotates full-attention layers with rope_theta (1e6 by default) and its rope_scaling (linear, factor 8
 * on 4B and up), sliding layers with rope_local_base_freq (10000), unscaled; transformers 5 may write both as
 * rope_parameters {full_attention, sliding_attention}. Returns the config with the full layers' rope as the only one
 * (what the shared parser reads) and no soft caps unless it sets them, plus the sliding layers' base.
 */
export function gemma3View(config: Json, source: string): {config: Json; ropeLocalTheta: number} {
  const nested = layerTypeRopes(config)
  const full = nested ? nested.full : config.rope_parameters
  const ropeLocalTheta = localRopeTheta(nested?.sliding ?? {}, config.rope_local_base_freq ?? 10000, 'rope_local_base_freq', 'Gemma 3', source)
  const fullRope = isObject(full) ? {...full, rope_theta: full.rope_theta ?? config.rope_theta ?? 1e6} : undefined
  return {
    config: {
      attn_logit_softcapping: null,
      final_logit_softcapping: null,
      ...config,
      rope_parameters: fullRope,
      rope_theta: config.rope_theta ?? 1e6,
    },
    ropeLocalTheta,
  }
}

/** Gemma3TextConfig's sizes, which the text_config of a multimodal checkpoint (gemma-3-4b and up) often leaves out. */
const GEMMA3_TEXT_DEFAULTS: Json = {
  vocab_size: 262_208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4,
}

/**
 * A Gemma3ForConditionalGeneration config.json as its language model's (Gemma3ForCausalLM): text_config with
 * Gemma3TextConfig's defaults, and the top level's dtype, token ids and tying where text_config has none. The vision
 * tower is never loaded, so images cannot reach the model (the server refuses image parts).
 */
export function gemma3LanguageModel(config: Json, source: string): Json {
  const text = config.text_config
  if (!isObject(text)) throw new ModelLoadError(`${source}: Gemma3ForConditionalGeneration needs a "text_config" object.`)
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'tie_word_embeddings'].flatMap((key) => (config[key] !== undefined ? [[key, config[key]]] : [])))
  return {...GEMMA3_TEXT_DEFAULTS, ...inherited, ...text, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text'}
}

/** Where a multimodal checkpoint keeps its language model's tensors (as saved by transformers 4 and by 5; Idefics3 / SmolVLM: text_model), and their text-model names. */
const LANGUAGE_MODEL_PREFIXES: [string, string][] = [['language_model.model.', 'model.'], ['model.language_model.', 'model.'], ['language_model.lm_head.', 'lm_head.'], ['model.text_model.', 'model.']]

/** Renames a multimodal checkpoint's language-model tensors to the text model's names; other tensors (the vision tower) keep theirs and go unused. */
export function languageModelTensorName(name: string): string {
  for (const [prefix, replacement] of LANGUAGE_MODEL_PREFIXES) if (name.startsWith(prefix)) return replacement + name.slice(prefix.length)
  return name
}
