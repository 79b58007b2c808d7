// DeepSeek V2 / V3 (latent attention, shared and grouped-routed experts), GLM-4-MoE (V3's routing) and GLM-4.7-Flash (V3's layers) on the CPU: configs
// read as transformers 5.18's DeepseekV2Config / DeepseekV3Config / Glm4MoeConfig, logits and greedy tokens against
// transformers, through the server with prefix caching and preemption.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkDirAgainstTransformers, checkServerAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const BASE = {vocab_size: 100, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 4, num_attention_heads: 4, num_experts_per_tok: 2}
const fixture = (variant: TestModelVariant) => readTransformersFixture(variant)

describe('DeepSeek configs', () => {
  it('as DeepseekV2Config / DeepseekV3Config read them: heads of qk_nope + qk_rope, rope on qk_rope, mscale_all_dim in the softmax scale, routing', () => {
    const v2 = parseModelConfig({...BASE, architectures: ['DeepseekV2ForCausalLM'], q_lora_rank: null, n_routed_experts: 8, first_k_dense_replace: 1})
    assert.deepEqual([v2.headDim, v2.numKvHeads, v2.rotaryDim, v2.mla], [192, 4, 64, {kvLoraRank: 512, qLoraRank: 0, vHeadDim: 128, ropeInterleaved: true, latentNormEps: 1e-6}])
    assert.equal(v2.attentionScale, 192 ** -0.5)
    assert.deepEqual([v2.moe!.numExperts, v2.moe!.sparseLayers, v2.moe!.sharedExpertIntermediateSize, v2.moe!.normTopkProb, v2.moe!.ungatedSharedExpert],
      [8, [false, true, true, true], 2 * 1407, false, true])
    assert.deepEqual(v2.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: false, groupTop2: false, routerBias: false, routedScalingFactor: 1})
    // DeepSeek-V3's own config.json: yarn with mscale == mscale_all_dim (cos/sin unscaled), the softmax scale times mscale^2.
    const yarn = {type: 'yarn', factor: 40, original_max_position_embeddings: 4096, mscale: 1.0, mscale_all_dim: 1.0, beta_fast: 32, beta_slow: 1}
    const v3 = parseModelConfig({...BASE, architectures: ['DeepseekV3ForCausalLM'], num_key_value_heads: 4, n_routed_experts: 16, max_position_embeddings: 163840, rope_scaling: yarn})
    const mscale = 0.1 * Math.log(40) + 1
    assert.ok(Math.abs(v3.attentionScale - 192 ** -0.5 * mscale * mscale) < 1e-12)
    assert.deepEqual([v3.ropeScaling.type, (v3.ropeScaling as {attentionFactor: number}).attentionFactor, v3.mla!.qLoraRank, v3.moe!.sparseLayers], ['yarn', 1, 1536, [false, false, false, true]])
    assert.deepEqual(v3.moe!.grouped, {groups: 8, topkGroups: 4, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 2.5})
    assert.equal(parseModelConfig({...BASE, architectures: ['DeepseekV3ForCausalLM'], num_key_value_heads: 4, n_routed_experts: 16, rope_interleave: false}).mla!.ropeInterleaved, false)
    assert.deepEqual(cpuOnlyNeed({}, {config: v3, tensors: []})?.param, 'device')
  })

  it("GLM-4-MoE as Glm4MoeConfig reads it: q/k/v biases only, half-rotary heads, use_qk_norm, V3's routing with its own defaults", () => {
    const glm = {...BASE, architectures: ['Glm4MoeForCausalLM'], num_attention_heads: 16, n_routed_experts: 8}
    const c = parseModelConfig({...glm, attention_bias: true})
    assert.deepEqual([c.attentionBias, c.attentionOutputBias, c.rotaryDim, c.headDim, c.numKvHeads, c.qkNorm, c.rmsNormEps, c.mla], [true, undefined, 2, 4, 8, false, 1e-5, undefined])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1})
    assert.deepEqual([c.moe!.sparseLayers, c.moe!.sharedExpertIntermediateSize, c.moe!.normTopkProb], [[false, true, true, true], 1408, true])
    assert.deepEqual([parseModelConfig({...glm, use_qk_norm: true}).qkNorm, parseModelConfig({...glm, partial_rotary_factor: 1}).rotaryDim], [true, undefined])
    assert.throws(() => parseModelConfig({...glm, use_qk_norm: 'yes'}), loadError(/"use_qk_norm" must be true or false/))
    assert.equal(cpuOnlyNeed({}, {config: c, tensors: []})?.param, 'device')
  })

  it("GLM-4.7-Flash (Glm4MoeLite) as Glm4MoeLiteConfig reads it: V3's layers, its defaults, mlp_layer_types", () => {
    const lite = {...BASE, architectures: ['Glm4MoeLiteForCausalLM'], num_hidden_layers: 3, n_routed_experts: 8}
    const c = parseModelConfig(lite)
    assert.deepEqual([c.headDim, c.rotaryDim, c.mla, c.rmsNormEps, c.moe!.sparseLayers, c.moe!.numExpertsPerToken], [256, 64, {kvLoraRank: 512, qLoraRank: 768, vHeadDim: 256, ropeInterleaved: true, latentNormEps: 1e-6}, 1e-5, [false, true, true], 2])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1.8})
    assert.deepEqual(parseModelConfig({...lite, mlp_layer_types: ['sparse', 'dense', 'sparse']}).moe!.sparseLayers, [true, false, true])
    assert.throws(() => parseModelConfig({...lite, mlp_layer_types: ['dense']}), loadError(/"mlp_layer_types" must list "dense" or "sparse" for each of the 3 layers/))
  })

  it('refuse what cannot run, by key', () => {
    const v2 = {...BASE, architectures: ['DeepseekV2ForCausalLM'], n_routed_experts: 8}
    assert.throws(() => parseModelConfig({...v2, num_key_value_heads: 2}), loadError(/num_key_value_heads 2 must equal num_attention_heads 4/))
    assert.throws(() => parseModelConfig({...v2, attention_bias: true}), loadError(/attention_bias=true is not supported/))
    assert.throws(() => parseModelConfig({...v2, topk_method: 'noaux_tc'}), loadError(/"noaux_tc" is DeepSeek-V3's routing/))
    assert.throws(() => parseModelConfig({...v2, topk_method: 'group_limited_greedy', n_group: 3, topk_group: 1}), loadError(/n_group 3 must divide the 8 experts/))
    assert.throws(() => parseModelConfig({...v2, v_head_dim: 256}), loadError(/"v_head_dim" 256 above/))
    assert.throws(() => parseModelConfig({...v2, num_experts_per_tok: undefined}), loadError(/missing "num_experts_per_tok"/))
    assert.throws(() => parseModelConfig({...BASE, architectures: ['DeepseekV3ForCausalLM'], num_key_value_heads: 4, n_routed_experts: 8}), loadError(/best two experts; 8 experts in 8 groups/))
    assert.throws(() => parseModelConfig({...v2, architectures: ['DeepseekV32ForCausalLM']}), loadError(/DeepseekV32ForCausalLM .*lightning indexer/))
    // DeepSeek-V3's own FP8 checkpoints load, dequantized at load (fp8-weights.test.ts).
    assert.deepEqual(parseModelConfig({...v2, quantization_config: {quant_method: 'fp8', weight_block_size: [128, 128]}}).fp8, {scaleSuffix: '_scale_inv', blockSize: [128, 128]})
  })
})

