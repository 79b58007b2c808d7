// Nemotron-H (nemotron-h-config.ts): its layer pattern as the engine's layers, config keys and refusals, and the tiny
// models (dense; MoE; latent MoE) against transformers 5.18 (test/fixtures/nemotron-h*-tiny-transformers.json): top-10 logits of one
// batch, greedy tokens alone, and the dense one's in prefill chunks and preempted (recomputed) in a pool too small for
// six requests at once.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const fixtureOf = (variant: TestModelVariant) => readTransformersFixture(variant)
const fixture = fixtureOf('nemotron-h')
const config = (extra: Record<string, unknown> = {}) => parseModelConfig({...testModelConfigJson('tiny', {variant: 'nemotron-h'}), ...extra})
const GREEDY = fixture.prompts.map((p) => p.greedy_token_ids)

describe('Nemotron-H config', () => {
  it('runs each mixer with the MLP layer after it: M-M*-M is four engine layers, the attention rope-free, the gated norm per group', () => {
    const c = config()
    assert.deepEqual([c.numLayers, c.hybrid?.linearLayers, c.hybrid?.mamba2?.mlpLayers, c.rmsVariant?.ropeLayers, c.rmsVariant?.ungatedMlp, c.hiddenAct, c.rmsNormEps],
      [4, [true, true, false, true], [true, false, true, false], [false, false, false, false], true, 'relu2', 1e-5])
    assert.deepEqual(c.hybrid?.mamba2, {heads: 8, headDim: 16, groups: 2, stateSize: 16, convKernel: 4, normGroup: 64, convBias: true, dtMin: 0, dtMax: Infinity, noMlp: false, mlpLayers: [true, false, true, false]})
    const listed = config({layers_block_type: ['mamba', 'attention', 'mlp'], hybrid_override_pattern: undefined, mamba_n_groups: 4, time_step_limit: [0.001, 10]})
    assert.deepEqual([listed.hybrid?.linearLayers, listed.hybrid?.mamba2?.mlpLayers, listed.hybrid?.mamba2?.normGroup, listed.hybrid?.mamba2?.dtMin], [[true, false], [false, true], 32, 0.001], 'legacy names')
    assert.match(cpuOnlyNeed({}, {config: c, tensors: []})?.reason ?? '', /NemotronHForCausalLM \(Mamba-2 mixers have CPU kernels only\)/)
    assert.equal(c.moe, undefined, 'no MoE layer, no experts')
    assert.deepEqual([config({head_dim: undefined, attention_head_dim: 32}).headDim, config({head_dim: undefined}).headDim], [32, 128], 'NVIDIA\'s attention_head_dim, else NemotronHConfig\'s 128')
  })

  it('runs a MoE layer ("E") as the sparse MLP of the mixer before it: ungated experts, DeepSeek-V3\'s grouped sigmoid routing', () => {
    const c = parseModelConfig(testModelConfigJson('tiny', {variant: 'nemotron-h-moe'}))
    assert.deepEqual([c.numLayers, c.hybrid?.linearLayers, c.hybrid?.mamba2?.mlpLayers], [3, [true, true, false], [true, false, true]])
    assert.deepEqual(c.moe, {numExperts: 8, numExpertsPerToken: 2, normTopkProb: true, expertIntermediateSize: 32, sharedExpertIntermediateSize: 48, ungatedSharedExpert: true, ungatedExperts: true,
      sparseLayers: [true, false, true], mixtralNames: false, grouped: {groups: 2, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1.5}})
    assert.equal(parseModelConfig(testModelConfigJson('tiny', {variant: 'nemotron-h-latent'})).moe?.latentSize, 24)
  })

  it('refuses by key what it cannot run', () => {
    assert.throws(() => config({hybrid_override_pattern: 'ME*-', moe_latent_size: 0}), /"moe_latent_size" must be a positive integer/)
    assert.throws(() => config({hybrid_override_pattern: 'ME', n_routed_experts: 6, n_group: 4}), /6 experts .* in "n_group" 4 groups/)
    assert.throws(() => config({hybrid_override_pattern: 'M--'}), /layer 2 is an MLP layer that does not follow a Mamba-2 or attention layer/)
    assert.throws(() => config({hybrid_override_pattern: 'M-X'}), /"hybrid_override_pattern" must be a string of M/)
    assert.throws(() => config({use_bias: true}), /"use_bias" true \(biases on the Mamba-2 in_proj \/ out_proj\)/)
    assert.throws(() => config({mlp_bias: true}), /"mlp_bias" true/)
    // Not booleans (found by fuzz-model-files: read as off, where transformers takes a truthy value as on).
    for (const key of ['use_bias', 'mlp_bias']) assert.throws(() => config({[key]: {}}), new RegExp(`"${key}" must be true or false, got \\{\\}`))
    assert.throws(() => config({mamba_hidden_act: 'gelu'}), /"mamba_hidden_act" "gelu" is not supported/)
    assert.throws(() => config({n_groups: 3}), /"mamba_num_heads" \(8\) is not a multiple of "n_groups" \(3\)/)
  })
})

/** Greedy tokens of `prompts` through the engine; checks slots and blocks come back. */
async function engineRun(overrides: Partial<EngineConfig>, prompts = fixture.prompts.map((p) => p.prompt_token_ids)) {
  const {outputs, preemptions} = await tinyEngineRun('nemotron-h', prompts, greedyParams(), overrides)
  return {tokens: outputs.map((o) => o[0]!), preemptions}
}

describe('Nemotron-H tiny model', () => {
  for (const variant of ['nemotron-h', 'nemotron-h-moe', 'nemotron-h-latent'] as const) it(`${variant} matches transformers 5.18: top-10 last-position logits within 1e-4 (one batch of three prompts), greedy tokens equal`, async () => {
    const fixture = fixtureOf(variant)
    const model = await loadModel(await ensureTestModel('tiny', {variant}))
    await checkSlotBatchLogits(model, fixture)
    assert.deepEqual((await engineRun({modelPath: await ensureTestModel('tiny', {variant})}, fixture.prompts.map((p) => p.prompt_token_ids))).tokens, fixture.prompts.map((p) => p.greedy_token_ids))
  })

  it('prefill chunks of 5 tokens, and six requests preempted (recomputed) in 9 blocks of 4, give the tokens each gives alone', async () => {
    assert.deepEqual((await engineRun({enableChunkedPrefill: true, maxNumBatchedTokens: 5})).tokens, GREEDY)
    const order = [0, 1, 0, 1, 0, 1]
    const {tokens, preemptions} = await engineRun({numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined}, order.map((i) => fixture.prompts[i]!.prompt_token_ids))
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => GREEDY[i]!))
  })
})
