// Independent float64 forward pass of the LayerNorm family (OPT / GPT-NeoX / GPT-2 here; Phi, StableLM, StarCoder2 and
// GPT-J weights: reference-layernorm-more.ts), read from the checkpoint under its own tensor names (Conv1D transposed,
// NeoX's per-head q|k|v split here): the ground truth the LayerNorm-family kernels are tested against.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import type {ModelConfig} from '../../src/engine/model/model-config.js'
import {readCheckpointTensors, readTensorFloat64, type TensorInfo} from '../../src/engine/model/safetensors.js'
import {ALIBI_REFERENCE_WEIGHTS} from './reference-alibi.js'
import {MORE_REFERENCE_WEIGHTS} from './reference-layernorm-more.js'
import {attention as causalAttention} from './reference-model.js'

/** A linear layer as y = x W^T + b, W [out, in]. */
export interface Linear {
  weight: Float64Array
  bias: Float64Array | null
  inSize: number
}

export interface Norm {
  weight: Float64Array
  bias: Float64Array
}

export interface Layer {
  norm1: Norm
  /** Absent where one norm feeds attention and MLP (Phi, GPT-J, StableLM's parallel residual). */
  norm2: Norm | null
  q: Linear
  k: Linear
  v: Linear
  o: Linear
  /** fc1 -> act -> fc2; with `up`, StableLM's act(fc1) * up -> fc2 (gate, up, down). */
  fc1: Linear
  fc2: Linear
  up?: Linear
  /** Per-head LayerNorms of q and k before rotary, one per head (Phi's shared one repeated). */
  qNorms?: Norm[]
  kNorms?: Norm[]
}

export interface Weights {
  embed: Float64Array
  /** BLOOM's word_embeddings_layernorm. */
  embedNorm?: Norm
  positions: Float64Array | null
  projectIn: Linear | null
  projectOut: Linear | null
  layers: Layer[]
  finalNorm: Norm | null
  head: Float64Array
  headBias?: Float64Array
}

export class LayerNormReference {
  private constructor(
    private readonly c: ModelConfig,
    private readonly w: Weights,
  ) {}

  static load(model: LoadedModel): LayerNormReference {
    const c = model.config
    const byName = new Map(readCheckpointTensors(model.dir).map((t) => [t.name, t]))
    const tensor = (...names: string[]): TensorInfo => {
      const found = names.map((n) => byName.get(n)).find((t) => t !== undefined)
      if (!found) throw new Error(`reference: none of ${names.join(', ')} in the checkpoint`)
      return found
    }
    const values = (...names: string[]) => readTensorFloat64(tensor(...names))
    const load = {OPTForCausalLM: optWeights, GPTNeoXForCausalLM: neoxWeights, GPT2LMHeadModel: gpt2Weights, ...MORE_REFERENCE_WEIGHTS, ...ALIBI_REFERENCE_WEIGHTS}[c.architecture]
    if (!load) throw new Error(`reference: ${c.architecture} is not a LayerNorm-family architecture`)
    return new LayerNormReference(c, load(c, values, tensor))
  }

