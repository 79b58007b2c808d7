// MoE families on existing routing with a twist (ERNIE 4.5 MoE, dots.llm1, MiniMax-M2): configs read as transformers
// 5.18's config classes read them, what cannot run refused by key, logits and greedy tokens against transformers.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {MOE_MORE_TEST_VARIANTS} from '../src/engine/model/moe-more-test-models.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const BASE = {vocab_size: 100, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 4, num_attention_heads: 4}

describe('ERNIE 4.5 MoE config', () => {
  const ernie = {...BASE, architectures: ['Ernie4_5_MoeForCausalLM']}

  it("as Ernie4_5_MoeConfig reads it: moe_num_experts / moe_k, sparse layers from start / end / interval, shared experts, softmax routing chosen with the bias", () => {
    const c = parseModelConfig(ernie)
    assert.deepEqual([c.numKvHeads, c.rmsNormEps, c.ropeTheta, c.tieWordEmbeddings, c.attentionBias, c.bosTokenId, c.eosTokenIds], [4, 1e-5, 500000, true, false, 1, [2]])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.normTopkProb, c.moe!.ungatedSharedExpert, c.moe!.ernieStatics],
      [64, 6, 1536, 2 * 1536, true, true, true])
    assert.deepEqual(c.moe!.sparseLayers, [false, true, true, true])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: false, groupTop2: false, routerBias: true, routedScalingFactor: 1})
    const layers = parseModelConfig({...ernie, num_hidden_layers: 6, moe_layer_start_index: 0, moe_layer_end_index: 4, moe_layer_interval: 2, moe_num_shared_experts: 0, moe_num_experts: 8, moe_k: 2})
    assert.deepEqual([layers.moe!.sparseLayers, layers.moe!.sharedExpertIntermediateSize, layers.moe!.numExperts, layers.moe!.numExpertsPerToken], [[false, true, false, true, false, false], 0, 8, 2])
    assert.equal(cpuOnlyNeed({}, {config: c, tensors: []})?.param, 'device')
  })

  it('refuses use_bias (biased shared experts and lm_head) and bad layer keys, by key', () => {
    assert.throws(() => parseModelConfig({...ernie, use_bias: true}), loadError(/"use_bias" true is not supported for Ernie4_5_MoeForCausalLM/))
    assert.throws(() => parseModelConfig({...ernie, moe_layer_interval: 0}), loadError(/"moe_layer_interval" must be an integer of at least 1, got 0/))
    assert.throws(() => parseModelConfig({...ernie, moe_norm_min: 0.5}), loadError(/"moe_norm_min" 0.5 is not supported/))
  })
})

describe('dots.llm1 config', () => {
  const dots = {...BASE, architectures: ['Dots1ForCausalLM'], n_routed_experts: 8, num_experts_per_tok: 2}

  it("as Dots1Config reads it: Qwen3's q/k norms, DeepSeek-V3's routing under its defaults (one group, unnormalised, scale 1), layer types from max_window_layers", () => {
    const c = parseModelConfig(dots)
    assert.deepEqual([c.qkNorm, c.numKvHeads, c.headDim, c.layerWindows, c.moe!.normTopkProb, c.moe!.sparseLayers, c.moe!.sharedExpertIntermediateSize], [true, 4, 16, undefined, false, [true, true, true, true], 1408])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1})
    const windows = parseModelConfig({...dots, sliding_window: 8, max_window_layers: 2, first_k_dense_replace: 1, n_shared_experts: 2, moe_intermediate_size: 16})
    assert.deepEqual([windows.layerWindows, windows.moe!.sparseLayers, windows.moe!.sharedExpertIntermediateSize], [[0, 0, 8, 8], [false, true, true, true], 32])
    assert.equal(cpuOnlyNeed({}, {config: c, tensors: []})?.param, 'device')
  })

  it('refuses a config without the expert count or top-k (Dots1Config has no defaults for them)', () => {
    assert.throws(() => parseModelConfig({...dots, n_routed_experts: undefined}), loadError(/"n_routed_experts" must be a positive integer for Dots1ForCausalLM/))
    assert.throws(() => parseModelConfig({...dots, num_experts_per_tok: null}), loadError(/"num_experts_per_tok" must be a positive integer for Dots1ForCausalLM/))
  })
})

