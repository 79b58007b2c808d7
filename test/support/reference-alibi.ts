// The float64 reference's weights of BLOOM, Falcon and MPT, read under each checkpoint's own names (reference-layernorm.ts
// runs them; ALiBi's bias is added in reference-model.ts's attention): the fused query_key_value cut into q, k and v here.
import type {ModelConfig} from '../../src/engine/model/model-config.js'
import type {Find, Layer, Linear, Norm, Values, Weights} from './reference-layernorm.js'

type Loader = (c: ModelConfig, values: Values, find: Find) => Weights

/** BLOOM and Falcon store q, k and v per KV group as [q heads | k | v]; multi-query Falcon and MPT as [all q | all k | all v]. */
function splitQkv(fused: Linear, c: ModelConfig): Linear[] {
  const d = c.headDim, inSize = fused.inSize
  const rowsOf = (rows: number[]): Linear => {
    const weight = new Float64Array(rows.length * inSize), bias = fused.bias ? new Float64Array(rows.length) : null
    rows.forEach((row, i) => {
      weight.set(fused.weight.subarray(row * inSize, (row + 1) * inSize), i * inSize)
      if (bias) bias[i] = fused.bias![row]!
    })
    return {weight, bias, inSize}
  }
  const range = (from: number, count: number) => Array.from({length: count}, (_, i) => from + i)
  const groups = c.layerNorm!.qkvGroups
  if (!groups) return [rowsOf(range(0, c.numHeads * d)), rowsOf(range(c.numHeads * d, c.numKvHeads * d)), rowsOf(range((c.numHeads + c.numKvHeads) * d, c.numKvHeads * d))]
  const groupRows = (groups.queriesPerGroup + 2) * d
  const part = (head: number, heads: number) => rowsOf(Array.from({length: groups.groups}, (_, g) => range(g * groupRows + head * d, heads * d)).flat())
  return [part(0, groups.queriesPerGroup), part(groups.queriesPerGroup, 1), part(groups.queriesPerGroup + 1, 1)]
}

/** Linears, norms (MPT's without bias: zeros) and embeddings of a checkpoint under "transformer." (also read without it). */
function reader(c: ModelConfig, values: Values) {
  const at = (name: string) => [`transformer.${name}`, name]
  const bias = c.layerNorm!.qkvBias
  const linear = (name: string, inSize: number): Linear => ({weight: values(...at(`${name}.weight`)), bias: bias ? values(...at(`${name}.bias`)) : null, inSize})
  const norm = (name: string): Norm => {
    const weight = values(...at(`${name}.weight`))
    return {weight, bias: c.layerNorm!.normBias === false ? new Float64Array(weight.length) : values(...at(`${name}.bias`))}
  }
  return {linear, norm}
}

function alibiWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm} = reader(c, values)
  const ln = c.layerNorm!, size = c.hiddenSize
  const mpt = c.architecture === 'MptForCausalLM' || c.architecture === 'MPTForCausalLM'
  const [layersKey, parts] = mpt
    ? ['blocks', {norm1: 'norm_1', norm2: 'norm_2', qkv: 'attn.Wqkv', o: 'attn.out_proj', fc1: 'ffn.up_proj', fc2: 'ffn.down_proj'}]
    : ['h', {norm1: ln.parallelResidual ? 'ln_attn' : 'input_layernorm', norm2: ln.parallelResidual ? 'ln_mlp' : 'post_attention_layernorm', qkv: 'self_attention.query_key_value',
      o: 'self_attention.dense', fc1: 'mlp.dense_h_to_4h', fc2: 'mlp.dense_4h_to_h'}]
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `${layersKey}.${i}`
    const [q, k, v] = splitQkv(linear(`${p}.${parts.qkv}`, size), c)
    return {norm1: norm(`${p}.${parts.norm1}`), norm2: ln.sharedNorm ? null : norm(`${p}.${parts.norm2}`), q: q!, k: k!, v: v!, o: linear(`${p}.${parts.o}`, size),
      fc1: linear(`${p}.${parts.fc1}`, size), fc2: linear(`${p}.${parts.fc2}`, c.intermediateSize)}
  })
  const embed = values(...(mpt ? ['transformer.wte.weight', 'wte.weight'] : ['transformer.word_embeddings.weight', 'word_embeddings.weight']))
  return {embed, embedNorm: ln.embedNorm ? norm('word_embeddings_layernorm') : undefined, positions: null, projectIn: null, projectOut: null, layers,
    finalNorm: norm(mpt ? 'norm_f' : 'ln_f'), head: c.tieWordEmbeddings ? embed : values('lm_head.weight')}
}

export const ALIBI_REFERENCE_WEIGHTS: Record<string, Loader> = {BloomForCausalLM: alibiWeights, FalconForCausalLM: alibiWeights, MptForCausalLM: alibiWeights, MPTForCausalLM: alibiWeights}
