// Gemma (GeGLU, (1 + weight) norms, sqrt(hidden) embeddings, tied head), Gemma 2 (sandwich norms, soft caps) and Phi-3 (fused qkv / gate_up, longrope) run as
// the float64 reference and transformers 5.18 do; their near misses (Phi-3-small, MoE) are refused by name. Gemma 3: test/sliding-window.test.ts.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {longRopeForContext} from '../src/engine/model/rope-scaling.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {readCheckpointTensors, readTensorFloat64} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {nativeOps} from '../src/engine/native.js'
import {ggufBytes, u32, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const GEMMA = {architectures: ['GemmaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 1}

describe('Gemma', () => {
  it('parses as transformers\' GemmaConfig: head_dim 256, gelu_pytorch_tanh (legacy "gelu" too), tied embeddings, (1 + weight) norms, sqrt(hidden) in the dtype', () => {
    const config = parseModelConfig(GEMMA)
    assert.deepEqual([config.headDim, config.hiddenAct, config.tieWordEmbeddings, config.normWeightOffset, config.maxPositionEmbeddings], [256, 'gelu_pytorch_tanh', true, 1, 8192])
    assert.equal(config.embeddingScale, Math.fround(8))
    assert.equal(parseModelConfig({...GEMMA, hidden_act: 'gelu'}).hiddenAct, 'gelu_pytorch_tanh')
    // sqrt(3072) = 55.4256...: bfloat16 keeps 8 bits of it, as transformers' normalizer tensor does.
    assert.equal(parseModelConfig({...GEMMA, hidden_size: 3072, torch_dtype: 'bfloat16'}).embeddingScale, 55.5)
    assert.equal(parseModelConfig({...GEMMA, hidden_size: 3072, torch_dtype: 'float32'}).embeddingScale, Math.fround(Math.sqrt(3072)))
    assert.equal(parseModelConfig({...GEMMA, architectures: ['LlamaForCausalLM']}).normWeightOffset, 0)
  })

  it('refuses its near misses and activations it does not have, by name', () => {
    assert.throws(() => parseModelConfig({...GEMMA, hidden_act: 'quick_gelu'}), loadError(/hidden_act "quick_gelu" is not supported \(silu, gelu, gelu_pytorch_tanh, relu, relu2, or an ACT2FN alias/))
    // A hostile value is quoted cut short: before, the whole megabyte came back in the one-line error.
    assert.throws(() => parseModelConfig({...GEMMA, hidden_act: 'x'.repeat(1 << 20)}), loadError(/^config\.json: hidden_act "x{59}\.\.\. is not supported .{0,140}$/))
  })

  it('GeGLU kernel: gelu_tanh(gate) * up as PyTorch\'s formula, portable and AVX2 alike for every element (row tails included)', () => {
    const ops = nativeOps()
    const avx2 = ops.avx2Status()
    const rows = 3, dim = 21
    const gateUp = Float32Array.from({length: rows * 2 * dim}, (_, i) => 6 * Math.sin(i * 0.77) - (i % 5 === 0 ? 9 : 0))
    const expected = Float64Array.from({length: rows * dim}, (_, k) => {
      const [r, i] = [Math.floor(k / dim), k % dim]
      const g = gateUp[r * 2 * dim + i]!
      return 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g ** 3))) * gateUp[r * 2 * dim + dim + i]!
    })
    const results: Float32Array[] = []
    try {
      for (const useAvx2 of avx2.supported ? [false, true] : [false]) {
        ops.setAvx2(useAvx2)
        const out = ops.geluTanhAndMul(gateUp, rows, dim)
        out.forEach((value, k) => assert.ok(Math.abs(value - expected[k]!) <= 2e-6 * (1 + Math.abs(expected[k]!)), `avx2=${useAvx2} element ${k}: ${value} vs ${expected[k]}`))
        results.push(out)
      }
    } finally {
      ops.setAvx2(avx2.enabled)
    }
    // One row alone gives the bits it gives among others (elementwise, so batch-invariant).
    const alone = ops.geluTanhAndMul(gateUp.subarray(2 * dim * 2), 1, dim)
    assert.deepEqual(alone, ops.geluTanhAndMul(gateUp, rows, dim).subarray(2 * dim))
  })

  it('a Gemma checkpoint: logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
    await checkAgainstReference('gemma')
  })

  it('matches transformers 5.18 (test/fixtures/gemma-tiny-transformers.json): top-10 logits, 8 greedy tokens', async () => {
    await checkAgainstTransformers('gemma')
  })
})

/** GGUF names of the HF tensors (llama.cpp's gemma layout: the llama names, NEOX rope rows as in HF). */
const GGUF_NAMES: Record<string, string> = {
  input_layernorm: 'attn_norm', 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output', post_attention_layernorm: 'ffn_norm', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
}

describe('gemma GGUF files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gemma-gguf-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('load as the checkpoint they were converted from (norms stored as 1 + weight, as llama.cpp\'s converter writes them): the same logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gemma'}))
    const c = hf.config
    const tensors: GgufTensorSpec[] = hf.tensors.map((tensor) => {
      const values = Float32Array.from(readTensorFloat64(tensor), (v) => (tensor.name.endsWith('norm.weight') ? v + 1 : v))
      const layer = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(tensor.name)
      const name = layer ? `blk.${layer[1]}.${GGUF_NAMES[layer[2]!]}.weight` : {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight'}[tensor.name]!
      return {name, dims: [...tensor.shape].reverse(), data: Buffer.from(values.buffer)}
    })
    const path = join(dir, 'gemma.gguf')
    writeFileSync(path, ggufBytes({
      'general.architecture': {type: 'string', value: 'gemma'},
      'gemma.context_length': u32(c.maxPositionEmbeddings), 'gemma.embedding_length': u32(c.hiddenSize), 'gemma.block_count': u32(c.numLayers),
      'gemma.feed_forward_length': u32(c.intermediateSize), 'gemma.attention.head_count': u32(c.numHeads), 'gemma.attention.head_count_kv': u32(c.numKvHeads),
      'gemma.attention.key_length': u32(c.headDim), 'gemma.attention.value_length': u32(c.headDim),
      'gemma.attention.layer_norm_rms_epsilon': {type: 'f32', value: c.rmsNormEps}, 'gemma.rope.freq_base': {type: 'f32', value: c.ropeTheta},
      ...familyVocabMetadata('llama2', c.vocabSize),
    }, {tensors}))
    const gguf = await loadModel(path)
    assert.deepEqual([gguf.config.architecture, gguf.config.normWeightOffset, gguf.config.tieWordEmbeddings, gguf.config.hiddenAct], ['GemmaForCausalLM', 0, true, 'gelu_pytorch_tanh'])
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
  })
})

