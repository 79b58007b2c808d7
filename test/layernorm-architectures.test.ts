// OPT (pre- and post-LN, project_in/out), GPT-NeoX / Pythia (parallel and serial residual, partial rotary) and GPT-2
// (Conv1D, learned positions) run as the float64 reference and transformers 5.18 do; what they lack is refused by key.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {LAYERNORM_TEST_VARIANTS, type LayerNormTestVariant} from '../src/engine/model/layernorm-test-models.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {nativeOps} from '../src/engine/native.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {ggufBytes, q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {convertedValues, ggufNameOf} from './support/layernorm-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {ACTIVATIONS, layerNorm} from './support/reference-layernorm.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {checkAgainstTransformers, checkDirAgainstTransformers, type TransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const OPT = {architectures: ['OPTForCausalLM'], vocab_size: 100, hidden_size: 64, ffn_dim: 128, num_hidden_layers: 1, num_attention_heads: 4}
const NEOX = {architectures: ['GPTNeoXForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4}
const GPT2 = {architectures: ['GPT2LMHeadModel'], vocab_size: 100, n_embd: 64, n_layer: 1, n_head: 4}

describe('LayerNorm-family configs', () => {
  it('OPT as OPTConfig reads it: relu, tied, 2048 positions read from row p + 2, biases; 350m\'s post-LN has no final norm and projects 512 <-> hidden', () => {
    const c = parseModelConfig(OPT)
    assert.deepEqual([c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, c.rmsNormEps, c.headDim, c.intermediateSize], ['relu', true, 2048, 1e-5, 16, 128])
    assert.deepEqual(c.layerNorm, {normAffine: true, postNorm: false, finalNorm: true, parallelResidual: false, learnedPositions: 2050, positionOffset: 2, rotaryDim: 0, embedDim: 0,
      qkvBias: true, outputBias: true, mlpBias: true, sharedNorm: false, gatedMlp: false, headNorm: 'none', headBias: false, interleavedRotary: false, attentionScaleByLayer: false})
    const m350 = parseModelConfig({...OPT, do_layer_norm_before: false, word_embed_proj_dim: 32, enable_bias: false, layer_norm_elementwise_affine: false})
    assert.deepEqual([m350.layerNorm!.postNorm, m350.layerNorm!.finalNorm, m350.layerNorm!.embedDim, m350.layerNorm!.qkvBias && m350.layerNorm!.mlpBias, m350.layerNorm!.normAffine], [true, false, 32, false, false])
    assert.equal(parseModelConfig({...OPT, _remove_final_layer_norm: true}).layerNorm!.finalNorm, false)
    assert.throws(() => parseModelConfig({...OPT, quantization_config: {quant_method: 'gptq'}}), loadError(/quantized checkpoints \(quant_method "gptq"\) are not supported/))
    assert.throws(() => parseModelConfig({...OPT, activation_function: 'quick_gelu'}), loadError(/activation_function "quick_gelu" is not supported \(silu, gelu, gelu_pytorch_tanh, relu, relu2, or an ACT2FN alias/))
  })

  it('GPT-NeoX as GPTNeoXConfig reads it: rotary_pct 0.25 and base 10000 by default, old keys or transformers 5\'s rope_parameters, parallel residual, exact gelu, untied', () => {
    const c = parseModelConfig(NEOX)
    assert.deepEqual([c.hiddenAct, c.tieWordEmbeddings, c.ropeTheta, c.layerNorm!.rotaryDim, c.layerNorm!.parallelResidual, c.layerNorm!.learnedPositions], ['gelu', false, 10000, 4, true, 0])
    const old = parseModelConfig({...NEOX, rotary_pct: 0.5, rotary_emb_base: 5000, use_parallel_residual: false, layer_norm_eps: 1e-6})
    assert.deepEqual([old.layerNorm!.rotaryDim, old.ropeTheta, old.layerNorm!.parallelResidual, old.rmsNormEps], [8, 5000, false, 1e-6])
    const v5 = parseModelConfig({...NEOX, rope_parameters: {rope_type: 'default', rope_theta: 20000, partial_rotary_factor: 1}})
    assert.deepEqual([v5.layerNorm!.rotaryDim, v5.ropeTheta], [16, 20000])
    // Scalings as the Llama path reads them, over the 4 rotated values of each 16-value head (yarn's ramp and divisors included).
    assert.deepEqual(parseModelConfig({...NEOX, rope_scaling: {type: 'linear', factor: 2}}).ropeScaling, {type: 'linear', factor: 2})
    const yarn = parseModelConfig({...NEOX, rope_scaling: {rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16}})
    assert.deepEqual(yarn.ropeScaling.type === 'yarn' && [yarn.ropeScaling.frequencyDivisors.length, yarn.ropeScaling.attentionFactor], [2, 0.1 * Math.log(4) + 1])
    assert.throws(() => parseModelConfig({...NEOX, rope_scaling: {rope_type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [2, 2, 2, 2], original_max_position_embeddings: 16}}),
      loadError(/longrope rope_scaling "short_factor" must list 2 positive numbers/))
    assert.throws(() => parseModelConfig({...NEOX, rotary_pct: 0.2}), loadError(/rotary_pct 0\.2 rotates 3 of 16 values per head; an odd count is not supported/))
    // num_attention_heads left out is GPTNeoXConfig's 64: a head of 1 value, which the backend refused without naming config.json.
    const {num_attention_heads: _heads, ...headless} = NEOX
    assert.throws(() => parseModelConfig(headless), loadError(/head size \(hidden size 64 \/ 64 attention heads = 1\) must be even/))
  })

  it('GPT-2 as GPT2Config reads it: n_inner null = 4 n_embd, gelu_new (tanh form), 1024 learned positions, tied; its attention switches checked', () => {
    const c = parseModelConfig(GPT2)
    assert.deepEqual([c.intermediateSize, c.hiddenAct, c.maxPositionEmbeddings, c.layerNorm!.learnedPositions, c.tieWordEmbeddings, c.vocabSize], [256, 'gelu_pytorch_tanh', 1024, 1024, true, 100])
    assert.equal(parseModelConfig({...GPT2, n_inner: 100}).intermediateSize, 100)
    const scaled = parseModelConfig({...GPT2, scale_attn_by_inverse_layer_idx: true, reorder_and_upcast_attn: true, scale_attn_weights: false})
    assert.deepEqual([scaled.layerNorm!.attentionScaleByLayer, scaled.attentionScale, c.layerNorm!.attentionScaleByLayer, c.attentionScale], [true, 1, false, 0])
    assert.throws(() => parseModelConfig({...GPT2, reorder_and_upcast_attn: 'yes'}), loadError(/"reorder_and_upcast_attn" must be true or false/))
    // A refused switch that is not a boolean (transformers would take 1 or "true" as on) is refused too, not read as off.
    for (const value of [1, 'true', 'false', [], {}]) {
      assert.throws(() => parseModelConfig({...GPT2, add_cross_attention: value}), loadError(/"add_cross_attention" must be true or false, got/))
    }
    assert.equal(parseModelConfig({...GPT2, add_cross_attention: null}).layerNorm!.learnedPositions, 1024)
    assert.throws(() => parseModelConfig({...GPT2, add_cross_attention: true}), loadError(/add_cross_attention=true is not supported/))
    assert.throws(() => parseModelConfig({...OPT, architectures: ['Phi3SmallForCausalLM']}), loadError(/Phi3SmallForCausalLM .*blocksparse attention/))
  })
})

describe('LayerNorm-family kernels', () => {
  it('LayerNorm with bias and the plain activations (relu, gelu erf, gelu tanh) as float64 computes them, portable and AVX2 alike, row tails and rows alone included', () => {
    const ops = nativeOps()
    const avx2 = ops.avx2Status()
    const rows = 3, dim = 21 // 21: two 8-wide vector steps and a tail of 5
    const x = Float32Array.from({length: rows * dim}, (_, i) => 4 * Math.sin(i * 0.77) + (i % 7 === 0 ? 30 : 0))
    const weight = Float32Array.from({length: dim}, (_, i) => 1 + 0.1 * Math.cos(i))
    const bias = Float32Array.from({length: dim}, (_, i) => 0.2 * Math.sin(3 * i))
    const expectedNorm = layerNorm(Float64Array.from(x), {weight: Float64Array.from(weight), bias: Float64Array.from(bias)}, dim, 1e-5)
    try {
      for (const useAvx2 of avx2.supported ? [false, true] : [false]) {
        ops.setAvx2(useAvx2)
        const out = ops.layerNorm(x, weight, bias, rows, dim, 1e-5)
        out.forEach((value, k) => assert.ok(Math.abs(value - expectedNorm[k]!) <= 2e-6 * (1 + Math.abs(expectedNorm[k]!)), `avx2=${useAvx2} element ${k}: ${value} vs ${expectedNorm[k]}`))
        assert.deepEqual(ops.layerNorm(x.subarray(2 * dim), weight, bias, 1, dim, 1e-5), out.subarray(2 * dim), 'a row alone')
        const inPlace = x.slice()
        ops.layerNorm(inPlace, weight, bias, rows, dim, 1e-5, inPlace)
        assert.deepEqual(inPlace, out, 'in place')
        for (const activation of ['relu', 'gelu', 'gelu_pytorch_tanh'] as const) {
          const activated = x.slice()
          ops.plainActivation(activated, rows, dim, activation)
          activated.forEach((value, k) => {
            const want = ACTIVATIONS[activation](x[k]!)
            assert.ok(Math.abs(value - want) <= 2e-6 * (1 + Math.abs(want)), `${activation} avx2=${useAvx2} element ${k}: ${value} vs ${want}`)
          })
        }
      }
    } finally {
      ops.setAvx2(avx2.enabled)
    }
  })
})

describe('LayerNorm-family checkpoints', () => {
  it('are read under their own names: GPT-2\'s Conv1D [in, out] transposed, GPT-NeoX\'s per-head q|k|v reordered, missing or misshapen tensors named as stored', async () => {
    const gpt2 = await loadModel(await ensureTestModel('tiny', {variant: 'gpt2'}))
    const cAttn = gpt2.tensors.find((t) => t.name === 'model.layers.0.self_attn.qkv_proj.weight')!
    assert.deepEqual([cAttn.shape, cAttn.transposed], [[192, 64], true])
    const neox = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-neox'}))
    assert.equal(neox.tensors.find((t) => t.name === 'model.layers.1.self_attn.qkv_proj.bias')!.qkvInterleavedHeads, 4)
    const stored = readCheckpointTensors(gpt2.dir)
    assert.throws(() => selectModelTensors(gpt2.config, stored.filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.weight'), gpt2.dir),
      loadError(/Tensor transformer\.h\.1\.mlp\.c_fc\.weight is missing from the checkpoint .*expected shape \[64, 256\]/))
    const turned = stored.map((t) => (t.name === 'transformer.h.0.attn.c_attn.weight' ? {...t, shape: [192, 64]} : t))
    assert.throws(() => selectModelTensors(gpt2.config, turned, gpt2.dir), loadError(/transformer\.h\.0\.attn\.c_attn\.weight has shape \[192, 64\], but config\.json implies \[64, 192\]/))
    assert.throws(() => selectModelTensors({...gpt2.config, numLayers: 2_000_000_000}, stored, gpt2.dir), loadError(/2000000000 layers of at least 4 tensors each, but the checkpoint .* holds only 29 tensors/))
    // Older checkpoints leave out the base model's prefix (openai-community/gpt2: "h.0.attn.c_attn.weight").
    const bare = selectModelTensors(gpt2.config, stored.map((t) => ({...t, name: t.name.replace(/^transformer\./, '')})), gpt2.dir)
    assert.deepEqual(bare.map((t) => [t.name, t.offset]), gpt2.tensors.map((t) => [t.name, t.offset]))
  })
})

// Stanford CRFM's GPT-2 checkpoints set all three: scores divided by the layer number, unscaled by head size, upcast.
describe('GPT-2 attention scaling switches', () => {
  it('match transformers 5.18 (test/fixtures/gpt2-scaled-attention-tiny-transformers.json): top-10 last-position logits, 8 greedy tokens', async () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'gpt2-scaled-attention-tiny-transformers.json'), 'utf8')) as TransformersFixture
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gpt2-scaled-'))
    try {
      cpSync(await ensureTestModel('tiny', {variant: 'gpt2'}), dir, {recursive: true})
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
      writeFileSync(join(dir, 'config.json'), JSON.stringify({...config, scale_attn_by_inverse_layer_idx: true, reorder_and_upcast_attn: true, scale_attn_weights: false}))
      await checkDirAgainstTransformers(dir, fixture)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

for (const variant of LAYERNORM_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it('logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
      await checkAgainstReference(variant)
    })

    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkAgainstTransformers(variant)
    })
  })
}

