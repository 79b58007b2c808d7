// GPT-OSS (GptOssForCausalLM) on the CPU: its config read as transformers 5.18's GptOssConfig reads it, its fused experts
// split from the checkpoint (MXFP4 ones dequantized as transformers does), and the tiny gptoss model held to transformers
// (test/fixtures/gptoss-tiny-transformers.json): logits and greedy tokens in the engine, across its window of 8 (chunked
// prefill, prefix caching, preemption) and through generate; through the server: more-architectures.test.ts. The sinks'
// softmax against float64: native-kernels.test.ts.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {encodeFloats, readCheckpointTensors, readTensorFloat32, writeSafetensors, type TensorToWrite} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {runCommand} from './support/run-command.js'
import {checkDirAgainstTransformers, readTransformersFixture, type TransformersFixture} from './support/transformers-fixture.js'
import {checkWindowedEngine} from './support/windowed-engine-check.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const fixture = readTransformersFixture('gptoss') as TransformersFixture & {windowed_greedy_token_ids: number[][]}

/** openai/gpt-oss-20b's config.json (the sizes and switches it sets). */
const GPT_OSS_20B = {
  architectures: ['GptOssForCausalLM'], model_type: 'gpt_oss', vocab_size: 201088, hidden_size: 2880, intermediate_size: 2880, num_hidden_layers: 24,
  num_attention_heads: 64, num_key_value_heads: 8, head_dim: 64, num_local_experts: 32, num_experts_per_tok: 4, sliding_window: 128,
  layer_types: Array.from({length: 24}, (_, i) => (i % 2 ? 'full_attention' : 'sliding_attention')), max_position_embeddings: 131072,
  rms_norm_eps: 1e-5, rope_theta: 150000, attention_bias: true, swiglu_limit: 7.0, tie_word_embeddings: false, eos_token_id: 200002, pad_token_id: 199999,
  rope_scaling: {beta_fast: 32.0, beta_slow: 1.0, factor: 32.0, original_max_position_embeddings: 4096, rope_type: 'yarn', truncate: false},
  torch_dtype: 'bfloat16',
}

describe('GPT-OSS config', () => {
  it('as GptOssConfig reads gpt-oss-20b: 32 experts top-4 (softmax over the top logits), windows of 128 on alternate layers, sinks, every attention bias, YaRN x32 untruncated', () => {
    const c = parseModelConfig(GPT_OSS_20B)
    assert.deepEqual(c.moe, {numExperts: 32, numExpertsPerToken: 4, normTopkProb: true, expertIntermediateSize: 2880, sharedExpertIntermediateSize: 0, sparseLayers: Array(24).fill(true), mixtralNames: false, gptOssExperts: true})
    assert.deepEqual(c.layerWindows, Array.from({length: 24}, (_, i) => (i % 2 ? 0 : 128)))
    assert.deepEqual([c.attentionSinks, c.attentionBias, c.attentionOutputBias, c.headDim, c.numKvHeads, c.maxPositionEmbeddings, c.ropeTheta, c.eosTokenIds], [true, true, true, 64, 8, 131072, 150000, [200002]])
    const yarn = c.ropeScaling as Extract<typeof c.ropeScaling, {type: 'yarn'}>
    assert.deepEqual([yarn.type, yarn.factor, yarn.originalMaxPosition, yarn.betaFast, yarn.betaSlow, yarn.truncate], ['yarn', 32, 4096, 32, 1, false])
    assert.ok(Math.abs(yarn.attentionFactor - (0.1 * Math.log(32) + 1)) < 1e-12)
  })

  it('fills in GptOssConfig\'s defaults: 128 experts, head_dim 64, 8 KV heads, sliding layers 0, 2, ..., its YaRN, biases on', () => {
    const c = parseModelConfig({architectures: ['GptOssForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 4, num_attention_heads: 16})
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.headDim, c.numKvHeads, c.layerWindows, c.rmsNormEps, c.attentionOutputBias, c.ropeTheta, c.ropeScaling.type],
      [128, 4, 64, 8, [128, 0, 128, 0], 1e-5, true, 150000, 'yarn'])
    assert.equal((c.ropeScaling as {truncate: boolean}).truncate, false)
  })

  it('reads the config.json transformers 5.18\'s save_pretrained writes (rope_parameters with its rope_theta, dtype, layer_types)', () => {
    const saved = {
      architectures: ['GptOssForCausalLM'], attention_bias: true, bos_token_id: null, dtype: 'float32', eos_token_id: null, head_dim: 16, hidden_act: 'silu', hidden_size: 64,
      intermediate_size: 48, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'], max_position_embeddings: 256, model_type: 'gpt_oss',
      num_attention_heads: 4, num_experts_per_tok: 2, num_hidden_layers: 3, num_key_value_heads: 2, num_local_experts: 4, rms_norm_eps: 1e-5,
      rope_parameters: {beta_fast: 32.0, beta_slow: 1.0, factor: 32.0, original_max_position_embeddings: 4096, rope_theta: 150000.0, rope_type: 'yarn', truncate: false},
      sliding_window: 6, tie_word_embeddings: false, vocab_size: 512,
    }
    const c = parseModelConfig(saved)
    assert.deepEqual([c.layerWindows, c.ropeTheta, c.ropeScaling.type, (c.ropeScaling as {truncate: boolean}).truncate, c.maxPositionEmbeddings, c.moe!.expertIntermediateSize, c.torchDtype],
      [[6, 0, 6], 150000, 'yarn', false, 256, 48, 'float32'])
  })

  it('runs on the CPU only, naming why', () => {
    const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config: parseModelConfig(GPT_OSS_20B), tensors: []})
    assert.match(need?.reason ?? '', /^GptOssForCausalLM \(attention sinks and its clamped-SwiGLU experts have no CUDA path\)/)
    // MXFP4 (OpenAI's own checkpoints) loads (dequantized below); any other method is refused.
    assert.equal(parseModelConfig({...GPT_OSS_20B, quantization_config: {quant_method: 'mxfp4'}}).moe!.gptOssExperts, true)
    assert.throws(() => parseModelConfig({...GPT_OSS_20B, quantization_config: {quant_method: 'gptq'}}), loadError(/quant_method "gptq"\) are not supported/))
    // A rope_scaling that is not an object was replaced by the default YaRN (found by fuzz-model-files).
    assert.throws(() => parseModelConfig({...GPT_OSS_20B, rope_scaling: '7'}), loadError(/rope_scaling must be an object or null/))
  })
})

