// The language model of vision-language checkpoints that vLLM users serve for text (Mistral Small 3.x and 4, Qwen2-VL,
// Qwen2.5-VL, Qwen3-VL, Qwen3-VL-MoE, GLM-4.1V, GLM-4.5V, LLaVA, LLaVA-NeXT, Idefics3 / SmolVLM, LFM2-VL): their text_config
// read as the text family's config.json.
// The vision tower is never loaded, so the model runs text only (the server refuses image parts). Facts from
// transformers 5.18's configuration classes; Gemma 3 / Gemma 4 / Qwen 3.5 have their own readers (gemma3-config.ts, ...).
import {ModelLoadError, quotedValue} from '../errors.js'
import {checkMropeSection, isObject} from './rope-scaling.js'

type Json = Record<string, unknown>

interface Wrapper {
  /** text_config's model_type when it names none: the config class's default text config. */
  defaultTextType: string
  /** Hub configs written before text_config existed keep the text keys at the top level (Qwen2-VL, Qwen2.5-VL). */
  flatText: boolean
}

const WRAPPERS: Record<string, Wrapper> = {
  Mistral3ForConditionalGeneration: {defaultTextType: 'mistral', flatText: false},
  LlavaForConditionalGeneration: {defaultTextType: 'llama', flatText: false},
  LlavaNextForConditionalGeneration: {defaultTextType: 'llama', flatText: false},
  Idefics3ForConditionalGeneration: {defaultTextType: 'llama', flatText: false},
  SmolVLMForConditionalGeneration: {defaultTextType: 'llama', flatText: false},
  Qwen2VLForConditionalGeneration: {defaultTextType: 'qwen2_vl_text', flatText: true},
  Qwen2_5_VLForConditionalGeneration: {defaultTextType: 'qwen2_5_vl_text', flatText: true},
  Qwen3VLForConditionalGeneration: {defaultTextType: 'qwen3_vl_text', flatText: false},
  Lfm2VlForConditionalGeneration: {defaultTextType: 'lfm2', flatText: false},
  Qwen3VLMoeForConditionalGeneration: {defaultTextType: 'qwen3_vl_moe_text', flatText: false},
  Glm4vForConditionalGeneration: {defaultTextType: 'glm4v_text', flatText: false},
  Glm4vMoeForConditionalGeneration: {defaultTextType: 'glm4v_moe_text', flatText: false},
}

/**
 * A text_config model_type -> the text architecture that runs it, that config class's values for keys the engine's
 * parser would otherwise default apart, and the keys it fixes whatever config.json says (fixed, from the text config).
 * Qwen2-VL's and Qwen3-VL's text models are Qwen2's and Qwen3's layers; Qwen3-VL-MoE's is Qwen3-MoE's with its experts
 * stored fused; GLM-4.1V's is GLM-4-0414's, GLM-4.5V's GLM-4.5's.
 */
const TEXT_MODELS: Record<string, {architecture: string; defaults?: Json; fixed?: (text: Json) => Json; fusedExperts?: true}> = {
  llama: {architecture: 'LlamaForCausalLM'},
  mistral: {architecture: 'MistralForCausalLM'},
  ministral: {architecture: 'MinistralForCausalLM'},
  ministral3: {architecture: 'Ministral3ForCausalLM'},
  mistral4: {architecture: 'Mistral4ForCausalLM'},
  qwen2: {architecture: 'Qwen2ForCausalLM'},
  qwen3: {architecture: 'Qwen3ForCausalLM'},
  gemma: {architecture: 'GemmaForCausalLM'},
  gemma2: {architecture: 'Gemma2ForCausalLM'},
  phi3: {architecture: 'Phi3ForCausalLM'},
  granite: {architecture: 'GraniteForCausalLM'},
  lfm2: {architecture: 'Lfm2ForCausalLM'},
  qwen2_vl_text: {architecture: 'Qwen2ForCausalLM', defaults: {rope_theta: 1e6, rms_norm_eps: 1e-5, max_window_layers: 80}},
  qwen2_5_vl_text: {architecture: 'Qwen2ForCausalLM', defaults: {rope_theta: 1e6, rms_norm_eps: 1e-6, max_window_layers: 80}},
  qwen3_vl_text: {architecture: 'Qwen3ForCausalLM', defaults: {rope_theta: 5e5, rms_norm_eps: 1e-6, max_position_embeddings: 128000}},
  // Qwen3VLMoeTextSparseMoeBlock always renormalises its top-k and has no sliding window (whatever the keys say).
  qwen3_vl_moe_text: {
    architecture: 'Qwen3MoeForCausalLM', fusedExperts: true,
    defaults: {rope_theta: 5e5, rms_norm_eps: 1e-6, max_position_embeddings: 128000, num_experts: 60, num_experts_per_tok: 4, moe_intermediate_size: 1408},
    fixed: () => ({norm_topk_prob: true, use_sliding_window: false}),
  },
  // Glm4vTextAttention: q/k/v biases always, heads hidden / heads wide whatever head_dim says; the whole head rotated
  // unless partial_rotary_factor says less.
  glm4v_text: {
    architecture: 'Glm4ForCausalLM',
    defaults: {rms_norm_eps: 1e-5, max_position_embeddings: 32768, num_key_value_heads: 2, partial_rotary_factor: 1},
    fixed: (text) => ({attention_bias: true, head_dim: typeof text.hidden_size === 'number' && typeof text.num_attention_heads === 'number' ? text.hidden_size / text.num_attention_heads : undefined}),
  },
  // Glm4vMoeTextAttention has no q/k norms (Glm4MoeConfig's use_qk_norm); q/k/v biases by default.
  glm4v_moe_text: {architecture: 'Glm4MoeForCausalLM', defaults: {attention_bias: true, max_position_embeddings: 65536}, fixed: () => ({use_qk_norm: false})},
}