describe('MiniMax-M2 config', () => {
  const minimax = {...BASE, architectures: ['MiniMaxM2ForCausalLM'], num_attention_heads: 16, num_local_experts: 8}

  it("as MiniMaxM2Config reads it: heads of 128, rotary_dim as the rotated part, whole-width q/k norms, sigmoid routing with the bias renormalised, Mixtral's names", () => {
    const c = parseModelConfig({...minimax, rotary_dim: 64, attention_bias: true})
    assert.deepEqual([c.headDim, c.rotaryDim, c.numKvHeads, c.ropeTheta, c.qkNorm, c.rmsVariant?.wholeQkNorm, c.attentionBias, c.eosTokenIds], [128, 64, 8, 5000000, true, true, false, []])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.normTopkProb, c.moe!.mixtralNames, c.moe!.sparseLayers], [8, 8, 96, true, true, [true, true, true, true]])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: true, routedScalingFactor: 1})
    assert.equal(parseModelConfig(minimax).rotaryDim, undefined)
    assert.throws(() => parseModelConfig({...minimax, rotary_dim: 3}), loadError(/rotates 2 of 128 values per head|positive even/))
    assert.equal(cpuOnlyNeed({}, {config: c, tensors: []})?.param, 'device')
  })
})

describe('Solar Open config', () => {
  it("as SolarOpenConfig reads it: q/k/v biases only, heads of 128, GLM-4-MoE's routing and shared expert in every layer (first_k_dense_replace and use_qk_norm are not its keys)", () => {
    const c = parseModelConfig({...BASE, architectures: ['SolarOpenForCausalLM'], num_attention_heads: 16, intermediate_size: undefined, attention_bias: true, first_k_dense_replace: 2, use_qk_norm: true})
    assert.deepEqual([c.attentionBias, c.attentionOutputBias, c.headDim, c.numKvHeads, c.qkNorm, c.rmsNormEps, c.ropeTheta], [true, undefined, 128, 8, false, 1e-5, 1000000])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.normTopkProb, c.moe!.sparseLayers], [128, 8, 1280, 1280, true, [true, true, true, true]])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1})
    assert.throws(() => parseModelConfig({...BASE, architectures: ['SolarOpenForCausalLM'], attention_bias: 'yes'}), loadError(/"attention_bias" must be true or false/))
  })
})

describe('Hunyuan MoE config', () => {
  const hunyuan = {...BASE, architectures: ['HunYuanMoEV1ForCausalLM']}

  it("as HunYuanMoEV1Config reads it: the dense Hunyuan's q/k norms after rope, moe_topk, experts and an ungated shared MLP as wide as intermediate_size", () => {
    const c = parseModelConfig({...hunyuan, num_experts: [8, 8, 8, 8], moe_topk: 2})
    assert.deepEqual([c.qkNorm, c.rmsVariant?.qkNormAfterRope, c.rmsNormEps, c.bosTokenId, c.eosTokenIds], [true, true, 1e-5, 1, [2]])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.ungatedSharedExpert, c.moe!.normTopkProb, c.moe!.sparseLayers],
      [8, 2, 96, 96, true, true, [true, true, true, true]])
    assert.deepEqual([parseModelConfig(hunyuan).moe!.numExperts, parseModelConfig(hunyuan).moe!.numExpertsPerToken], [1, 1])
    assert.throws(() => parseModelConfig({...hunyuan, num_experts: 8, moe_topk: [2, 2, 4, 4]}), loadError(/"moe_topk" \[2,2,4,4\] differs between layers/))
    assert.ok(/q\/k norms after rope/.test(cpuOnlyNeed({}, {config: c, tensors: []})?.reason ?? ''))
  })
})

