// Mamba-1 models (Mamba, Falcon-Mamba, Jamba): the selective scan against float64 (its state carried across calls), config keys and refusals, the tiny models against transformers 5.18
// (test/fixtures/<variant>-tiny-transformers.json: top-10 last-position logits of one batch, greedy tokens alone), and
// the same tokens from a crowded engine (batched, prefill in chunks, preempted and recomputed in a tiny pool), each
// with slots and blocks given back.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {loadModel} from '../src/engine/model/load-model.js'
import type {Mamba1TestVariant} from '../src/engine/model/mamba1-test-models.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {kvBytesPerBlock, nativeOps} from '../src/engine/native.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const VARIANTS: Mamba1TestVariant[] = ['mamba', 'falcon-mamba', 'jamba']
const fixture = (variant: Mamba1TestVariant) => readTransformersFixture(variant)
const config = (variant: Mamba1TestVariant, extra: Record<string, unknown> = {}) => parseModelConfig({...testModelConfigJson('tiny', {variant}), ...extra})

function randoms(random: SeededRandom, count: number, scale = 1): Float32Array {
  return Float32Array.from({length: count}, () => (random.nextFloat() * 2 - 1) * scale)
}

type Scan = {x: Float32Array; dt: Float32Array; b: Float32Array; c: Float32Array; z: Float32Array; rows: number; channels: number; stateSize: number; decay: Float32Array; d: Float32Array}

/** float64 selective scan, token by token: dt = softplus(dt), s <- exp(dt A) s + dt x B, y = (s . C + D x) silu(z); `state` [channels, stateSize] advanced. */
function referenceScan(a: Scan, state: number[]): number[] {
  const y: number[] = []
  for (let t = 0; t < a.rows; t++) {
    for (let ch = 0; ch < a.channels; ch++) {
      const i = t * a.channels + ch
      const dt = Math.log1p(Math.exp(a.dt[i]!))
      let sum = 0
      for (let n = 0; n < a.stateSize; n++) {
        const s = ch * a.stateSize + n
        state[s] = Math.exp(dt * a.decay[s]!) * state[s]! + dt * a.x[i]! * a.b[t * a.stateSize + n]!
        sum += state[s]! * a.c[t * a.stateSize + n]!
      }
      y[i] = (sum + a.d[ch]! * a.x[i]!) * (a.z[i]! / (1 + Math.exp(-a.z[i]!)))
    }
  }
  return y
}

describe('Mamba-1 selective scan', () => {
  it('matches float64 over 9 tokens, its state carried across calls', () => {
    const random = new SeededRandom(21)
    const [rows, channels, stateSize] = [9, 7, 5]
    const wide = rows * channels
    const args: Scan = {x: randoms(random, wide), dt: randoms(random, wide, 3), b: randoms(random, rows * stateSize), c: randoms(random, rows * stateSize), z: randoms(random, wide, 2),
      rows, channels, stateSize, decay: randoms(random, channels * stateSize).map((a) => -Math.exp(a)), d: randoms(random, channels)}
    const initial = Array.from(randoms(random, channels * stateSize, 0.5))
    const referenceState = [...initial]
    const reference = referenceScan(args, referenceState)
    const state = Float32Array.from(initial)
    const part = (from: number, to: number) => nativeOps().selectiveScan({...args, rows: to - from, state,
      ...Object.fromEntries((['x', 'dt', 'z'] as const).map((k) => [k, args[k].subarray(from * channels, to * channels)])),
      ...Object.fromEntries((['b', 'c'] as const).map((k) => [k, args[k].subarray(from * stateSize, to * stateSize)]))})
    const y = [...part(0, 4), ...part(4, 5), ...part(5, rows)]
    const worst = (ours: ArrayLike<number>, ref: number[]) => ref.reduce((w, r, i) => Math.max(w, Math.abs(ours[i]! - r)), 0)
    assert.equal(y.length, reference.length)
    assert.ok(worst(y, reference) < 1e-5, `outputs within 1e-5 of float64 (worst ${worst(y, reference)})`)
    assert.ok(worst(state, referenceState) < 1e-5, 'the final state')
  })
})

