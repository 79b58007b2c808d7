// Independent float64 Llama/Mistral/Qwen2/Qwen3/Gemma/Gemma 2/Gemma 3/Phi-3/Granite/OLMo2/SmolLM3 forward pass (sliding windows included; MoE through reference-moe.ts; OPT/GPT-NeoX/GPT-2 through reference-layernorm.ts) in plain TypeScript: the ground truth the native kernels are tested against.
import {loadModel} from '../../src/engine/model/load-model.js'
import type {ModelConfig, RopeScaling} from '../../src/engine/model/model-config.js'
import {readTensorFloat64} from '../../src/engine/model/safetensors.js'
import {LayerNormReference} from './reference-layernorm.js'
import {loadReferenceMoe, referenceMoeMlp, type ReferenceMoe} from './reference-moe.js'
import {applyInterleavedRope, meanNorm} from './reference-rms-variants.js'

interface LayerWeights {
  /** null: OLMo2 (no pre-norms). */
  inputNorm: Float64Array | null
  q: Float64Array
  k: Float64Array
  v: Float64Array
  qBias: Float64Array | null
  kBias: Float64Array | null
  vBias: Float64Array | null
  /** Qwen3's per-head RMSNorm weights of q and k ([headDim]); null without q/k norms. */
  qNorm: Float64Array | null
  kNorm: Float64Array | null
  o: Float64Array
  /** The norm before the MLP (Gemma 2: pre_feedforward_layernorm); null: OLMo2. */
  postNorm: Float64Array | null
  /** Gemma 2's norms on the attention output (its post_attention_layernorm) and on the MLP output; null otherwise. */
  attentionOutNorm: Float64Array | null
  mlpOutNorm: Float64Array | null
  gate: Float64Array
  up: Float64Array
  down: Float64Array
  /** A sparse layer's router and experts (its gate/up/down are then empty); null for a dense MLP. */
  moe: ReferenceMoe | null
  /** PhiMoE: its LayerNorms' biases and o_proj's (Llama's attention_bias too); null without. */
  inputNormBias: Float64Array | null
  postNormBias: Float64Array | null
  oBias: Float64Array | null
}

/** One sequence's KV cache: per layer, keys and values of every position so far, contiguous. */
export class ReferenceSequence {
  length = 0
  private readonly keys: Float64Array[]
  private readonly values: Float64Array[]

  constructor(private readonly model: ReferenceModel) {
    const size = model.config.maxPositionEmbeddings * model.config.numKvHeads * model.config.headDim
    this.keys = Array.from({length: model.config.numLayers}, () => new Float64Array(size))
    this.values = Array.from({length: model.config.numLayers}, () => new Float64Array(size))
  }

  /** Feeds tokens after those already cached; returns logits for every fed position, or only the last. */
  append(tokenIds: number[], which: 'all' | 'last' = 'last'): Float64Array[] {
    const logits = this.model.forwardChunk(tokenIds, this.length, this.keys, this.values, which)
    this.length += tokenIds.length
    return logits
  }
}

export class ReferenceModel {
  private constructor(
    readonly config: ModelConfig,
    private readonly embed: Float64Array,
    private readonly layers: LayerWeights[],
    private readonly finalNorm: Float64Array,
    private readonly lmHead: Float64Array,
    private readonly inverseFrequencies: Float64Array,
    /** yarn / longrope: cos and sin are multiplied by it (transformers' attention_scaling). */
    private readonly ropeAttentionFactor: number,
    /** Gemma 3: the sliding layers' own unscaled rope (rope_local_base_freq); null: one rope for every layer. */
    private readonly localInverseFrequencies: Float64Array | null,
    /** OPT, GPT-NeoX, GPT-2: their own forward pass (reference-layernorm.ts) in place of the one below. */
    private readonly layerNorm: LayerNormReference | null = null,
    /** PhiMoE: the final LayerNorm's bias and lm_head's; null without. */
    private readonly finalNormBias: Float64Array | null = null,
    private readonly lmHeadBias: Float64Array | null = null,
  ) {}