describe('LayerNorm family in the engine', () => {
  it('OPT: text prompts start with </s> as its tokenizer adds it; GPT-NeoX: 6 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)', async () => {
    const opt = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny', {variant: 'opt'}), kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
    try {
      const [result] = await opt.generate([{prompt: 'The capital of France', params: makeSamplingParams({temperature: 0, maxTokens: 4, ignoreEos: true})}])
      assert.equal(result!.promptTokenIds[0], 2)
      assert.equal(result!.outputs[0]!.tokenIds.length, 4)
    } finally {
      await opt.shutdown()
    }
    await checkBatchInvariant('gpt-neox', {requests: 6, promptStep: 9, maxTokens: 12})
  })
})

/** StableLM's per-head q/k norms (ggufNameOf: attn_q_norm.<h>) stacked into one [heads, head_dim] tensor each, as llama.cpp's converter does. */
function stackedHeadNorms(tensors: GgufTensorSpec[]): GgufTensorSpec[] {
  return tensors.flatMap((t) => {
    const norm = /^(blk\.\d+\.attn_[qk]_norm)\.0\.weight$/.exec(t.name)
    if (/^blk\.\d+\.attn_[qk]_norm\.\d+\.weight$/.test(t.name) && !norm) return []
    if (!norm) return [t]
    const heads = tensors.filter((other) => other.name.startsWith(`${norm[1]}.`))
    return [{name: `${norm[1]}.weight`, dims: [t.dims[0]!, heads.length], data: Buffer.concat(heads.map((h) => h.data))}]
  })
}