  forwardChunk(tokenIds: number[], start: number, keyCache: Float64Array[], valueCache: Float64Array[], which: 'all' | 'last'): Float64Array[] {
    const c = this.c
    const ln = c.layerNorm!
    const {hiddenSize: hidden, numHeads, numKvHeads, headDim} = c
    const count = tokenIds.length
    const embedWidth = ln.embedDim || hidden
    let x: Float64Array = new Float64Array(count * embedWidth)
    tokenIds.forEach((id, t) => x.set(this.w.embed.subarray(id * embedWidth, (id + 1) * embedWidth), t * embedWidth))
    if (this.w.projectIn) x = apply(x, this.w.projectIn)
    if (this.w.embedNorm) x = layerNorm(x, this.w.embedNorm, hidden, c.rmsNormEps)
    if (this.w.positions) {
      for (let t = 0; t < count; t++) for (let i = 0; i < hidden; i++) x[t * hidden + i] += this.w.positions[(start + t + ln.positionOffset) * hidden + i]
    }
    const attention = (layer: number, normed: Float64Array): Float64Array => {
      const L = this.w.layers[layer]
      let [q, k, v] = [apply(normed, L.q), apply(normed, L.k), apply(normed, L.v)]
      const clip = ln.clipQkv ?? 0 // MPT
      if (clip > 0) [q, k, v] = [q, k, v].map((values) => values.map((value) => Math.min(clip, Math.max(-clip, value))))
      if (L.qNorms) [q, k] = [headNorms(q, L.qNorms, headDim, c.rmsNormEps), headNorms(k, L.kNorms!, headDim, c.rmsNormEps)]
      const rotate = ln.interleavedRotary ? rotateEveryTwo : rotateHalf
      for (let t = 0; ln.rotaryDim > 0 && t < count; t++) {
        for (let h = 0; h < numHeads; h++) rotate(q, (t * numHeads + h) * headDim, ln.rotaryDim, start + t, c.ropeTheta)
        for (let h = 0; h < numKvHeads; h++) rotate(k, (t * numKvHeads + h) * headDim, ln.rotaryDim, start + t, c.ropeTheta)
      }
      const kvSize = numKvHeads * headDim
      keyCache[layer]!.set(k, start * kvSize)
      valueCache[layer]!.set(v, start * kvSize)
      return apply(causalAttention(q, keyCache[layer]!, valueCache[layer]!, start, count, c, c.layerWindows?.[layer] ?? 0), L.o)
    }
    const mlp = (layer: number, normed: Float64Array): Float64Array => {
      const L = this.w.layers[layer]
      const activated = apply(normed, L.fc1).map(ACTIVATIONS[c.hiddenAct])
      return apply(L.up ? mul(activated, apply(normed, L.up)) : activated, L.fc2)
    }
    for (let layer = 0; layer < c.numLayers; layer++) {
      const L = this.w.layers[layer]
      if (ln.postNorm) {
        x = layerNorm(add(x, attention(layer, x)), L.norm1, hidden, c.rmsNormEps)
        x = layerNorm(add(x, mlp(layer, x)), L.norm2!, hidden, c.rmsNormEps)
      } else if (ln.sharedNorm) {
        const normed = layerNorm(x, L.norm1, hidden, c.rmsNormEps)
        x = add(x, add(attention(layer, normed), mlp(layer, normed)))
      } else if (ln.parallelResidual) {
        x = add(x, add(attention(layer, layerNorm(x, L.norm1, hidden, c.rmsNormEps)), mlp(layer, layerNorm(x, L.norm2!, hidden, c.rmsNormEps))))
      } else {
        x = add(x, attention(layer, layerNorm(x, L.norm1, hidden, c.rmsNormEps)))
        x = add(x, mlp(layer, layerNorm(x, L.norm2!, hidden, c.rmsNormEps)))
      }
    }
    const positions = which === 'all' ? [...Array(count).keys()] : [count - 1]
    return positions.map((t) => {
      let row: Float64Array = x.slice(t * hidden, (t + 1) * hidden)
      if (this.w.finalNorm) row = layerNorm(row, this.w.finalNorm, hidden, c.rmsNormEps)
      if (this.w.projectOut) row = apply(row, this.w.projectOut)
      return apply(row, {weight: this.w.head, bias: this.w.headBias ?? null, inSize: embedWidth})
    })
  }
}

export type Values = (...names: string[]) => Float64Array
export type Find = (...names: string[]) => TensorInfo

function optWeights(c: ModelConfig, values: Values, _find: Find): Weights {
  const ln = c.layerNorm!
  const d = (name: string) => [`model.decoder.${name}`, `decoder.${name}`]
  const linear = (name: string, inSize: number): Linear => ({weight: values(...d(`${name}.weight`)), bias: ln.qkvBias ? values(...d(`${name}.bias`)) : null, inSize})
  const size = c.hiddenSize
  const norm = (name: string): Norm => (ln.normAffine ? {weight: values(...d(`${name}.weight`)), bias: values(...d(`${name}.bias`))} : {weight: new Float64Array(size).fill(1), bias: new Float64Array(size)})
  const embed = values(...d('embed_tokens.weight'))
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `layers.${i}`
    return {
      norm1: norm(`${p}.self_attn_layer_norm`), norm2: norm(`${p}.final_layer_norm`), q: linear(`${p}.self_attn.q_proj`, size), k: linear(`${p}.self_attn.k_proj`, size),
      v: linear(`${p}.self_attn.v_proj`, size), o: linear(`${p}.self_attn.out_proj`, size), fc1: linear(`${p}.fc1`, size), fc2: linear(`${p}.fc2`, c.intermediateSize),
    }
  })
  const embedDim = ln.embedDim || size
  return {
    embed, positions: values(...d('embed_positions.weight')), layers,
    projectIn: ln.embedDim ? {weight: values(...d('project_in.weight')), bias: null, inSize: embedDim} : null,
    projectOut: ln.embedDim ? {weight: values(...d('project_out.weight')), bias: null, inSize: size} : null,
    finalNorm: ln.finalNorm ? norm('final_layer_norm') : null, head: c.tieWordEmbeddings ? embed : values('lm_head.weight'),
  }
}