export function isMultimodalWrapper(architecture: string): boolean {
  return Object.hasOwn(WRAPPERS, architecture)
}

/**
 * A wrapper's config.json as its language model's: text_config (or, for a flat Qwen2-VL config, the top level without
 * vision_config) with the text class's defaults, the top level's dtype and token ids where text_config has none, and
 * tying as transformers reads it (either level's true ties; vLLM's reading where neither says: the text family's
 * default, so Mistral3Config's top-level default true does not tie Mistral Small, whose checkpoints ship lm_head).
 */
export function multimodalLanguageModel(config: Json, architecture: string, source: string): {config: Json; note: string; fusedExperts: boolean} {
  const wrapper = WRAPPERS[architecture]!
  const {vision_config: _vision, text_config: nested, ...top} = config
  if (nested != null && !isObject(nested)) throw new ModelLoadError(`${source}: "text_config" of ${architecture} must be an object, got ${quotedValue(nested)}.`)
  if (nested == null && !wrapper.flatText) throw new ModelLoadError(`${source}: ${architecture} needs a "text_config" object (its language model's config).`)
  const text: Json = nested ?? top
  const type = nested == null ? wrapper.defaultTextType : (text.model_type ?? wrapper.defaultTextType)
  const family = typeof type === 'string' ? TEXT_MODELS[type] : undefined
  if (family === undefined) {
    throw new ModelLoadError(`${source}: ${architecture}'s text_config has model_type ${quotedValue(type)}, which this engine does not run (it runs: ${Object.keys(TEXT_MODELS).join(', ')}).`)
  }
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id'].flatMap((key) => (top[key] !== undefined ? [[key, top[key]]] : [])))
  const tie = [top.tie_word_embeddings, text.tie_word_embeddings].filter((v) => v != null)
  const tied = tie.length === 0 ? {} : {tie_word_embeddings: tie.includes(true) ? true : tie[0]}
  const language: Json = {...family.defaults, ...inherited, ...text, ...tied, ...family.fixed?.(text), architectures: [family.architecture]}
  const mrope = type === 'qwen2_vl_text' || type === 'qwen2_5_vl_text' || type === 'qwen3_vl_text' || type === 'qwen3_vl_moe_text' || type === 'glm4v_text' || type === 'glm4v_moe_text'
  return {config: mrope ? withPlainRope(language, source) : language, note: textOnlyNote(architecture), fusedExperts: family.fusedExperts === true}
}

function textOnlyNote(architecture: string): string {
  return `${architecture}: its language model runs text only (the vision tower is not loaded; images are not supported).`
}

/**
 * Qwen2-VL's and Qwen3-VL's multimodal rope gives each frequency one of three positions (temporal, height, width; by
 * mrope_section, in blocks for Qwen2-VL, interleaved with mrope_interleaved for Qwen3-VL). A text token's three positions
 * are the same (transformers' get_rope_index: the running index on all three), so every frequency turns with it: plain
 * rope, whatever the sections or their order. Qwen2-VL's "mrope" type is transformers' "default".
 */
function withPlainRope(config: Json, source: string): Json {
  const key = isObject(config.rope_parameters) ? 'rope_parameters' : 'rope_scaling'
  const rope = config[key]
  if (!isObject(rope)) return config
  const {mrope_section: sections, mrope_interleaved: _interleaved, ...rest} = rope
  checkMropeSection(sections, `${key}.mrope_section`, source)
  const type = rest.rope_type ?? rest.type
  const plain = type === 'mrope' ? {...rest, rope_type: 'default', type: undefined} : rest
  return {...config, [key]: Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined))}
}