/** Each layer's attn_q/k/v (weights and biases) as one attn_qkv, rows q | k | v, as older phi-2 conversions store them. */
function fusedQkv(tensors: GgufTensorSpec[]): GgufTensorSpec[] {
  return tensors.flatMap((t) => {
    const part = /^(blk\.\d+)\.attn_([qkv])\.(weight|bias)$/.exec(t.name)
    if (!part) return [t]
    if (part[2] !== 'q') return []
    const parts = ['q', 'k', 'v'].map((p) => tensors.find((other) => other.name === `${part[1]}.attn_${p}.${part[3]}`)!)
    const rows = parts.reduce((sum, p) => sum + p.dims.at(-1)!, 0)
    return [{name: `${part[1]}.attn_qkv.${part[3]}`, dims: [...t.dims.slice(0, -1), rows], data: Buffer.concat(parts.map((p) => p.data))}]
  })
}

describe('GGUF gpt2 / gptneox / phi2 / starcoder2 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-ln-gguf-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  // What llama.cpp's phi2 and starcoder2 lack (q/k layernorms, a sliding window) is taken out of the checkpoint's config.json first.
  const ggufable = async (variant: LayerNormTestVariant, drop: Record<string, unknown>): Promise<string> => {
    const copy = join(dir, `hf-${variant}`)
    cpSync(await ensureTestModel('tiny', {variant}), copy, {recursive: true})
    writeFileSync(join(copy, 'config.json'), JSON.stringify({...JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')), ...drop}))
    return copy
  }

  const cases = [['gpt2', 'gpt2', {}], ['gpt-neox-serial', 'gptneox', {}], ['phi', 'phi2', {qk_layernorm: false}], ['starcoder2', 'starcoder2', {sliding_window: null}],
    ['stablelm', 'stablelm', {}], ['stablelm-parallel', 'stablelm', {}]] as const
  for (const [variant, arch, drop] of cases) {
    it(`${variant} as ${arch}: llama.cpp's tensor names and metadata (Conv1D stored [out, in], q|k|v regrouped, per-head norms stacked, lm_head bias) give the logits of the checkpoint they were converted from`, async () => {
      const hf = await loadModel(Object.keys(drop).length > 0 ? await ggufable(variant, drop) : await ensureTestModel('tiny', {variant}))
      const c = hf.config
      const tensors = stackedHeadNorms(hf.tensors.map((t) => ({name: ggufNameOf(t.name), dims: [...t.shape].reverse(), data: Buffer.from(convertedValues(t).buffer)})))
      const path = join(dir, `${variant}.gguf`)
      const metadata: Record<string, GgufEntry> = {
        'general.architecture': {type: 'string', value: arch},
        [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
        [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads),
        [`${arch}.attention.layer_norm_epsilon`]: {type: 'f32', value: c.rmsNormEps},
        ...(arch === 'gptneox' ? {'gptneox.rope.dimension_count': u32(c.layerNorm!.rotaryDim), 'gptneox.use_parallel_residual': {type: 'bool' as const, value: c.layerNorm!.parallelResidual}} : {}),
        ...(arch === 'stablelm' ? {'stablelm.use_parallel_residual': {type: 'bool' as const, value: true}} : {}),
        ...(arch === 'phi2' || arch === 'starcoder2' || arch === 'stablelm' ? {[`${arch}.rope.dimension_count`]: u32(c.layerNorm!.rotaryDim), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
          [`${arch}.rope.freq_base`]: {type: 'f32' as const, value: c.ropeTheta}} : {}),
        ...familyVocabMetadata('gpt2', c.vocabSize, 'gpt-2'),
      }
      writeFileSync(path, ggufBytes(metadata, {tensors}))
      const gguf = await loadModel(path)
      assert.deepEqual([gguf.config.architecture, gguf.config.layerNorm, gguf.config.hiddenAct], [c.architecture, c.layerNorm, c.hiddenAct])
      assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
      if (arch === 'stablelm') {
        // At Q8_0 too, as the checkpoint quantized at load.
        writeFileSync(join(dir, `${variant}-q8_0.gguf`), ggufBytes(metadata, {tensors: q8_0Matrices(tensors)}))
        assert.equal(maxAbsDifference((await promptLogits(await loadModel(join(dir, `${variant}-q8_0.gguf`)), 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
      }
      if (arch !== 'phi2') return
      // Older phi-2 conversions fuse q/k/v (attn_qkv: rows q | k | v, its bias alike): cut into q/k/v, the same logits.
      const load = async (name: string, specs: GgufTensorSpec[]) => {
        writeFileSync(join(dir, name), ggufBytes(metadata, {tensors: specs}))
        return promptLogits(await loadModel(join(dir, name)), 'f32')
      }
      const fused = fusedQkv(tensors)
      assert.ok(fused.some((t) => t.name === 'blk.1.attn_qkv.bias') && !fused.some((t) => t.name.startsWith('blk.0.attn_k')))
      assert.ok(maxAbsDifference((await load('phi2-fused.gguf', fused)).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
      // At Q8_0 the fused file runs as the file with q/k/v apart, bit for bit: its rows are whole blocks.
      assert.equal(maxAbsDifference((await load('phi2-fused-q8_0.gguf', q8_0Matrices(fused))).logits, (await load('phi2-q8_0.gguf', q8_0Matrices(tensors))).logits), 0)
    })
  }
})