describe('Mamba-1 configs', () => {
  it('reads the mixer sizes, time_step_rank "auto", tied embeddings; a model without attention keeps no KV bytes and runs on the CPU only', () => {
    const mamba = config('mamba')
    assert.deepEqual([mamba.hybrid?.linearLayers, mamba.hybrid?.mamba1, mamba.tieWordEmbeddings, mamba.rmsNormEps, kvBytesPerBlock(mamba, 16)],
      [[true, true], {innerSize: 128, stateSize: 16, convKernel: 4, dtRank: 4, convBias: true, dtBcNorm: 'none', dtBcNormEps: 1e-5, noMlp: true}, true, 1e-5, 0])
    assert.match(cpuOnlyNeed({}, {config: mamba, tensors: []})?.reason ?? '', /MambaForCausalLM \(Mamba-1 selective-scan mixers have CPU kernels only\)/)
  })

  it('Falcon-Mamba: weightless dt / B / C norms at mixer_rms_eps, an explicit time_step_rank, no conv bias', () => {
    const falcon = config('falcon-mamba')
    assert.deepEqual([falcon.hybrid?.mamba1, falcon.tieWordEmbeddings], [{innerSize: 128, stateSize: 16, convKernel: 4, dtRank: 8, convBias: false, dtBcNorm: 'unweighted', dtBcNormEps: 1e-5, noMlp: true}, false])
    assert.equal(config('falcon-mamba', {mixer_rms_eps: undefined}).hybrid?.mamba1?.dtBcNormEps, 1e-6, 'FalconMambaConfig\'s default')
  })

  it('Jamba: attention at attn_layer_period / offset without rope, experts at expert_layer_period / offset, softmax top-2 not renormalised', () => {
    const jamba = config('jamba')
    assert.deepEqual([jamba.hybrid?.linearLayers, jamba.moe?.sparseLayers, jamba.moe?.normTopkProb, jamba.moe?.numExperts, jamba.rmsVariant?.ropeLayers, kvBytesPerBlock(jamba, 16) > 0],
      [[true, false, true, false], [true, false, false, true], false, 4, [false, false, false, false], true])
    assert.deepEqual(jamba.hybrid?.mamba1, {innerSize: 128, stateSize: 16, convKernel: 4, dtRank: 4, convBias: true, dtBcNorm: 'weighted', dtBcNormEps: 1e-6, noMlp: false})
    assert.equal(config('jamba', {num_experts: 1}).moe, undefined, 'one expert per layer: every MLP dense')
    assert.deepEqual(config('jamba', {attn_layer_period: undefined, attn_layer_offset: undefined, num_hidden_layers: 8}).hybrid?.linearLayers, [true, true, true, true, false, true, true, true], 'JambaConfig\'s period 8, offset 4')
    assert.match(cpuOnlyNeed({}, {config: jamba, tensors: []})?.reason ?? '', /JambaForCausalLM \(Mamba-1/)
  })

  it('refuses by key what it cannot run', () => {
    assert.throws(() => config('mamba', {use_bias: true}), /"use_bias" true \(biases on the Mamba in_proj \/ out_proj\) is not supported/)
    assert.throws(() => config('mamba', {hidden_act: 'gelu'}), /"hidden_act" "gelu" is not supported .* only silu/)
    assert.throws(() => config('mamba', {state_size: 0}), /"state_size" must be a positive integer/)
    assert.throws(() => config('jamba', {mamba_proj_bias: true}), /"mamba_proj_bias" true/)
    // Not booleans (found by fuzz-model-files: read as off, where transformers takes a truthy value as on).
    assert.throws(() => config('mamba', {use_bias: '7'}), /"use_bias" must be true or false, got "7"/)
    assert.throws(() => config('jamba', {mamba_proj_bias: 1}), /"mamba_proj_bias" must be true or false, got 1/)
    // (found by fuzz-model-files: loadModel passed, the backend refused)
    assert.throws(() => config('jamba', {rms_norm_eps: 0}), /"rms_norm_eps" must be positive for JambaForCausalLM/)
    assert.throws(() => config('mamba', {layer_norm_epsilon: 0}), /"layer_norm_epsilon" must be positive for MambaForCausalLM/)
    assert.throws(() => config('jamba', {attn_layer_offset: 2}), /"attn_layer_offset" \(2\) must be a non-negative integer below "attn_layer_period" \(2\)/)
    assert.throws(() => config('jamba', {expert_layer_period: 0}), /"expert_layer_offset" \(0\) must be a non-negative integer below "expert_layer_period" \(0\)/)
    assert.throws(() => config('falcon-mamba', {mixer_rms_eps: -1}), /"mixer_rms_eps" must be a positive number/)
  })
})

/** Greedy tokens of these prompts through the engine; checks slots and blocks come back. */
async function engineRun(variant: Mamba1TestVariant, prompts: number[][], overrides: Partial<EngineConfig> = {}) {
  const {outputs, preemptions} = await tinyEngineRun(variant, prompts, greedyParams(), overrides)
  return {tokens: outputs.map((o) => o[0]!), preemptions}
}

describe('Mamba-1 tiny models', () => {
  for (const variant of VARIANTS) {
    it(`${variant} matches transformers 5.18: top-10 last-position logits within 1e-4 (one batch of three), greedy tokens equal (each alone)`, async () => {
      const expected = fixture(variant)
      const model = await loadModel(await ensureTestModel('tiny', {variant}))
      await checkSlotBatchLogits(model, expected)
      for (const p of expected.prompts) assert.deepEqual((await engineRun(variant, [p.prompt_token_ids])).tokens, [p.greedy_token_ids])
    })

    it(`${variant}: six requests batched, prefilled in chunks of 5 and preempted in 9 blocks of 4 give the same tokens`, async () => {
      const order = [0, 1, 0, 1, 0, 1]
      const prompts = fixture(variant).prompts
      const {tokens, preemptions} = await engineRun(variant, order.map((i) => prompts[i]!.prompt_token_ids), {numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined, enableChunkedPrefill: true, maxNumBatchedTokens: 5})
      assert.ok(preemptions > 0, 'the pool is small enough to preempt')
      assert.deepEqual(tokens, order.map((i) => prompts[i]!.greedy_token_ids))
    })
  }
})