  /** mapWeight rewrites a tensor after reading (e.g. to its quantized-then-dequantized values). */
  static async load(dir: string, options: {mapWeight?: (name: string, values: Float64Array, shape: number[]) => Float64Array} = {}): Promise<ReferenceModel> {
    const loaded = await loadModel(dir)
    // GPT-OSS's sinks and experts are not modelled here; its tests hold it to transformers' fixture instead.
    if (loaded.config.attentionSinks) throw new Error(`${dir}: the float64 reference does not cover ${loaded.config.architecture}`)
    if (loaded.config.layerNorm) {
      if (options.mapWeight) throw new Error('reference: mapWeight is not supported for the LayerNorm family')
      const none = new Float64Array(0)
      return new ReferenceModel(loaded.config, none, [], none, none, none, 1, null, LayerNormReference.load(loaded))
    }
    const byName = new Map(loaded.tensors.map((t) => [t.name, t]))
    const config = loaded.config
    const read = (name: string): Float64Array => {
      // OLMo's LayerNorms have no weights.
      if (config.rmsVariant?.normAffine === false && name.endsWith('norm.weight')) return new Float64Array(config.hiddenSize).fill(1)
      const tensor = byName.get(name)!
      const values = readTensorFloat64(tensor)
      const mapped = options.mapWeight ? options.mapWeight(name, values, tensor.shape) : values
      // Gemma's RMSNorm scales by (1 + weight).
      return name.endsWith('norm.weight') && config.normWeightOffset !== 0 ? mapped.map((w) => w + config.normWeightOffset) : mapped
    }
    const optional = (name: string): Float64Array | null => (byName.has(name) ? read(name) : null)
    const layers: LayerWeights[] = []
    for (let i = 0; i < config.numLayers; i++) {
      const p = `model.layers.${i}`
      const sparse = config.moe?.sparseLayers[i] === true
      const dense = (name: string) => (sparse ? new Float64Array(0) : read(name))
      // OLMo2 normalises the sublayer outputs only (its post_attention_layernorm and post_feedforward_layernorm).
      const postOnly = config.rmsVariant?.postNormsOnly === true
      // Cohere's parallel block has one norm (input_layernorm) for attention and MLP.
      const parallel = config.rmsVariant?.parallelBlock === true
      layers.push({
        inputNorm: postOnly ? null : read(`${p}.input_layernorm.weight`),
        q: read(`${p}.self_attn.q_proj.weight`),
        k: read(`${p}.self_attn.k_proj.weight`),
        v: read(`${p}.self_attn.v_proj.weight`),
        qBias: config.attentionBias ? read(`${p}.self_attn.q_proj.bias`) : null,
        kBias: config.attentionBias ? read(`${p}.self_attn.k_proj.bias`) : null,
        vBias: config.attentionBias ? read(`${p}.self_attn.v_proj.bias`) : null,
        qNorm: config.qkNorm ? read(`${p}.self_attn.q_norm.weight`) : null,
        kNorm: config.qkNorm ? read(`${p}.self_attn.k_norm.weight`) : null,
        o: read(`${p}.self_attn.o_proj.weight`),
        postNorm: postOnly || parallel ? null : read(config.sandwichNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`),
        attentionOutNorm: config.sandwichNorms || postOnly ? read(`${p}.post_attention_layernorm.weight`) : null,
        mlpOutNorm: config.sandwichNorms || postOnly ? read(`${p}.post_feedforward_layernorm.weight`) : null,
        gate: dense(`${p}.mlp.gate_proj.weight`),
        up: dense(`${p}.mlp.up_proj.weight`),
        down: dense(`${p}.mlp.down_proj.weight`),
        moe: sparse ? loadReferenceMoe(read, p, config.moe!) : null,
        inputNormBias: optional(`${p}.input_layernorm.bias`),
        postNormBias: optional(`${p}.post_attention_layernorm.bias`),
        oBias: optional(`${p}.self_attn.o_proj.bias`),
      })
    }
    const embed = read('model.embed_tokens.weight')
    const lmHead = config.tieWordEmbeddings ? embed : read('lm_head.weight')
    const inverseFrequencies = ropeInverseFrequencies(config.headDim, config.ropeTheta, config.ropeScaling)
    const attentionFactor = config.ropeScaling.type === 'yarn' || config.ropeScaling.type === 'longrope' ? config.ropeScaling.attentionFactor : 1
    const local = config.ropeLocalTheta === undefined ? null : ropeInverseFrequencies(config.headDim, config.ropeLocalTheta, {type: 'none'})
    return new ReferenceModel(config, embed, layers, read('model.norm.weight'), lmHead, inverseFrequencies, attentionFactor, local, null, optional('model.norm.bias'), optional('lm_head.bias'))
  }

  newSequence(): ReferenceSequence {
    return new ReferenceSequence(this)
  }

  /** Full forward of a fresh sequence: logits at every position. */
  logits(tokenIds: number[]): Float64Array[] {
    return this.newSequence().append(tokenIds, 'all')
  }

  /** Logits at the last position of a fresh sequence. */
  nextLogits(tokenIds: number[]): Float64Array {
    return this.newSequence().append(tokenIds, 'last')[0]
  }

  /** Greedy continuation of exactly n tokens (argmax, lowest id on ties; no stopping at EOS). */
  greedy(tokenIds: number[], n: number): number[] {
    const sequence = this.newSequence()
    return this.continueGreedy(sequence, sequence.append(tokenIds)[0], n)
  }

  /** Greedy continuation of a sequence whose next-token logits are already known. */
  continueGreedy(sequence: ReferenceSequence, nextLogits: Float64Array, n: number): number[] {
    const generated: number[] = []
    let logits = nextLogits
    while (generated.length < n) {
      const next = argmax(logits)
      generated.push(next)
      if (generated.length < n) logits = sequence.append([next])[0]
    }
    return generated
  }

  /** Runs tokens at positions start.. through every layer, writing their K/V into the caches. */
  forwardChunk(tokenIds: number[], start: number, keyCache: Float64Array[], valueCache: Float64Array[], which: 'all' | 'last'): Float64Array[] {
    if (this.layerNorm) return this.layerNorm.forwardChunk(tokenIds, start, keyCache, valueCache, which)
    const c = this.config
    if (start + tokenIds.length > c.maxPositionEmbeddings) throw new Error('reference: sequence longer than max_position_embeddings')
    const hidden = c.hiddenSize
    const count = tokenIds.length
    const kvSize = c.numKvHeads * c.headDim
    const residual = new Float64Array(count * hidden)
    tokenIds.forEach((id, t) => residual.set(this.embed.subarray(id * hidden, (id + 1) * hidden), t * hidden))
    // Gemma multiplies embeddings by sqrt(hidden_size) (the tied LM head uses them unscaled); Granite by embedding_multiplier.
    const embeddingScale = c.rmsVariant ? c.embeddingScale : Math.sqrt(hidden)
    if (c.embeddingScale !== 1) for (let i = 0; i < residual.length; i++) residual[i] *= embeddingScale
    // Granite scales each sublayer output before its residual add.
    const addToResidual = (out: Float64Array) => addInPlace(residual, c.rmsVariant ? out.map((x) => x * c.rmsVariant!.residualMultiplier) : out)

    for (let layer = 0; layer < c.numLayers; layer++) {
      const w = this.layers[layer]
      const norm = (x: Float64Array, weight: Float64Array, bias: Float64Array | null) => (c.rmsVariant?.normMean ? meanNorm(x, weight, hidden, c.rmsNormEps, bias) : rmsNorm(x, weight, hidden, c.rmsNormEps))
      const normed = w.inputNorm ? norm(residual, w.inputNorm, w.inputNormBias) : residual.slice()
      const q = linear(normed, w.q, w.qBias, hidden)
      const k = linear(normed, w.k, w.kBias, hidden)
      const v = linear(normed, w.v, w.vBias, hidden)
      // Each head normalised on its own (rmsNorm over rows of headDim), before RoPE; OLMo2: all of q, all of k.
      // Command R+ (headMeanQkNorm): a LayerNorm of each head with its own weights.
      const whole = c.rmsVariant?.wholeQkNorm === true
      const headNorm = c.rmsVariant?.headMeanQkNorm ? meanNorm : rmsNorm
      const qNormed = w.qNorm ? headNorm(q, w.qNorm, whole ? c.numHeads * c.headDim : c.headDim, c.rmsNormEps) : q
      const kNormed = w.kNorm ? headNorm(k, w.kNorm, whole ? kvSize : c.headDim, c.rmsNormEps) : k
      q.set(qNormed)
      k.set(kNormed)
      // OLMo's and OLMoE's clip_qkv, after the q/k norms.
      const clip = c.rmsVariant?.clipQkv ?? 0
      if (clip > 0) for (const x of [q, k, v]) x.forEach((value, i) => (x[i] = Math.min(clip, Math.max(-clip, value))))
      // A sliding layer sees the last `window` positions; Gemma 3's rotate with their own base.
      const window = c.layerWindows?.[layer] ?? 0
      const [inverse, factor] = window > 0 && this.localInverseFrequencies ? [this.localInverseFrequencies, 1] : [this.inverseFrequencies, this.ropeAttentionFactor]
      // SmolLM3's no_rope_layers attend without positions.
      // Cohere rotates interleaved pairs (2i, 2i + 1).
      const rope = c.rmsVariant?.parallelBlock ? applyInterleavedRope : applyRope
      for (let t = 0; t < count && (c.rmsVariant?.ropeLayers?.[layer] ?? true); t++) {
        rope(q, t * c.numHeads * c.headDim, c.numHeads, c.headDim, start + t, inverse, factor)
        rope(k, t * kvSize, c.numKvHeads, c.headDim, start + t, inverse, factor)
      }
      keyCache[layer].set(k, start * kvSize)
      valueCache[layer].set(v, start * kvSize)
      const attended = attention(q, keyCache[layer], valueCache[layer], start, count, c, window)
      const attentionOut = linear(attended, w.o, w.oBias, c.numHeads * c.headDim)
      addToResidual(w.attentionOutNorm ? rmsNorm(attentionOut, w.attentionOutNorm, hidden, c.rmsNormEps) : attentionOut)
      // Cohere: the MLP reads the attention's normed input (residual + attention + mlp).
      const normed2 = w.postNorm ? norm(residual, w.postNorm, w.postNormBias) : c.rmsVariant?.parallelBlock ? normed : residual.slice()
      const activation = c.hiddenAct === 'gelu_pytorch_tanh' ? geluTanh : silu
      const gatedMlp = (x: Float64Array, gateWeight: Float64Array, upWeight: Float64Array, downWeight: Float64Array, intermediate: number) => {
        const gate = linear(x, gateWeight, null, hidden)
        const up = linear(x, upWeight, null, hidden)
        for (let i = 0; i < gate.length; i++) gate[i] = activation(gate[i]) * up[i]
        return linear(gate, downWeight, null, intermediate)
      }
      const mlpOut = w.moe ? referenceMoeMlp(normed2, w.moe, c.moe!, hidden, {linear, gatedMlp}) : gatedMlp(normed2, w.gate, w.up, w.down, c.intermediateSize)
      addToResidual(w.mlpOutNorm ? rmsNorm(mlpOut, w.mlpOutNorm, hidden, c.rmsNormEps) : mlpOut)
    }

    const positions = which === 'all' ? [...Array(count).keys()] : [count - 1]
    return positions.map((t) => {
      const row = residual.subarray(t * hidden, (t + 1) * hidden)
      const normed = c.rmsVariant?.normMean ? meanNorm(row, this.finalNorm, hidden, c.rmsNormEps, this.finalNormBias) : rmsNorm(row, this.finalNorm, hidden, c.rmsNormEps)
      const logits = linear(normed, this.lmHead, this.lmHeadBias, hidden)
      if (c.rmsVariant) logits.forEach((x, i) => (logits[i] = x * c.rmsVariant!.logitsMultiplier))
      return c.finalLogitSoftcap > 0 ? logits.map((x) => softcap(x, c.finalLogitSoftcap)) : logits
    })
  }
}

/** Gemma 2's soft-capping. */
const softcap = (x: number, cap: number): number => cap * Math.tanh(x / cap)
const silu = (x: number): number => x / (1 + Math.exp(-x))
/** transformers' gelu_pytorch_tanh, written as PyTorch's formula. */
const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))

export function argmax(values: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i
  return best
}

/**
 * HF rotary inverse frequencies, including linear, llama3 (transformers' _compute_llama3_parameters), yarn (recomputed
 * here from its parameters, _compute_yarn_parameters) and longrope (short_factor: the engine caps the context to where
 * transformers uses it).
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  const half = headDim / 2
  const inv = new Float64Array(half)
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim)
  if (scaling.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor
  if (scaling.type === 'llama3') {
    const lowFreqWavelen = scaling.originalMaxPosition / scaling.lowFreqFactor
    const highFreqWavelen = scaling.originalMaxPosition / scaling.highFreqFactor
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]
      if (wavelen > lowFreqWavelen) inv[i] /= scaling.factor
      else if (wavelen >= highFreqWavelen) {
        const smooth = (scaling.originalMaxPosition / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor)
        inv[i] = ((1 - smooth) * inv[i]) / scaling.factor + smooth * inv[i]
      }
    }
  }
  if (scaling.type === 'longrope') for (let i = 0; i < half; i++) inv[i] /= scaling.shortFactor[i]!
  if (scaling.type === 'yarn') {
    // Dimensions (of headDim) that turn betaFast / betaSlow times over the original context bound the ramp.
    const dimensionOf = (rotations: number) => (headDim * Math.log(scaling.originalMaxPosition / (rotations * 2 * Math.PI))) / (2 * Math.log(theta))
    const low = Math.max(scaling.truncate ? Math.floor(dimensionOf(scaling.betaFast)) : dimensionOf(scaling.betaFast), 0)
    let high = Math.min(scaling.truncate ? Math.ceil(dimensionOf(scaling.betaSlow)) : dimensionOf(scaling.betaSlow), headDim - 1)
    if (high === low) high += 0.001
    for (let i = 0; i < half; i++) {
      const extrapolated = 1 - Math.min(1, Math.max(0, (i - low) / (high - low)))
      inv[i] = (inv[i] / scaling.factor) * (1 - extrapolated) + inv[i] * extrapolated
    }
  }
  return inv
}

/** rotate_half convention: dimension i pairs with i + headDim/2. */
function applyRope(x: Float64Array, base: number, heads: number, headDim: number, position: number, inv: Float64Array, factor: number): void {
  const half = headDim / 2
  for (let i = 0; i < half; i++) {
    const angle = position * inv[i]
    const cos = Math.cos(angle) * factor
    const sin = Math.sin(angle) * factor
    for (let h = 0; h < heads; h++) {
      const a = base + h * headDim + i
      const x1 = x[a]
      const x2 = x[a + half]
      x[a] = x1 * cos - x2 * sin
      x[a + half] = x2 * cos + x1 * sin
    }
  }
}

/** Causal GQA attention of `count` new queries (positions start..) over the cached keys/values 0..start+t (with a window W > 0: start+t-W+1..start+t). */
export function attention(q: Float64Array, keys: Float64Array, values: Float64Array, start: number, count: number, c: ModelConfig, window: number): Float64Array {
  const {numHeads, numKvHeads, headDim} = c
  const groupSize = numHeads / numKvHeads
  const kvSize = numKvHeads * headDim
  const out = new Float64Array(count * numHeads * headDim)
  const scale = c.attentionScale > 0 ? c.attentionScale : 1 / Math.sqrt(headDim)
  const alibi = c.layerNorm?.alibiSlopes
  const scores = new Float64Array(start + count)
  for (let t = 0; t < count; t++) {
    const visible = start + t + 1
    const first = window > 0 ? Math.max(0, visible - window) : 0
    for (let h = 0; h < numHeads; h++) {
      const qBase = (t * numHeads + h) * headDim
      const kvHead = Math.floor(h / groupSize)
      let max = -Infinity
      for (let j = first; j < visible; j++) {
        const kBase = j * kvSize + kvHead * headDim
        let dot = 0
        for (let d = 0; d < headDim; d++) dot += q[qBase + d] * keys[kBase + d]
        scores[j] = c.attnLogitSoftcap > 0 ? softcap(dot * scale, c.attnLogitSoftcap) : dot * scale
        // ALiBi: the head's slope times the key's distance back from the query.
        if (alibi) scores[j] += alibi[h]! * (j - (start + t))
        if (scores[j] > max) max = scores[j]
      }
      let sum = 0
      for (let j = first; j < visible; j++) {
        scores[j] = Math.exp(scores[j] - max)
        sum += scores[j]
      }
      for (let j = first; j < visible; j++) {
        const weight = scores[j] / sum
        const vBase = j * kvSize + kvHead * headDim
        for (let d = 0; d < headDim; d++) out[qBase + d] += weight * values[vBase + d]
      }
    }
  }
  return out
}

function rmsNorm(x: Float64Array, weight: Float64Array, size: number, eps: number): Float64Array {
  const out = new Float64Array(x.length)
  for (let base = 0; base < x.length; base += size) {
    let sumSquares = 0
    for (let i = 0; i < size; i++) sumSquares += x[base + i] * x[base + i]
    const inverseRms = 1 / Math.sqrt(sumSquares / size + eps)
    for (let i = 0; i < size; i++) out[base + i] = x[base + i] * inverseRms * weight[i]
  }
  return out
}

/** x [rows, inSize] times W^T where W is [outSize, inSize] row-major (the HF layout). */
function linear(x: Float64Array, weight: Float64Array, bias: Float64Array | null, inSize: number): Float64Array {
  const rows = x.length / inSize
  const outSize = weight.length / inSize
  const out = new Float64Array(rows * outSize)
  for (let o = 0; o < outSize; o++) {
    const wBase = o * inSize
    const b = bias === null ? 0 : bias[o]
    for (let r = 0; r < rows; r++) {
      const xBase = r * inSize
      // Four partial sums: independent add chains run ~2x faster in V8 than one.
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      let i = 0
      for (; i + 3 < inSize; i += 4) {
        s0 += weight[wBase + i] * x[xBase + i]
        s1 += weight[wBase + i + 1] * x[xBase + i + 1]
        s2 += weight[wBase + i + 2] * x[xBase + i + 2]
        s3 += weight[wBase + i + 3] * x[xBase + i + 3]
      }
      for (; i < inSize; i++) s0 += weight[wBase + i] * x[xBase + i]
      out[r * outSize + o] = s0 + s1 + (s2 + s3) + b
    }
  }
  return out
}

function addInPlace(target: Float64Array, addend: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i] += addend[i]
}
