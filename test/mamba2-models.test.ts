// Mamba-2 hybrids (Granite 4.0 hybrid, Bamba, Mamba2): the SSD recurrence and the biased conv against float64 (their
// states carried across calls), config keys and refusals, the tiny models against transformers 5.18
// (test/fixtures/<variant>-tiny-transformers.json), and the engine's state slots under them: chunked prefill, n = 2,
// an abort, a model with no attention layer (no KV bytes), `generate` and the server, each with slots and blocks given back.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {describeEngine} from '../src/cli/start-engine.js'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import type {Mamba2TestVariant} from '../src/engine/model/mamba2-test-models.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {kvBytesPerBlock, nativeOps} from '../src/engine/native.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {runCommand} from './support/run-command.js'
import {post, startTinyEngineServer} from './support/server-harness.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const VARIANTS: Mamba2TestVariant[] = ['granitemoehybrid', 'granitemoehybrid-dense', 'bamba', 'mamba2']
const fixture = (variant: Mamba2TestVariant) => readTransformersFixture(variant)
const config = (variant: Mamba2TestVariant, extra: Record<string, unknown> = {}) => parseModelConfig({...testModelConfigJson('tiny', {variant}), ...extra})

function randoms(random: SeededRandom, count: number, scale = 1): Float32Array {
  return Float32Array.from({length: count}, () => (random.nextFloat() * 2 - 1) * scale)
}

function maxDifference(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  assert.equal(ours.length, reference.length)
  let worst = 0
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - reference[i]!))
  return worst
}

type Ssd = {x: Float32Array; dt: Float32Array; rows: number; heads: number; headDim: number; groups: number; stateSize: number; dtBias: Float32Array; decayRate: Float32Array; d: Float32Array; dtMin: number; dtMax: number}

/** float64 SSD recurrence, token by token: rows of x are [x | B | C]; `state` [heads, headDim, stateSize] advanced. */
function referenceSsd(a: Ssd, state: number[]): number[] {
  const inner = a.heads * a.headDim
  const width = inner + 2 * a.groups * a.stateSize
  const y: number[] = []
  for (let t = 0; t < a.rows; t++) {
    for (let h = 0; h < a.heads; h++) {
      const g = Math.floor(h / (a.heads / a.groups))
      const raw = a.dt[t * a.heads + h]! + a.dtBias[h]!
      const dt = Math.min(Math.max(Math.log1p(Math.exp(raw)), a.dtMin), a.dtMax)
      const decay = Math.exp(dt * a.decayRate[h]!)
      for (let p = 0; p < a.headDim; p++) {
        const x = a.x[t * width + h * a.headDim + p]!
        let sum = 0
        for (let n = 0; n < a.stateSize; n++) {
          const i = (h * a.headDim + p) * a.stateSize + n
          state[i] = state[i]! * decay + dt * x * a.x[t * width + inner + g * a.stateSize + n]!
          sum += state[i]! * a.x[t * width + inner + (a.groups + g) * a.stateSize + n]!
        }
        y[t * inner + h * a.headDim + p] = sum + a.d[h]! * x
      }
    }
  }
  return y
}

describe('Mamba-2 kernels', () => {
  it('the SSD recurrence matches float64 over 9 tokens (heads sharing groups, dt clamped), its state carried across calls', () => {
    const random = new SeededRandom(11)
    const [rows, heads, headDim, groups, stateSize] = [9, 4, 3, 2, 5]
    const width = heads * headDim + 2 * groups * stateSize
    const args: Ssd = {x: randoms(random, rows * width), dt: randoms(random, rows * heads, 2), rows, heads, headDim, groups, stateSize,
      dtBias: randoms(random, heads), decayRate: randoms(random, heads).map((a) => -Math.exp(a)), d: randoms(random, heads), dtMin: 0.05, dtMax: 1.2}
    const initial = Array.from(randoms(random, heads * headDim * stateSize, 0.5))
    const referenceState = [...initial]
    const reference = referenceSsd(args, referenceState)
    const state = Float32Array.from(initial)
    const part = (from: number, to: number) => nativeOps().ssdRecurrence({...args, rows: to - from, x: args.x.subarray(from * width, to * width), dt: args.dt.subarray(from * heads, to * heads), state})
    const y = [...part(0, 4), ...part(4, 5), ...part(5, rows)]
    assert.ok(maxDifference(y, reference) < 1e-5, `outputs within 1e-5 of float64 (worst ${maxDifference(y, reference)})`)
    assert.ok(maxDifference(state, referenceState) < 1e-5, 'the final state')
  })

  it('the conv1d adds its bias before the silu, chunk after chunk', () => {
    const random = new SeededRandom(12)
    const [rows, channels, kernel] = [6, 3, 4]
    const [x, weight, bias] = [randoms(random, rows * channels), randoms(random, channels * kernel), randoms(random, channels)]
    const reference: number[] = []
    for (let t = 0; t < rows; t++) {
      for (let c = 0; c < channels; c++) {
        let sum = bias[c]!
        for (let j = 0; j < kernel; j++) sum += t - (kernel - 1) + j >= 0 ? weight[c * kernel + j]! * x[(t - (kernel - 1) + j) * channels + c]! : 0
        reference[t * channels + c] = sum / (1 + Math.exp(-sum))
      }
    }
    const state = new Float32Array(channels * (kernel - 1))
    const run = (from: number, to: number) => nativeOps().causalConv1dSilu({x: x.subarray(from * channels, to * channels), rows: to - from, channels, weight, kernel, state, bias})
    assert.ok(maxDifference([...run(0, 2), ...run(2, rows)], reference) < 1e-6)
  })
})

