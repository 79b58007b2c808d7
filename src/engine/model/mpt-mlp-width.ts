// MPT's MLP width from the checkpoint. MosaicML's own modeling code builds expansion_ratio x d_model; transformers 5.18's
// MptMLP ignores the key and always builds (and saves) 4 x d_model. Which code wrote a file is not recorded reliably
// (both write transformers_version), but the first up_proj's rows say which width it was written with, so they decide
// and the key is only the default: either kind then runs as the code that wrote it runs it. Later layers are held to
// that width by the usual shape check.
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

const MPT_ARCHITECTURES = new Set(['MptForCausalLM', 'MPTForCausalLM'])
/** The first layer's up_proj, as transformers saves it ("transformer." prefix) and as older files name it (none). */
const FIRST_UP_PROJ = new Set(['transformer.blocks.0.ffn.up_proj.weight', 'blocks.0.ffn.up_proj.weight'])

export function mptMlpWidthFromTensors(config: ModelConfig, tensors: readonly TensorInfo[]): ModelConfig {
  if (!MPT_ARCHITECTURES.has(config.architecture)) return config
  const upProj = tensors.find((tensor) => FIRST_UP_PROJ.has(tensor.name))
  // A missing or misshapen up_proj is left to the shape check, which names it.
  if (upProj === undefined || upProj.shape.length !== 2 || upProj.shape[1] !== config.hiddenSize) return config
  const width = upProj.shape[0]!
  if (width === config.intermediateSize) return config
  const note = `config.json: MPT's expansion_ratio implies an MLP ${config.intermediateSize} wide, the checkpoint's is ${width} (transformers' MptMLP is 4 x d_model whatever the key says): the checkpoint's width is used.`
  return {...config, intermediateSize: width, notes: [...(config.notes ?? []), note]}
}