describe('Gemma 2', () => {
  it('parses as Gemma2Config: hidden_activation, query_pre_attn_scalar, soft caps 50 / 30 by default (null: none), a 4096 window on every other layer', () => {
    const config = parseModelConfig({...GEMMA, architectures: ['Gemma2ForCausalLM'], hidden_act: 'silu'})
    assert.deepEqual(
      [config.hiddenAct, config.sandwichNorms, config.attentionScale, config.attnLogitSoftcap, config.finalLogitSoftcap, config.maxPositionEmbeddings, config.tieWordEmbeddings],
      ['gelu_pytorch_tanh', true, 1 / 16, 50, 30, 8192, true])
    assert.deepEqual(parseModelConfig({...GEMMA, architectures: ['Gemma2ForCausalLM'], num_hidden_layers: 4}).layerWindows, [4096, 0, 4096, 0])
    const uncapped = parseModelConfig({...GEMMA, architectures: ['Gemma2ForCausalLM'], attn_logit_softcapping: null, final_logit_softcapping: null, query_pre_attn_scalar: 144})
    assert.deepEqual([uncapped.attnLogitSoftcap, uncapped.finalLogitSoftcap, uncapped.attentionScale], [0, 0, 1 / 12])
    assert.throws(() => parseModelConfig({...GEMMA, architectures: ['Gemma2ForCausalLM'], attn_logit_softcapping: -1}), loadError(/"attn_logit_softcapping" must be a positive number or null/))
    assert.throws(() => parseModelConfig({...GEMMA, architectures: ['Gemma2ForCausalLM'], use_bidirectional_attention: true}), loadError(/use_bidirectional_attention/))
  })

  it('a checkpoint missing a pre/post feedforward norm is refused, naming the tensor', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'gemma2'}))
    assert.throws(() => selectModelTensors(model.config, model.tensors.filter((t) => t.name !== 'model.layers.1.post_feedforward_layernorm.weight'), model.dir),
      loadError(/Tensor model\.layers\.1\.post_feedforward_layernorm\.weight is missing/))
  })

  it('a Gemma 2 checkpoint: logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
    await checkAgainstReference('gemma2')
  })

  it('matches transformers 5.18 with eager attention (test/fixtures/gemma2-tiny-transformers.json): top-10 logits, 8 greedy tokens', async () => {
    await checkAgainstTransformers('gemma2')
  })
})