describe('Mamba-2 hybrid configs', () => {
  it('reads the layouts, mixer sizes, Granite\'s multipliers and rope switch, Bamba\'s half-rotary heads; a model without attention keeps no KV bytes', () => {
    const granite = config('granitemoehybrid')
    assert.deepEqual([granite.hybrid?.linearLayers, granite.hybrid?.mamba2, granite.moe?.numExperts, granite.moe?.sharedExpertIntermediateSize, granite.rmsVariant?.residualMultiplier, granite.rmsVariant?.ropeLayers],
      [[true, false, true], {heads: 8, headDim: 16, groups: 2, stateSize: 16, convKernel: 4, normGroup: 128, convBias: true, dtMin: 0.0001, dtMax: 1000.5, noMlp: false}, 4, 48, 0.625, undefined])
    const dense = config('granitemoehybrid-dense')
    assert.deepEqual([dense.moe, dense.intermediateSize, dense.rmsVariant?.ropeLayers, dense.hybrid?.mamba2?.dtMax], [undefined, 48, [false, false, false], Infinity], 'nope, shared_mlp as the MLP, {"__float__": "Infinity"}')
    assert.deepEqual(config('granitemoehybrid', {layer_types: undefined}).hybrid?.linearLayers, [true, true, true], 'every layer a mixer by default')
    const bamba = config('bamba')
    assert.deepEqual([bamba.hybrid?.linearLayers, bamba.rotaryDim, bamba.headDim], [[true, false, true], 8, 16])
    const mamba2 = config('mamba2')
    assert.deepEqual([mamba2.hybrid?.linearLayers, mamba2.hybrid?.mamba2?.noMlp, mamba2.rmsNormEps, kvBytesPerBlock(mamba2, 16)], [[true, true], true, 1e-5, 0])
    assert.match(cpuOnlyNeed({}, {config: granite, tensors: []})?.reason ?? '', /GraniteMoeHybridForCausalLM \(Mamba-2 mixers have CPU kernels only\)/)
  })

  it('refuses by key what it cannot run', () => {
    assert.throws(() => config('granitemoehybrid', {mamba_proj_bias: true}), /"mamba_proj_bias" true \(biases on the Mamba-2 in_proj \/ out_proj\) is not supported/)
    assert.throws(() => config('mamba2', {use_bias: true}), /"use_bias" true/)
    assert.throws(() => config('bamba', {attention_bias: true}), /"attention_bias" true is not supported for BambaForCausalLM/)
    // Not booleans (found by fuzz-model-files: read as off, where transformers takes a truthy value as on).
    assert.throws(() => config('mamba2', {use_bias: [4, 4]}), /"use_bias" must be true or false, got \[4,4\]/)
    assert.throws(() => config('granitemoehybrid', {mamba_proj_bias: 'NaN'}), /"mamba_proj_bias" must be true or false/)
    assert.throws(() => config('bamba', {mlp_bias: 3}), /"mlp_bias" must be true or false, got 3/)
    assert.throws(() => config('granitemoehybrid', {hidden_act: 'gelu'}), /"hidden_act" "gelu" is not supported .* only silu/)
    assert.throws(() => config('granitemoehybrid', {layer_types: ['mamba', 'sliding_attention', 'mamba']}), /"layer_types" must list "mamba" or "attention"/)
    assert.throws(() => config('granitemoehybrid', {mamba_d_head: 12}), /8 Mamba heads of 12 .* must make the inner width/)
    assert.throws(() => config('bamba', {attn_layer_indices: [3]}), /"attn_layer_indices" must list layer indices below 3/)
    assert.throws(() => config('mamba2', {time_step_limit: [1, 0.5]}), /"time_step_limit" must be \[min, max\]/)
    assert.throws(() => config('mamba2', {n_groups: 3}), /"num_heads" \(8\) is not a multiple of "n_groups" \(3\)/)
  })
})

