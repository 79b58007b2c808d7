// Falcon-H1 (falcon-h1-config.ts): config keys, multipliers and refusals, and the tiny models against transformers 5.18
// (test/fixtures/falcon-h1*-tiny-transformers.json: the mixer's norm after the gate, before it, none): top-10 logits of one batch, greedy tokens alone, in prefill chunks,
// and preempted (recomputed) in a pool too small for six requests at once, every layer holding a KV cache and a state.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import type {SsmHybridTestVariant} from '../src/engine/model/ssm-hybrid-test-models.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {kvBytesPerBlock} from '../src/engine/native.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

type Variant = Extract<SsmHybridTestVariant, 'falcon-h1' | 'falcon-h1-norm-first' | 'falcon-h1-ungated-norm'>
const fixture = (variant: Variant) => readTransformersFixture(variant)
const config = (extra: Record<string, unknown> = {}, variant: Variant = 'falcon-h1') => parseModelConfig({...testModelConfigJson('tiny', {variant}), ...extra})
const greedy = (variant: Variant) => fixture(variant).prompts.map((p) => p.greedy_token_ids)

describe('Falcon-H1 config', () => {
  it('reads the mixer beside the attention in every layer, the multipliers and the gated norm\'s place', () => {
    const c = config()
    assert.deepEqual([c.hybrid?.linearLayers, c.embeddingScale, c.rmsVariant?.logitsMultiplier, c.rmsVariant?.ropeLayers, kvBytesPerBlock(c, 4)], [[true, true], 1.25, 0.75, undefined, 2 * 2 * 4 * 2 * 16 * 4])
    const m = c.hybrid?.mamba2
    assert.deepEqual([m?.heads, m?.headDim, m?.groups, m?.normGroup, m?.gatedNorm], [6, 16, 2, 48, 'gate-then-norm'])
    assert.deepEqual(m?.falconH1, {inProj: [0.8, 1.2, 0.9, 1.1, 0.7].map((x) => x * 1.3), ssmOut: 0.6, attentionIn: 0.9, attentionOut: 1.4, key: 0.5, mlpGate: 1.5, mlpDown: 0.8})
    const plain = config({}, 'falcon-h1-ungated-norm').hybrid?.mamba2
    assert.deepEqual([plain?.heads, plain?.gatedNorm], [8, 'gate-only'], 'mamba_d_ssm null: twice the hidden width')
    assert.equal(config({mamba_norm_before_gate: undefined}).hybrid?.mamba2?.gatedNorm, 'norm-then-gate', 'FalconH1Config\'s default')
    assert.match(cpuOnlyNeed({}, {config: c, tensors: []})?.reason ?? '', /FalconH1ForCausalLM \(Mamba-2 mixers have CPU kernels only\)/)
  })

  it('refuses by key what it cannot run', () => {
    for (const key of ['mamba_proj_bias', 'projectors_bias', 'attention_bias', 'mlp_bias']) assert.throws(() => config({[key]: true}), new RegExp(`"${key}" true .* not supported for FalconH1ForCausalLM`))
    // Not booleans (found by fuzz-model-files: read as off, where transformers takes a truthy value as on).
    for (const key of ['mamba_proj_bias', 'projectors_bias', 'attention_bias', 'mlp_bias']) assert.throws(() => config({[key]: 'x'}), new RegExp(`"${key}" must be true or false, got "x"`))
    assert.throws(() => config({hidden_act: 'gelu'}), /"hidden_act" "gelu" is not supported .* only silu/)
    assert.throws(() => config({mamba_d_head: 12}), /6 Mamba heads of 12 .* must make the inner width 96/)
    assert.throws(() => config({ssm_multipliers: [1, 2]}), /"ssm_multipliers" must list 5 numbers/)
    assert.throws(() => config({key_multiplier: 0}), /"key_multiplier" must be a positive number/)
  })
})

/** Greedy tokens of `prompts` through the engine; checks slots and blocks come back. */
async function engineRun(variant: Variant, overrides: Partial<EngineConfig>, prompts = fixture(variant).prompts.map((p) => p.prompt_token_ids), n = 1) {
  const {outputs, preemptions} = await tinyEngineRun(variant, prompts, greedyParams(n), overrides)
  return {tokens: outputs.map((o) => o[0]!), all: outputs, preemptions}
}

describe('Falcon-H1 tiny models', () => {
  for (const variant of ['falcon-h1', 'falcon-h1-norm-first', 'falcon-h1-ungated-norm'] as const) it(`${variant} matches transformers 5.18: top-10 last-position logits within 1e-4 (one batch of three prompts), greedy tokens equal`, async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant}))
    await checkSlotBatchLogits(model, fixture(variant))
    assert.deepEqual((await engineRun(variant, {})).tokens, greedy(variant))
  })

  it('falcon-h1: prefill chunks of 5 tokens, n = 2 (the fork takes its parent\'s KV blocks and state), and six requests preempted (recomputed) in 9 blocks of 4, give the tokens each gives alone', async () => {
    assert.deepEqual((await engineRun('falcon-h1', {enableChunkedPrefill: true, maxNumBatchedTokens: 5})).tokens, greedy('falcon-h1'))
    assert.deepEqual((await engineRun('falcon-h1', {}, undefined, 2)).all, greedy('falcon-h1').map((tokens) => [tokens, tokens]))
    const order = [0, 1, 0, 1, 0, 1]
    const {tokens, preemptions} = await engineRun('falcon-h1', {numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined}, order.map((i) => fixture('falcon-h1').prompts[i]!.prompt_token_ids))
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => greedy('falcon-h1')[i]!))
  })
})
