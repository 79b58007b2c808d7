// Sliding-window attention on the paged cache: the kernel's window (portable and AVX2), where each family puts its windows
// (Mistral, Qwen2/Qwen3, Gemma 2, Gemma 3), Gemma 3's two rope bases, and whole engines (chunked prefill across the
// window's edge, prefix-cached blocks, copy-on-write, preemption by swap and by recompute) against the float64
// reference and transformers 5.18.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {nativeOps} from '../src/engine/native.js'
import {promptLogits} from './support/model-logits.js'
import {withMultimodalCheckpoint} from './support/multimodal-checkpoint.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'
import {checkWindowedEngine} from './support/windowed-engine-check.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

describe('the paged attention kernel with a window', () => {
  const ops = nativeOps()
  const heads = 4, kvHeads = 2, blockSize = 4

  /** Prefill chunks that cross the window's edge and decode rows far past it, over scattered blocks. */
  function check(headDim: number, window: number): void {
    const seqs = [{start: 0, rows: 19}, {start: 6, rows: 9}, {start: 37, rows: 1}, {start: 12, rows: 1}, {start: 2, rows: 3}]
    const maxBlocks = 10, numBlocks = seqs.length * maxBlocks, slot = kvHeads * headDim
    const random = (n: number, seed: number) => Float32Array.from({length: n}, (_, i) => Math.sin(i * 0.37 + seed * 1.7) * 1.5)
    const keyCache = random(numBlocks * blockSize * slot, 1), valueCache = random(keyCache.length, 2)
    // Sequence s owns blocks s, s + 5, s + 10, ...: its table is scattered through the pool.
    const blockTables = Int32Array.from({length: seqs.length * maxBlocks}, (_, i) => Math.floor(i / maxBlocks) + seqs.length * (i % maxBlocks))
    const queryStartLoc = Int32Array.from([0, ...seqs.map((_, i) => seqs.slice(0, i + 1).reduce((n, s) => n + s.rows, 0))])
    const positions = Int32Array.from(seqs.flatMap((s) => Array.from({length: s.rows}, (_, r) => s.start + r)))
    const qStride = heads * headDim
    const query = random(positions.length * qStride, 3)
    const scale = 1 / Math.sqrt(headDim)
    const batch = {queryStartLoc, positions, blockTables, maxBlocksPerSeq: maxBlocks, slidingWindow: window}
    const actual = ops.pagedAttention(query, qStride, keyCache, valueCache, batch, heads, kvHeads, headDim, blockSize, scale)
    let worst = 0
    seqs.forEach((s, seq) => {
      const slotOf = (token: number) => blockTables[seq * maxBlocks + Math.floor(token / blockSize)]! * blockSize + (token % blockSize)
      for (let t = queryStartLoc[seq]!; t < queryStartLoc[seq + 1]!; t++) {
        // transformers' kv_idx > q_idx - sliding_window.
        const keys = Array.from({length: positions[t]! + 1}, (_, j) => j).filter((j) => j > positions[t]! - window)
        for (let h = 0; h < heads; h++) {
          const kv = Math.floor(h / (heads / kvHeads)) * headDim
          const scores = keys.map((j) => {
            let dot = 0
            for (let d = 0; d < headDim; d++) dot += query[t * qStride + h * headDim + d]! * keyCache[slotOf(j) * slot + kv + d]!
            return dot * scale
          })
          const max = Math.max(...scores)
          const weights = scores.map((x) => Math.exp(x - max))
          const total = weights.reduce((a, b) => a + b, 0)
          for (let d = 0; d < headDim; d++) {
            const expected = keys.reduce((sum, j, k) => sum + weights[k]! * valueCache[slotOf(j) * slot + kv + d]!, 0) / total
            worst = Math.max(worst, Math.abs(actual[t * qStride + h * headDim + d]! - expected))
          }
        }
      }
    })
    assert.ok(worst < 2e-5, `head_dim ${headDim}, window ${window}: max error ${worst}`)
  }

  it('a row at p sees keys (p - W, p]: windows 1, 3, 4, 8 and 13 over blocks of 4, portable and AVX2 (head_dim 16; 20 stays portable)', () => {
    const avx2 = ops.avx2Status()
    try {
      for (const useAvx2 of avx2.supported ? [false, true] : [false]) {
        ops.setAvx2(useAvx2)
        for (const window of [1, 3, 4, 8, 13]) for (const headDim of [16, 20]) check(headDim, window)
      }
    } finally {
      ops.setAvx2(avx2.enabled)
    }
  })
})