function neoxWeights(c: ModelConfig, values: Values, _find: Find): Weights {
  const g = (name: string) => [`gpt_neox.${name}`, name]
  const size = c.hiddenSize
  const linear = (name: string, inSize: number): Linear => ({weight: values(...g(`${name}.weight`)), bias: values(...g(`${name}.bias`)), inSize})
  const norm = (name: string): Norm => ({weight: values(...g(`${name}.weight`)), bias: values(...g(`${name}.bias`))})
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const p = `layers.${i}`
    // query_key_value's output, viewed [heads, 3 * headDim], is each head's q, k, v in turn.
    const fused = linear(`${p}.attention.query_key_value`, size)
    const [q, k, v] = [0, 1, 2].map((part) => perHeadPart(fused, part, c.numHeads, c.headDim))
    return {norm1: norm(`${p}.input_layernorm`), norm2: norm(`${p}.post_attention_layernorm`), q: q!, k: k!, v: v!, o: linear(`${p}.attention.dense`, size),
      fc1: linear(`${p}.mlp.dense_h_to_4h`, size), fc2: linear(`${p}.mlp.dense_4h_to_h`, c.intermediateSize)}
  })
  return {embed: values(...g('embed_in.weight')), positions: null, projectIn: null, projectOut: null, layers, finalNorm: norm('final_layer_norm'),
    head: values('embed_out.weight', 'lm_head.weight')}
}

function gpt2Weights(c: ModelConfig, values: Values, find: Find): Weights {
  const g = (name: string) => [`transformer.${name}`, name]
  const size = c.hiddenSize
  // Conv1D: y = x W + b with W [in, out].
  const conv = (name: string): Linear => {
    const info = find(...g(`${name}.weight`))
    return {weight: transpose(values(...g(`${name}.weight`)), info.shape[0]!, info.shape[1]!), bias: values(...g(`${name}.bias`)), inSize: info.shape[0]!}
  }
  const norm = (name: string): Norm => ({weight: values(...g(`${name}.weight`)), bias: values(...g(`${name}.bias`))})
  const layers = Array.from({length: c.numLayers}, (_, i): Layer => {
    const fused = conv(`h.${i}.attn.c_attn`)
    const [q, k, v] = [0, 1, 2].map((part): Linear => ({weight: fused.weight.slice(part * size * size, (part + 1) * size * size), bias: fused.bias!.slice(part * size, (part + 1) * size), inSize: size}))
    return {norm1: norm(`h.${i}.ln_1`), norm2: norm(`h.${i}.ln_2`), q: q!, k: k!, v: v!, o: conv(`h.${i}.attn.c_proj`), fc1: conv(`h.${i}.mlp.c_fc`), fc2: conv(`h.${i}.mlp.c_proj`)}
  })
  const embed = values(...g('wte.weight'))
  return {embed, positions: values(...g('wpe.weight')), projectIn: null, projectOut: null, layers, finalNorm: norm('ln_f'), head: c.tieWordEmbeddings ? embed : values('lm_head.weight')}
}

export function perHeadPart(fused: Linear, part: number, heads: number, headDim: number): Linear {
  const rows = heads * headDim
  const weight = new Float64Array(rows * fused.inSize)
  const bias = new Float64Array(rows)
  for (let h = 0; h < heads; h++) {
    for (let d = 0; d < headDim; d++) {
      const from = h * 3 * headDim + part * headDim + d
      weight.set(fused.weight.subarray(from * fused.inSize, (from + 1) * fused.inSize), (h * headDim + d) * fused.inSize)
      bias[h * headDim + d] = fused.bias![from]!
    }
  }
  return {weight, bias, inSize: fused.inSize}
}