describe('GPT-OSS checkpoint', () => {
  it('splits the fused experts per expert (transposed; gate_up de-interleaved) and names a missing sink or a wrong fused shape', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'gptoss'})
    const model = await loadModel(dir)
    const gateUp = model.tensors.find((t) => t.name === 'model.layers.1.mlp.experts.3.gate_up_proj.weight')!
    assert.deepEqual([gateUp.shape, gateUp.transposed, gateUp.ropeInterleavedHeads], [[128, 64], true, 1])
    assert.ok(model.tensors.some((t) => t.name === 'model.layers.0.mlp.gate.bias' && t.shape[0] === 4))
    const tensors = readCheckpointTensors(dir)
    assert.throws(() => selectModelTensors(model.config, tensors.filter((t) => t.name !== 'model.layers.0.self_attn.sinks'), dir),
      loadError(/Tensor model\.layers\.0\.self_attn\.sinks is missing from the checkpoint .*; expected shape \[4\]/))
    const wrong = tensors.map((t) => (t.name === 'model.layers.0.mlp.experts.down_proj' ? {...t, shape: [4, 32, 128]} : t))
    assert.throws(() => selectModelTensors(model.config, wrong, dir), loadError(/Tensor model\.layers\.0\.mlp\.experts\.down_proj has shape \[4, 32, 128\], but config\.json implies \[4, 64, 64\]/))
  })

  it('a bf16 checkpoint (unsloth/gpt-oss-20b-BF16\'s form) gives the logits of its f32 copy (the experts\' 2-byte rows reordered alike)', async () => {
    const bf16 = await ensureTestModel('tiny', {variant: 'gptoss', dtype: 'BF16'})
    const copy = mkdtempSync(join(tmpdir(), 'gptoss-f32-'))
    try {
      cpSync(bf16, copy, {recursive: true})
      const tensors = readCheckpointTensors(bf16).map((t) => ({name: t.name, dtype: 'F32' as const, shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')}))
      writeSafetensors(join(copy, 'model.safetensors'), tensors, {format: 'pt'})
      const prompts = fixture.prompts.map((p) => p.prompt_token_ids)
      const [fromBf16, fromF32] = [await promptLogits(await loadModel(bf16), 'f32', prompts), await promptLogits(await loadModel(copy), 'f32', prompts)]
      assert.equal(maxAbsDifference(fromBf16.logits, fromF32.logits), 0)
    } finally {
      rmSync(copy, {recursive: true, force: true})
    }
  })
})

/** transformers' convert_moe_packed_tensors, written out: fp4 e2m1 codes (low nibble first) times 2^(scale - 127), [experts, out, in] made [experts, in, out]. */
function dequantizeMxfp4(blocks: Uint8Array, scales: Uint8Array, experts: number, out: number, groups: number): Float32Array {
  const FP4 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]
  const inSize = groups * 32
  const values = new Float32Array(experts * out * inSize)
  for (let byte = 0; byte < blocks.length; byte++) {
    const scale = 2 ** (scales[Math.floor(byte / 16)]! - 127)
    const [e, o, i] = [Math.floor(byte / (out * groups * 16)), Math.floor(byte / (groups * 16)) % out, (byte % (groups * 16)) * 2]
    values[(e * inSize + i) * out + o] = FP4[blocks[byte]! & 15]! * scale
    values[(e * inSize + i + 1) * out + o] = FP4[blocks[byte]! >> 4]! * scale
  }
  return values
}

