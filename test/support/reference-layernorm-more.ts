// The float64 reference's weights of Phi, StableLM, StarCoder2, GPT-J, GPTBigCode and GPT-Neo, read under each checkpoint's own names
// (reference-layernorm.ts runs them): q/k/v apart, GPT-J's q/k in their stored interleaved rope order.
import type {ModelConfig} from '../../src/engine/model/model-config.js'
import {perHeadPart, type Find, type Layer, type Linear, type Norm, type Values, type Weights} from './reference-layernorm.js'

type Loader = (c: ModelConfig, values: Values, find: Find) => Weights

/** Linears, norms and the head of one checkpoint whose base model sits under `prefix` (also read without it). */
function reader(c: ModelConfig, values: Values, prefix: string) {
  const at = (name: string) => [`${prefix}${name}`, name]
  const linear = (name: string, inSize: number, bias: boolean): Linear => ({weight: values(...at(`${name}.weight`)), bias: bias ? values(...at(`${name}.bias`)) : null, inSize})
  const norm = (name: string): Norm => ({weight: values(...at(`${name}.weight`)), bias: values(...at(`${name}.bias`))})
  const embed = values(...at('embed_tokens.weight'), ...at('wte.weight'))
  const head = {head: c.tieWordEmbeddings ? embed : values('lm_head.weight'), ...(c.layerNorm!.headBias ? {headBias: values('lm_head.bias')} : {})}
  return {linear, norm, embed, head}
}

function phiWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'model.')
  const size = c.hiddenSize, heads = c.numHeads, kvHeads = c.numKvHeads
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `layers.${i}`
    const headNorms = c.layerNorm!.headNorm === 'shared'
      ? {qNorms: Array(heads).fill(norm(`${p}.self_attn.q_layernorm`)), kNorms: Array(kvHeads).fill(norm(`${p}.self_attn.k_layernorm`))}
      : {}
    return {norm1: norm(`${p}.input_layernorm`), norm2: null, q: linear(`${p}.self_attn.q_proj`, size, true), k: linear(`${p}.self_attn.k_proj`, size, true),
      v: linear(`${p}.self_attn.v_proj`, size, true), o: linear(`${p}.self_attn.dense`, heads * c.headDim, true), fc1: linear(`${p}.mlp.fc1`, size, true),
      fc2: linear(`${p}.mlp.fc2`, c.intermediateSize, true), ...headNorms}
  })
  return {embed, positions: null, projectIn: null, projectOut: null, layers, finalNorm: norm('final_layernorm'), ...head}
}

function stableLmWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'model.')
  const ln = c.layerNorm!
  const size = c.hiddenSize
  // StableLmLayerNormPerHead: a LayerNorm without bias per head.
  const perHead = (name: string, count: number): Norm[] => Array.from({length: count}, (_, h) => ({weight: values(`model.${name}.norms.${h}.weight`), bias: new Float64Array(c.headDim)}))
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `layers.${i}`
    const headNorms = ln.headNorm === 'per-head' ? {qNorms: perHead(`${p}.self_attn.q_layernorm`, c.numHeads), kNorms: perHead(`${p}.self_attn.k_layernorm`, c.numKvHeads)} : {}
    return {norm1: norm(`${p}.input_layernorm`), norm2: ln.sharedNorm ? null : norm(`${p}.post_attention_layernorm`), q: linear(`${p}.self_attn.q_proj`, size, ln.qkvBias),
      k: linear(`${p}.self_attn.k_proj`, size, ln.qkvBias), v: linear(`${p}.self_attn.v_proj`, size, ln.qkvBias), o: linear(`${p}.self_attn.o_proj`, size, false),
      fc1: linear(`${p}.mlp.gate_proj`, size, false), up: linear(`${p}.mlp.up_proj`, size, false), fc2: linear(`${p}.mlp.down_proj`, c.intermediateSize, false), ...headNorms}
  })
  return {embed, positions: null, projectIn: null, projectOut: null, layers, finalNorm: norm('norm'), ...head}
}

