// Gemma 4's tensors (transformers 5.18 names) with the shapes its config implies: each layer its own head size and MLP
// width, no k/v projections on KV-shared layers, no v_proj where keys are the values, the per-layer input weights.
import {ModelLoadError} from '../errors.js'
import {languageModelTensorName} from './gemma3-config.js'
import {gemma3nGlobalShapes, gemma3nLayerShapes} from './gemma3n-tensors.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

/** Every tensor a Gemma 4 model needs, in load order; layer_scalar last in each layer, since a checkpoint may lack it (then 1). */
export function gemma4TensorShapes(config: ModelConfig): {name: string; shape: number[]; optional?: boolean}[] {
  const g = config.gemma4!
  const {hiddenSize: hidden, numHeads, numLayers, vocabSize} = config
  const ple = g.perLayerInputSize
  const shapes: {name: string; shape: number[]; optional?: boolean}[] = [{name: 'model.embed_tokens.weight', shape: [vocabSize, hidden]}]
  if (ple > 0) {
    shapes.push(
      {name: 'model.embed_tokens_per_layer.weight', shape: [g.perLayerVocabSize, numLayers * ple]},
      {name: 'model.per_layer_model_projection.weight', shape: [numLayers * ple, hidden]},
      {name: 'model.per_layer_projection_norm.weight', shape: [ple]},
    )
  }
  if (config.gemma3n) shapes.push(...gemma3nGlobalShapes(config))
  g.layers.forEach((layer, i) => {
    const p = `model.layers.${i}`
    const q = numHeads * layer.headDim
    const kv = layer.numKvHeads * layer.headDim
    shapes.push({name: `${p}.input_layernorm.weight`, shape: [hidden]}, {name: `${p}.self_attn.q_proj.weight`, shape: [q, hidden]}, {name: `${p}.self_attn.q_norm.weight`, shape: [layer.headDim]})
    if (layer.kvSource === i) {
      shapes.push({name: `${p}.self_attn.k_proj.weight`, shape: [kv, hidden]}, {name: `${p}.self_attn.k_norm.weight`, shape: [layer.headDim]})
      if (!layer.kEqV) shapes.push({name: `${p}.self_attn.v_proj.weight`, shape: [kv, hidden]})
    }
    shapes.push(
      {name: `${p}.self_attn.o_proj.weight`, shape: [hidden, q]},
      {name: `${p}.post_attention_layernorm.weight`, shape: [hidden]},
      {name: `${p}.pre_feedforward_layernorm.weight`, shape: [hidden]},
      {name: `${p}.mlp.gate_proj.weight`, shape: [layer.intermediateSize, hidden]},
      {name: `${p}.mlp.up_proj.weight`, shape: [layer.intermediateSize, hidden]},
      {name: `${p}.mlp.down_proj.weight`, shape: [hidden, layer.intermediateSize]},
      {name: `${p}.post_feedforward_layernorm.weight`, shape: [hidden]},
    )
    if (g.moe) {
      const {numExperts: experts, intermediateSize: inter} = g.moe
      shapes.push(
        {name: `${p}.router.proj.weight`, shape: [experts, hidden]},
        {name: `${p}.router.scale`, shape: [hidden]},
        {name: `${p}.router.per_expert_scale`, shape: [experts]},
        {name: `${p}.experts.gate_up_proj`, shape: [experts, 2 * inter, hidden]},
        {name: `${p}.experts.down_proj`, shape: [experts, hidden, inter]},
        {name: `${p}.post_feedforward_layernorm_1.weight`, shape: [hidden]},
        {name: `${p}.pre_feedforward_layernorm_2.weight`, shape: [hidden]},
        {name: `${p}.post_feedforward_layernorm_2.weight`, shape: [hidden]},
      )
    }
    if (ple > 0) {
      shapes.push(
        {name: `${p}.per_layer_input_gate.weight`, shape: [ple, hidden]},
        {name: `${p}.per_layer_projection.weight`, shape: [hidden, ple]},
        {name: `${p}.post_per_layer_input_norm.weight`, shape: [hidden]},
      )
    }
    // Gemma 3n has no layer_scalar: its AltUp and LAuReL weights instead.
    if (config.gemma3n) shapes.push(...gemma3nLayerShapes(config, i))
    else shapes.push({name: `${p}.layer_scalar`, shape: [1], optional: true})
  })
  shapes.push({name: 'model.norm.weight', shape: [hidden]})
  if (!config.tieWordEmbeddings) shapes.push({name: 'lm_head.weight', shape: [vocabSize, hidden]})
  return shapes
}

/** The checkpoint's Gemma 4 tensors (a multimodal checkpoint's language model renamed to the text model's), each checked by presence and shape. */
export function gemma4Tensors(config: ModelConfig, checkpointTensors: TensorInfo[], dir: string): TensorInfo[] {
  // A hostile layer count must not make us list billions of expected tensors before the first one is missing.
  if (config.numLayers * 9 > checkpointTensors.length) {
    throw new ModelLoadError(`The config says ${config.numLayers} Gemma 4 layers of at least 9 tensors each, but the checkpoint in ${dir} holds only ${checkpointTensors.length} tensors.`)
  }
  const byName = new Map(checkpointTensors.map((t) => [languageModelTensorName(t.name), t]))
  return gemma4TensorShapes(config).flatMap(({name, shape, optional}) => {
    const tensor = byName.get(name)
    if (tensor === undefined) {
      if (optional) return []
      const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : ''
      throw new ModelLoadError(`Tensor ${name} is missing from the checkpoint in ${dir}${hint}; expected shape [${shape.join(', ')}].`)
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(`Tensor ${name} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (in ${tensor.path}).`)
    }
    return shape.length === 3 ? expertParts({...tensor, name}) : [{...tensor, name}]
  })
}

/** A [experts, rows, cols] tensor as one [rows, cols] tensor per expert (`...experts.<e>.gate_up_proj`): byte windows of the file. */
function expertParts(tensor: TensorInfo): TensorInfo[] {
  const [experts, rows, cols] = tensor.shape as [number, number, number]
  const bytes = tensor.nbytes / experts
  const at = tensor.name.lastIndexOf('experts.') + 'experts.'.length
  return Array.from({length: experts}, (_, e) => ({
    ...tensor, name: `${tensor.name.slice(0, at)}${e}.${tensor.name.slice(at)}`, shape: [rows, cols], offset: tensor.offset + e * bytes, nbytes: bytes,
  }))
}