describe('GPT-OSS MXFP4 checkpoints (quantization_config "mxfp4")', () => {
  it('this test\'s dequantizer gives transformers\' values (test/fixtures/gptoss-mxfp4-dequant.json)', () => {
    const f = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'gptoss-mxfp4-dequant.json'), 'utf8')) as {shape: {experts: number; out: number; groups: number}; blocks: number[]; scales: number[]; dequantized: number[]}
    assert.deepEqual([...dequantizeMxfp4(Uint8Array.from(f.blocks), Uint8Array.from(f.scales), f.shape.experts, f.shape.out, f.shape.groups)], f.dequantized)
  })

  it('load with their experts dequantized: the logits of the float checkpoint holding the same values, bit for bit', async () => {
    const source = await ensureTestModel('tiny', {variant: 'gptoss'})
    const work = mkdtempSync(join(tmpdir(), 'gptoss-mxfp4-'))
    try {
      const [mxfp4, float] = [join(work, 'mxfp4'), join(work, 'float')]
      cpSync(source, mxfp4, {recursive: true})
      cpSync(source, float, {recursive: true})
      let seed = 7
      const nextByte = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed >> 16) & 255
      const quantized: TensorToWrite[] = [], dequantized: TensorToWrite[] = []
      for (const t of readCheckpointTensors(source)) {
        if (!/mlp\.experts\.(gate_up|down)_proj$/.test(t.name)) {
          const data = () => encodeFloats(readTensorFloat32(t), 'F32')
          quantized.push({name: t.name, dtype: 'F32', shape: t.shape, data})
          dequantized.push({name: t.name, dtype: 'F32', shape: t.shape, data})
          continue
        }
        const [experts, inSize, out] = t.shape as [number, number, number]
        const blocks = Uint8Array.from({length: experts * out * inSize / 2}, nextByte)
        const scales = Uint8Array.from({length: experts * out * inSize / 32}, () => 122 + (nextByte() % 5))
        quantized.push({name: `${t.name}_blocks`, dtype: 'U8', shape: [experts, out, inSize / 32, 16], data: () => blocks},
          {name: `${t.name}_scales`, dtype: 'U8', shape: [experts, out, inSize / 32], data: () => scales})
        dequantized.push({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(dequantizeMxfp4(blocks, scales, experts, out, inSize / 32), 'F32')})
      }
      writeSafetensors(join(mxfp4, 'model.safetensors'), quantized, {format: 'pt'})
      writeSafetensors(join(float, 'model.safetensors'), dequantized, {format: 'pt'})
      const config = JSON.parse(readFileSync(join(mxfp4, 'config.json'), 'utf8'))
      writeFileSync(join(mxfp4, 'config.json'), JSON.stringify({...config, quantization_config: {quant_method: 'mxfp4', modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head']}}))
      const prompts = fixture.prompts.map((p) => p.prompt_token_ids)
      const [fromMxfp4, fromFloat] = [await promptLogits(await loadModel(mxfp4), 'f32', prompts), await promptLogits(await loadModel(float), 'f32', prompts)]
      assert.equal(maxAbsDifference(fromMxfp4.logits, fromFloat.logits), 0)
      // A blocks tensor without its scales is named.
      const model = await loadModel(mxfp4)
      const tensors = readCheckpointTensors(mxfp4).filter((t) => t.name !== 'model.layers.1.mlp.experts.down_proj_scales')
      assert.throws(() => selectModelTensors(model.config, tensors, mxfp4), loadError(/Tensor model\.layers\.1\.mlp\.experts\.down_proj_blocks has no down_proj_scales beside it/))
    } finally {
      rmSync(work, {recursive: true, force: true})
    }
  })
})

describe('GPT-OSS against transformers 5.18', () => {
  it('top-10 last-position logits within 1e-4 and the engine\'s 8 greedy tokens equal', async () => {
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'gptoss'}), fixture)
  })

  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`20 greedy tokens past its window of 8 with chunked prefill, prefix caching, copy-on-write and preemption (${preemptionMode})`, async () => {
      await checkWindowedEngine('gptoss', preemptionMode, fixture.windowed_greedy_token_ids)
    })
  }

  it('generate --json replies with the greedy tokens the engine (held to transformers above) gives its prompt', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'gptoss'})
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--json', '--temperature', '0', '--max-tokens', '12', '--ignore-eos', 'the sea and the sky over the hills'])
    assert.equal(result.code, 0, result.stderr)
    const [reply] = JSON.parse(result.stdout) as {prompt_token_ids: number[]; outputs: {token_ids: number[]}[]}[]
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 1, weightDtype: 'f32'}))
    try {
      const [expected] = await engine.generate([{prompt: reply!.prompt_token_ids, params: makeSamplingParams({temperature: 0, maxTokens: 12, ignoreEos: true})}])
      assert.deepEqual(reply!.outputs[0]!.token_ids, expected!.outputs[0]!.tokenIds)
    } finally {
      await engine.shutdown()
    }
  })
})