describe('DeepSeek checkpoints', () => {
  for (const variant of ['deepseek-v2', 'deepseek-v3', 'glm4-moe', 'glm4-moe-lite'] as const) {
    it(`${variant}: matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), fixture(variant))
    })
  }

  it('deepseek-v3 reads its checkpoint names (shared_experts, kv_b_proj, the router bias); layer 0 is dense', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'deepseek-v3'}))
    const names = model.tensors.map((t) => t.name)
    assert.ok(names.includes('model.layers.1.mlp.shared_expert.down_proj.weight') && names.includes('model.layers.1.self_attn.kv_b_proj.weight'))
    assert.ok(!names.some((n) => n.startsWith('model.layers.0.mlp.experts')))
    assert.deepEqual(model.tensors.find((t) => t.name === 'model.layers.1.mlp.gate.e_score_correction_bias')?.shape, [1, 8])
    const dir = await ensureTestModel('tiny', {variant: 'deepseek-v3'})
    const without = readCheckpointTensors(dir).filter((t) => t.name !== 'model.layers.1.mlp.shared_experts.up_proj.weight')
    assert.throws(() => selectModelTensors(model.config, without, dir), loadError(/Tensor model\.layers\.1\.mlp\.shared_experts\.up_proj\.weight is missing .*expected shape \[32, 64\]/))
  })

  it('a checkpoint with shared experts under n_shared_experts 0 is refused, not run without them (found by fuzz-model-files)', async () => {
    for (const variant of ['deepseek-v3', 'glm4-moe', 'glm4-moe-lite'] as const) {
      const config = parseModelConfig({...testModelConfigJson('tiny', {variant}), n_shared_experts: 0})
      assert.equal(config.moe?.sharedExpertIntermediateSize, 0)
      const dir = await ensureTestModel('tiny', {variant})
      assert.throws(() => selectModelTensors(config, readCheckpointTensors(dir), dir), loadError(/Tensor model\.layers\.1\.mlp\.shared_experts?\.\w+\.weight is in the checkpoint .* no shared expert \(its n_shared_experts/), variant)
    }
  })

  it("deepseek-v2 (q_lora_rank null): /v1/completions replies with transformers' greedy tokens", async () => {
    await checkServerAgainstTransformers('deepseek-v2')
  })

  it('deepseek-v3: the same greedy tokens from prefix-cached blocks and under preemption (a KV pool of 6 blocks)', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'deepseek-v3'})
    const expected = fixture('deepseek-v3').prompts
    const params = makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})
    const requests = expected.map((p) => ({prompt: p.prompt_token_ids, params}))
    const greedy = expected.map((p) => p.greedy_token_ids)
    const cached = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32', enablePrefixCaching: true}))
    try {
      // The second round reads the first round's cached K/V (expanded heads, V padded) for its prompts' full blocks.
      for (let round = 0; round < 2; round++) assert.deepEqual((await cached.generate(requests)).map((r) => r.outputs[0]!.tokenIds), greedy, `round ${round}`)
      assert.ok(cached.stats().prefixCacheHits > 0)
    } finally {
      await cached.shutdown()
    }
    // 6 blocks of 16 slots cannot hold twice the three sequences (1 + 1 + 4 blocks each): some are preempted and recomputed.
    const small = await LLMEngine.create(makeEngineConfig({modelPath: dir, numBlocks: 6, blockSize: 16, threads: 2, weightDtype: 'f32'}))
    try {
      assert.deepEqual((await small.generate([...requests, ...requests])).map((r) => r.outputs[0]!.tokenIds), [...greedy, ...greedy])
      assert.ok(small.stats().numPreemptions > 0)
    } finally {
      await small.shutdown()
    }
  })
})