/** Greedy tokens of the fixture's prompts through the engine; checks slots and blocks come back. */
async function engineRun(variant: Mamba2TestVariant, overrides: Partial<EngineConfig> = {}, params = greedyParams()) {
  return {tokens: (await tinyEngineRun(variant, fixture(variant).prompts.map((p) => p.prompt_token_ids), params, overrides)).outputs}
}

const greedy = (variant: Mamba2TestVariant, copies = 1) => fixture(variant).prompts.map((p) => Array<number[]>(copies).fill(p.greedy_token_ids))

describe('Mamba-2 hybrid tiny models', () => {
  for (const variant of VARIANTS) it(`${variant} matches transformers 5.18: top-10 last-position logits within 1e-4, greedy tokens equal`, async () => {
    const expected = fixture(variant)
    const model = await loadModel(await ensureTestModel('tiny', {variant}))
    await checkSlotBatchLogits(model, expected)
    assert.deepEqual((await engineRun(variant)).tokens, greedy(variant))
  })

  it('granitemoehybrid-dense: prefill chunks of 3 and 16 tokens and n = 2 from one prompt give transformers\' tokens', async () => {
    for (const chunk of [3, 16]) assert.deepEqual((await engineRun('granitemoehybrid-dense', {enableChunkedPrefill: true, maxNumBatchedTokens: chunk})).tokens, greedy('granitemoehybrid-dense'), `chunk ${chunk}`)
    const {tokens} = await engineRun('granitemoehybrid-dense', {}, greedyParams(2))
    assert.deepEqual(tokens, greedy('granitemoehybrid-dense', 2))
  })

  it('mamba2: no attention layer, so no KV bytes; the pool is sized by sequences, an abort gives back its slot and blocks', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny', {variant: 'mamba2'}), threads: 2, weightDtype: 'f32', maxNumSeqs: 2, blockSize: 16}))
    try {
      assert.equal(engine.stats().kv.totalBlocks, 2 * Math.ceil(512 / 16), 'max-num-seqs x the context in blocks of no bytes')
      assert.match(describeEngine(engine), /note: 2 of 2 layers are Mamba-2 mixers: 2 recurrent state slots/)
      const prompts = fixture('mamba2').prompts.map((p) => p.prompt_token_ids)
      const handle = engine.addRequest({requestId: 'cut', prompt: prompts[0]!, params: makeSamplingParams({temperature: 0, maxTokens: 200, ignoreEos: true})})
      for await (const output of handle) {
        if (output.outputs[0]!.tokenIds.length >= 2) break
      }
      engine.abort('cut')
      const [after] = await engine.generate([{prompt: prompts[1]!, params: greedyParams()}])
      assert.deepEqual(after!.outputs[0]!.tokenIds, fixture('mamba2').prompts[1]!.greedy_token_ids)
      engine.checkKvInvariants()
      assert.equal(engine.stats().kv.usedBlocks, 0)
    } finally {
      await engine.shutdown()
    }
  })

  it('bamba through the server, granitemoehybrid through `generate`: the greedy tokens are the engine\'s', async () => {
    const {server, engine, url} = await startTinyEngineServer({}, await ensureTestModel('tiny', {variant: 'bamba'}), {weightDtype: 'f32'})
    try {
      const reply = await post(`${url}/v1/completions`, {prompt: fixture('bamba').prompts[0]!.prompt_token_ids, max_tokens: 8, temperature: 0, ignore_eos: true, return_token_ids: true})
      assert.equal(reply.status, 200, reply.text)
      assert.deepEqual(reply.json().choices[0].token_ids, fixture('bamba').prompts[0]!.greedy_token_ids)
    } finally {
      await server.shutdown(0)
      await engine.shutdown()
    }
    const dir = await ensureTestModel('tiny', {variant: 'granitemoehybrid'})
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--dtype', 'float32', '--json', '--temperature', '0', '--max-tokens', '6', '--ignore-eos', 'the sea and the sky'])
    assert.equal(result.code, 0, result.stderr)
    const [cli] = JSON.parse(result.stdout) as {prompt_token_ids: number[]; outputs: {token_ids: number[]}[]}[]
    const engine2 = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
    try {
      const [own] = await engine2.generate([{prompt: cli!.prompt_token_ids, params: makeSamplingParams({temperature: 0, maxTokens: 6, ignoreEos: true})}])
      assert.deepEqual(cli!.outputs[0]!.token_ids, own!.outputs[0]!.tokenIds)
    } finally {
      await engine2.shutdown()
    }
  })
})