describe('Phi-3', () => {
  it('parses: fused projections, longrope with the top-level original_max_position_embeddings, the context capped to it, the window on every layer', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'phi3'}))
    const c = model.config
    assert.deepEqual([c.architecture, c.fusedProjections, c.ropeScaling.type, c.maxPositionEmbeddings, c.layerWindows], ['Phi3ForCausalLM', true, 'longrope', 512, [412, 412]])
    assert.match(c.notes!.join('\n'), /capped to original_max_position_embeddings 512/)
    const config = {architectures: ['Phi3ForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 4}
    assert.equal(parseModelConfig({...config, partial_rotary_factor: 0.75}).rotaryDim, 12) // Phi-4-mini's factor
    assert.throws(() => parseModelConfig({...config, architectures: ['Phi3SmallForCausalLM']}), loadError(/Phi3SmallForCausalLM .*blocksparse/))
  })

  it('qkv_proj and gate_up_proj are split at load into row ranges of the file: the parts hold the fused rows in order', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'phi3'})
    const model = await loadModel(dir)
    const fused = readCheckpointTensors(dir)
    assert.ok(!model.tensors.some((t) => t.name.includes('qkv_proj') || t.name.includes('gate_up_proj')))
    for (const [fusedName, parts] of [['self_attn.qkv_proj.weight', ['q_proj', 'k_proj', 'v_proj']], ['mlp.gate_up_proj.weight', ['gate_proj', 'up_proj']]] as const) {
      const whole = readTensorFloat64(fused.find((t) => t.name === `model.layers.1.${fusedName}`)!)
      const joined = parts.flatMap((part) => [...readTensorFloat64(model.tensors.find((t) => t.name.startsWith('model.layers.1.') && t.name.endsWith(`.${part}.weight`))!)])
      assert.deepEqual(joined, [...whole], fusedName)
    }
    const wrong = fused.map((t) => (t.name === 'model.layers.0.self_attn.qkv_proj.weight' ? {...t, shape: [t.shape[0]! - 16, t.shape[1]!]} : t))
    assert.throws(() => selectModelTensors(model.config, wrong, dir), loadError(/model\.layers\.0\.self_attn\.qkv_proj\.weight has shape \[112, 64\], but config\.json implies \[128, 64\]/))
  })

  it('a Phi-3 checkpoint: logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
    await checkAgainstReference('phi3')
  })

  it('--max-model-len past the original context: long_factor at every position (the logits of a twin whose short_factor is that long_factor), and long prompts run', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'phi3'})
    const twin = mkdtempSync(join(tmpdir(), 'pagedllm-phi3-long-'))
    try {
      cpSync(dir, twin, {recursive: true})
      const config = JSON.parse(readFileSync(join(twin, 'config.json'), 'utf8'))
      config.rope_scaling.short_factor = config.rope_scaling.long_factor
      writeFileSync(join(twin, 'config.json'), JSON.stringify(config))
      const model = await loadModel(dir)
      const original = model.config.maxPositionEmbeddings
      const short = await promptLogits(model, 'f32')
      model.config = longRopeForContext(model.config, 2 * original)
      assert.equal(model.config.maxPositionEmbeddings, 2 * original)
      const long = await promptLogits(model, 'f32')
      assert.equal(maxAbsDifference(long.logits, (await promptLogits(await loadModel(twin), 'f32')).logits), 0)
      assert.ok(maxAbsDifference(long.logits, short.logits) > 1e-3, 'the rotation changed')
      // Before, the engine stayed at the original context whatever --max-model-len asked.
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, threads: 1, numBlocks: 128, blockSize: 16, maxModelLen: 2 * original}))
      try {
        assert.equal(engine.maxModelLen, 2 * original)
        const prompt = Array.from({length: original + 100}, (_, i) => 5 + (i % 50))
        const [out] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens: 4})}])
        assert.equal(out!.outputs[0]!.tokenIds.length, 4)
      } finally {
        await engine.shutdown()
      }
    } finally {
      rmSync(twin, {recursive: true, force: true})
    }
  })

  it('matches transformers 5.18 (test/fixtures/phi3-tiny-transformers.json): top-10 logits, 8 greedy tokens', async () => {
    await checkAgainstTransformers('phi3')
  })
})