function transpose(values: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(values.length)
  for (let r = 0; r < rows; r++) for (let col = 0; col < cols; col++) out[col * rows + r] = values[r * cols + col]!
  return out
}

export const ACTIVATIONS: Record<ModelConfig['hiddenAct'], (x: number) => number> = {
  relu: (x) => Math.max(0, x),
  relu2: (x) => Math.max(0, x) ** 2,
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_pytorch_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x / (1 + Math.exp(-x)),
  // Apertus's: it needs each layer's learned scalars, which the references do not read (its fixture holds it to transformers).
  xielu: () => {
    throw new Error('the float64 references do not run xIELU')
  },
}

/** erf by its Maclaurin series (|x| < 3) or continued fraction: ~1e-15, far below the tests' tolerances. */
function erf(x: number): number {
  const a = Math.abs(x)
  if (a > 6) return Math.sign(x)
  if (a < 3) {
    let term = a, sum = a
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n
      const next = term / (2 * n + 1)
      sum += next
      if (Math.abs(next) < 1e-17) break
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum
  }
  // erfc(a) = exp(-a^2) / sqrt(pi) * 1 / (a + 1/2 / (a + 1 / (a + 3/2 / (a + ...)))), evaluated bottom-up.
  let fraction = 0
  for (let n = 60; n >= 1; n--) fraction = (n / 2) / (a + fraction)
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction))
}

export function layerNorm(x: Float64Array, norm: Norm, size: number, eps: number): Float64Array {
  const out = new Float64Array(x.length)
  for (let base = 0; base < x.length; base += size) {
    let mean = 0
    for (let i = 0; i < size; i++) mean += x[base + i]!
    mean /= size
    let variance = 0
    for (let i = 0; i < size; i++) variance += (x[base + i]! - mean) ** 2
    const inverse = 1 / Math.sqrt(variance / size + eps)
    for (let i = 0; i < size; i++) out[base + i] = (x[base + i]! - mean) * inverse * norm.weight[i]! + norm.bias[i]!
  }
  return out
}

function apply(x: Float64Array, layer: Linear): Float64Array {
  const rows = x.length / layer.inSize
  const outSize = layer.weight.length / layer.inSize
  const out = new Float64Array(rows * outSize)
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outSize; o++) {
      let sum = layer.bias ? layer.bias[o]! : 0
      for (let i = 0; i < layer.inSize; i++) sum += x[r * layer.inSize + i]! * layer.weight[o * layer.inSize + i]!
      out[r * outSize + o] = sum
    }
  }
  return out
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, i) => value + b[i]!)
}

/** rotate_half over the first `dims` values of a head at `base` (GPT-NeoX's partial rotary): frequencies theta^(-2i / dims). */
function rotateHalf(x: Float64Array, base: number, dims: number, position: number, theta: number): void {
  const half = dims / 2
  for (let i = 0; i < half; i++) {
    const angle = position / theta ** ((2 * i) / dims)
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)]
    const [x1, x2] = [x[base + i]!, x[base + i + half]!]
    x[base + i] = x1 * cos - x2 * sin
    x[base + i + half] = x2 * cos + x1 * sin
  }
}

/** LayerNorm of each head of rows of heads x headDim values, head h by norms[h]. */
function headNorms(x: Float64Array, norms: Norm[], headDim: number, eps: number): Float64Array {
  const out = new Float64Array(x.length)
  for (let base = 0, h = 0; base < x.length; base += headDim, h = (h + 1) % norms.length) out.set(layerNorm(x.subarray(base, base + headDim), norms[h]!, headDim, eps), base)
  return out
}

/** GPT-J's rotate_every_two over the first `dims` values of a head at `base`: pairs (2i, 2i + 1) turn by position / theta^(2i / dims). */
function rotateEveryTwo(x: Float64Array, base: number, dims: number, position: number, theta: number): void {
  for (let i = 0; i < dims / 2; i++) {
    const angle = position / theta ** ((2 * i) / dims)
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)]
    const [x1, x2] = [x[base + 2 * i]!, x[base + 2 * i + 1]!]
    x[base + 2 * i] = x1 * cos - x2 * sin
    x[base + 2 * i + 1] = x2 * cos + x1 * sin
  }
}

function mul(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, i) => value * b[i]!)
}
