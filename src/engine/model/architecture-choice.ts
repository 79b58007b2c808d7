// Which class a config.json runs as. vLLM takes the first class in "architectures" it has; transformers'
// AutoModelForCausalLM ignores the list and builds the causal-LM class of "model_type". The engine does the first, and
// the second where the list is absent or empty, or names only an old spelling of model_type's class (LLaMAForCausalLM).
// Any other unrun class is refused by its name, as vLLM refuses it: the list and model_type disagree.
import {SUPPORTED_ARCHITECTURES} from './architectures.js'
import {CAUSAL_LM_CLASS_BY_MODEL_TYPE} from './causal-lm-classes.js'
import {LLAMA4_MULTIMODAL} from './llama4-config.js'
import {isMultimodalWrapper} from './multimodal-text.js'
import {HYBRID_MULTIMODAL} from './qwen35-config.js'

type Json = Record<string, unknown>

/** The classes parseModelConfig runs: its own, and the multimodal wrappers whose language model it runs. */
function runs(name: string): boolean {
  return SUPPORTED_ARCHITECTURES.includes(name) || name === 'Gemma3ForConditionalGeneration' || name === 'Gemma4ForConditionalGeneration' ||
    name === LLAMA4_MULTIMODAL || HYBRID_MULTIMODAL[name] !== undefined || isMultimodalWrapper(name)
}

/**
 * The class to run and, where it is not simply the first listed, a note saying why; null where config.json names no
 * class and its model_type none either. An unrun class comes back as it is, for the caller's refusal to name.
 */
export function chooseArchitecture(config: Json, source: string): {architecture: string | null; note?: string} {
  const listed = Array.isArray(config.architectures) ? config.architectures.filter((name): name is string => typeof name === 'string') : []
  const run = listed.find(runs)
  if (run !== undefined) {
    return run === listed[0] ? {architecture: run} : {architecture: run, note: `${source} lists ${listed[0]} first; running ${run}, the first listed class the engine runs.`}
  }
  const modelType = typeof config.model_type === 'string' ? config.model_type : null
  const byType = modelType !== null && Object.hasOwn(CAUSAL_LM_CLASS_BY_MODEL_TYPE, modelType) ? CAUSAL_LM_CLASS_BY_MODEL_TYPE[modelType]! : null
  if (listed.length === 0) {
    return byType === null ? {architecture: null} : {architecture: byType, note: `${source} names no class; model_type "${modelType}" runs as ${byType}, the class AutoModelForCausalLM builds for it.`}
  }
  if (byType !== null && runs(byType) && byType.toLowerCase() === listed[0]!.toLowerCase()) {
    return {architecture: byType, note: `${source} names ${listed[0]}; model_type "${modelType}" runs as ${byType}, the class AutoModelForCausalLM builds for it.`}
  }
  return {architecture: listed[0]!}
}