describe('where each family puts its windows (transformers 5.18 config classes)', () => {
  const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 8192}
  const gemma3 = {...base, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', num_hidden_layers: 12, head_dim: 16}

  it('Mistral and Phi-3 on every layer (Mistral 4096 by default, null: none); Llama has no window; Gemma 2 every other layer or by layer_types', () => {
    assert.deepEqual(parseModelConfig({...base, architectures: ['MistralForCausalLM']}).layerWindows, [4096, 4096, 4096, 4096])
    assert.equal(parseModelConfig({...base, architectures: ['MistralForCausalLM'], sliding_window: null}).layerWindows, undefined)
    assert.deepEqual(parseModelConfig({...base, architectures: ['Phi3ForCausalLM'], sliding_window: 2047}).layerWindows, [2047, 2047, 2047, 2047])
    assert.equal(parseModelConfig({...base, architectures: ['LlamaForCausalLM'], sliding_window: 16}).layerWindows, undefined)
    const gemma2 = {...base, architectures: ['Gemma2ForCausalLM'], sliding_window: 64}
    assert.deepEqual(parseModelConfig(gemma2).layerWindows, [64, 0, 64, 0])
    assert.deepEqual(parseModelConfig({...gemma2, layer_types: ['full_attention', 'full_attention', 'sliding_attention', 'full_attention']}).layerWindows, [0, 0, 64, 0])
    assert.throws(() => parseModelConfig({...gemma2, layer_types: ['sliding_attention']}), loadError(/"layer_types" must list .* each of the 4 layers/))
    assert.throws(() => parseModelConfig({...gemma2, sliding_window: 0}), loadError(/"sliding_window" must be a positive integer or null, got 0/))
  })

  it('Gemma 3: five sliding layers in six (sliding_window_pattern), rope_local_base_freq on them, rope_theta 1e6 and rope_scaling on the full ones, no soft caps', () => {
    const config = parseModelConfig(gemma3)
    assert.deepEqual(config.layerWindows, [4096, 4096, 4096, 4096, 4096, 0, 4096, 4096, 4096, 4096, 4096, 0])
    assert.deepEqual([config.ropeTheta, config.ropeLocalTheta, config.ropeScaling, config.maxPositionEmbeddings], [1e6, 10000, {type: 'none'}, 8192])
    assert.deepEqual([config.qkNorm, config.sandwichNorms, config.attnLogitSoftcap, config.finalLogitSoftcap, config.attentionScale, config.normWeightOffset], [true, true, 0, 0, 1 / 16, 1])
    const legacy = parseModelConfig({...gemma3, sliding_window: 512, sliding_window_pattern: 3, rope_theta: 5e5, rope_local_base_freq: 2e4, rope_scaling: {rope_type: 'linear', factor: 8}})
    assert.deepEqual([legacy.layerWindows!.slice(0, 3), legacy.ropeTheta, legacy.ropeLocalTheta, legacy.ropeScaling], [[512, 512, 0], 5e5, 2e4, {type: 'linear', factor: 8}])
    // transformers 5 writes both ropes under rope_parameters.
    const v5 = parseModelConfig({...gemma3, rope_parameters: {full_attention: {rope_type: 'linear', factor: 4, rope_theta: 3e5}, sliding_attention: {rope_type: 'default', rope_theta: 5e3}}})
    assert.deepEqual([v5.ropeTheta, v5.ropeLocalTheta, v5.ropeScaling], [3e5, 5e3, {type: 'linear', factor: 4}])
    assert.throws(() => parseModelConfig({...gemma3, rope_parameters: {full_attention: {rope_type: 'default'}, sliding_attention: {rope_type: 'linear', factor: 2}}}), loadError(/sliding_attention of type "linear" is not supported/))
    assert.throws(() => parseModelConfig({...gemma3, sliding_window: null}), loadError(/Gemma 3 needs a "sliding_window"/))
    assert.equal(parseModelConfig({...gemma3, final_logit_softcapping: 30.0}).finalLogitSoftcap, 30)
  })

  it('windowed models keep their windows and whole context on CUDA (per-layer windows and Gemma 3\'s local rope in native/cuda)', () => {
    const none = {quantization: undefined, batchInvariant: false}
    for (const variant of ['mistral', 'qwen2-sliding', 'gemma2', 'gemma3'] as const)
      assert.equal(cpuOnlyNeed(none, {config: parseModelConfig(testModelConfigJson('tiny', {variant})), tensors: []}), null, variant)
  })
})

describe('a Gemma3ForConditionalGeneration checkpoint', () => {
  it('runs its language model (language_model.model.* tensors, text_config as transformers 5.18 writes it) as the text model, the vision tower unused', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'gemma3'})
    const text = await loadModel(textDir)
    // The config transformers wrote for this model wrapped in Gemma3ForConditionalGeneration (rope_parameters per layer type).
    const spec = {configFixture: 'gemma3-multimodal-config.json', rename: (name: string) => `language_model.${name}`, visionTensor: 'vision_tower.embeddings.patch_embedding.bias'}
    await withMultimodalCheckpoint(textDir, text, spec, async (dir) => {
      const multimodal = await loadModel(dir)
      assert.match(multimodal.config.notes!.join('\n'), /Gemma3ForConditionalGeneration: its language model runs text only/)
      assert.deepEqual([multimodal.config.layerWindows, multimodal.config.ropeLocalTheta, multimodal.config.ropeScaling], [text.config.layerWindows, 10000, {type: 'linear', factor: 8}])
      assert.deepEqual((await promptLogits(multimodal, 'f32')).logits, (await promptLogits(text, 'f32')).logits)
      assert.throws(() => parseModelConfig({architectures: ['Gemma3ForConditionalGeneration']}), loadError(/needs a "text_config" object/))
    })
  })
})

for (const variant of ['mistral', 'qwen2-sliding', 'gemma3'] as const) {
  describe(`${variant} (windows of 8)`, () => {
    it('logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
      await checkAgainstReference(variant)
    })

    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkAgainstTransformers(variant)
    })
  })
}

describe('a windowed model in a paged engine (gemma3: a window of 8 on layer 0, blocks of 4)', () => {
  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`greedy tokens equal the reference's with chunked prefill across the window's edge, prefix caching, copy-on-write and preemption (${preemptionMode})`, async () => {
      await checkWindowedEngine('gemma3', preemptionMode)
    })
  }
})