function starcoder2Weights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'model.')
  const size = c.hiddenSize, bias = c.layerNorm!.mlpBias
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `layers.${i}`
    return {norm1: norm(`${p}.input_layernorm`), norm2: norm(`${p}.post_attention_layernorm`), q: linear(`${p}.self_attn.q_proj`, size, bias),
      k: linear(`${p}.self_attn.k_proj`, size, bias), v: linear(`${p}.self_attn.v_proj`, size, bias), o: linear(`${p}.self_attn.o_proj`, c.numHeads * c.headDim, bias),
      fc1: linear(`${p}.mlp.c_fc`, size, bias), fc2: linear(`${p}.mlp.c_proj`, c.intermediateSize, bias)}
  })
  return {embed, positions: null, projectIn: null, projectOut: null, layers, finalNorm: norm('norm'), ...head}
}

function gptjWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'transformer.')
  const size = c.hiddenSize
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `h.${i}`
    return {norm1: norm(`${p}.ln_1`), norm2: null, q: linear(`${p}.attn.q_proj`, size, false), k: linear(`${p}.attn.k_proj`, size, false), v: linear(`${p}.attn.v_proj`, size, false),
      o: linear(`${p}.attn.out_proj`, size, false), fc1: linear(`${p}.mlp.fc_in`, size, true), fc2: linear(`${p}.mlp.fc_out`, c.intermediateSize, true)}
  })
  return {embed, positions: null, projectIn: null, projectOut: null, layers, finalNorm: norm('ln_f'), ...head}
}

function bigCodeWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'transformer.')
  const size = c.hiddenSize, kvSize = c.numKvHeads * c.headDim
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `h.${i}`
    const fused = linear(`${p}.attn.c_attn`, size, true)
    // multi_query: rows [all q | k | v]; otherwise each head's [q | k | v] in turn.
    const rows = (from: number, count: number): Linear => ({weight: fused.weight.slice(from * size, (from + count) * size), bias: fused.bias!.slice(from, from + count), inSize: size})
    const [q, k, v] = c.numKvHeads === 1 ? [rows(0, size), rows(size, kvSize), rows(size + kvSize, kvSize)] : [0, 1, 2].map((part) => perHeadPart(fused, part, c.numHeads, c.headDim))
    return {norm1: norm(`${p}.ln_1`), norm2: norm(`${p}.ln_2`), q: q!, k: k!, v: v!, o: linear(`${p}.attn.c_proj`, size, true), fc1: linear(`${p}.mlp.c_fc`, size, true),
      fc2: linear(`${p}.mlp.c_proj`, c.intermediateSize, true)}
  })
  return {embed, positions: values('transformer.wpe.weight', 'wpe.weight'), projectIn: null, projectOut: null, layers, finalNorm: norm('ln_f'), ...head}
}

function gptNeoWeights(c: ModelConfig, values: Values): Weights {
  const {linear, norm, embed, head} = reader(c, values, 'transformer.')
  const size = c.hiddenSize
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `h.${i}`
    return {norm1: norm(`${p}.ln_1`), norm2: norm(`${p}.ln_2`), q: linear(`${p}.attn.attention.q_proj`, size, false), k: linear(`${p}.attn.attention.k_proj`, size, false),
      v: linear(`${p}.attn.attention.v_proj`, size, false), o: linear(`${p}.attn.attention.out_proj`, size, true), fc1: linear(`${p}.mlp.c_fc`, size, true),
      fc2: linear(`${p}.mlp.c_proj`, c.intermediateSize, true)}
  })
  return {embed, positions: values('transformer.wpe.weight', 'wpe.weight'), projectIn: null, projectOut: null, layers, finalNorm: norm('ln_f'), ...head}
}

export const MORE_REFERENCE_WEIGHTS: Record<string, Loader> = {
  PhiForCausalLM: phiWeights, StableLmForCausalLM: stableLmWeights, Starcoder2ForCausalLM: starcoder2Weights, GPTJForCausalLM: gptjWeights, GPTBigCodeForCausalLM: bigCodeWeights,
  GPTNeoForCausalLM: gptNeoWeights,
}