describe('K-EXAONE config', () => {
  const exaone = {...BASE, architectures: ['ExaoneMoeForCausalLM'], num_key_value_heads: 4}

  it("as ExaoneMoeConfig reads it: EXAONE 4's layer types and rope layers under pre-norms, V3's routing scaled by 2.5, num_shared_experts, mlp_layer_types", () => {
    const c = parseModelConfig(exaone)
    assert.deepEqual([c.rmsVariant?.postNormsOnly, c.rmsVariant?.ropeLayers, c.layerWindows, c.qkNorm, c.rmsNormEps, c.bosTokenId, c.eosTokenIds], [false, [true, true, true, false], [4096, 4096, 4096, 0], true, 1e-5, 1, [53].filter((id) => id < 100)])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.normTopkProb, c.moe!.sparseLayers], [64, 8, 1024, 1024, true, [false, true, true, true]])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 2.5})
    const more = parseModelConfig({...exaone, first_k_dense_replace: 2, num_shared_experts: 0, num_experts: 8, num_experts_per_tok: 2})
    assert.deepEqual([more.moe!.sparseLayers, more.moe!.sharedExpertIntermediateSize], [[false, false, true, true], 0])
    assert.deepEqual(parseModelConfig({...exaone, mlp_layer_types: ['sparse', 'dense', 'sparse', 'dense']}).moe!.sparseLayers, [true, false, true, false])
    assert.throws(() => parseModelConfig({...exaone, mlp_layer_types: ['dense']}), loadError(/"mlp_layer_types" must list "dense" or "sparse" for each of the 4 layers/))
  })
})

describe('FlexOlmo config', () => {
  it("as FlexOlmoConfig reads it: OLMo2's post-norms and whole-width q/k norms, OLMoE's experts (7, top-5, unnormalised) in every layer; CPU only", () => {
    const c = parseModelConfig({...BASE, architectures: ['FlexOlmoForCausalLM']})
    assert.deepEqual([c.rmsVariant?.postNormsOnly, c.rmsVariant?.wholeQkNorm, c.rmsVariant?.clipQkv, c.qkNorm, c.rmsNormEps, c.maxPositionEmbeddings], [true, true, 0, true, 1e-6, 4096])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.normTopkProb, c.moe!.expertIntermediateSize, c.moe!.sparseLayers, c.moe!.grouped], [7, 5, false, 96, [true, true, true, true], undefined])
    assert.ok(/post-norms only/.test(cpuOnlyNeed({}, {config: c, tensors: []})?.reason ?? ''))
  })
})

describe('MoE families with a twist: checkpoints against transformers 5.18', () => {
  for (const variant of MOE_MORE_TEST_VARIANTS) {
    it(`${variant}: top-10 logits and 8 greedy tokens as test/fixtures/${variant}-tiny-transformers.json`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), readTransformersFixture(variant))
    })
  }

  it("ernie4_5_moe reads its checkpoint names (mlp.moe_statics' [1, experts] bias, shared_experts); layer 0 is dense", async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'ernie4_5_moe'}))
    const names = model.tensors.map((t) => t.name)
    assert.ok(names.includes('model.layers.1.mlp.shared_expert.down_proj.weight') && !names.some((n) => n.startsWith('model.layers.0.mlp.experts')))
    assert.deepEqual(model.tensors.find((t) => t.name === 'model.layers.1.mlp.gate.e_score_correction_bias')?.shape, [1, 8])
    // K-EXAONE's checkpoints keep the bias beside the router (mlp.e_score_correction_bias), as transformers writes them.
    const exaoneDir = await ensureTestModel('tiny', {variant: 'exaone_moe'})
    const exaone = await loadModel(exaoneDir)
    const beside = readCheckpointTensors(exaoneDir).map((t) => ({...t, name: t.name.replace('.mlp.gate.e_score_correction_bias', '.mlp.e_score_correction_bias')}))
    assert.deepEqual(selectModelTensors(exaone.config, beside, exaoneDir).find((t) => t.name.endsWith('e_score_correction_bias'))?.shape, [1, 8])
    const minimax = await loadModel(await ensureTestModel('tiny', {variant: 'minimax_m2'}))
    assert.deepEqual(minimax.tensors.filter((t) => /layers\.0\.(mlp\.gate\.e_score|self_attn\.[qk]_norm)/.test(t.name)).map((t) => [t.name, t.shape]),
      [['model.layers.0.self_attn.q_norm.weight', [128]], ['model.layers.0.self_attn.k_norm.weight', [64]], ['model.layers.0.mlp.gate.e_score_correction_bias', [1, 8]]])
  })
})
