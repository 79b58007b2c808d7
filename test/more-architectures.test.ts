// GPT-Neo, Cohere2, OLMo 3, GraniteMoeShared and PhiMoE: configs read as transformers 5.18's config classes read them (what
// the kernels lack refused by key), their windows in a paged engine, and their replies through the server (PhiMoE's: and generate). Logits against
// the float64 reference and transformers: layernorm-architectures.test.ts (gpt-neo), rms-architectures.test.ts (the others;
// GPT-OSS, here for its server replies and CPU-only reason: gpt-oss.test.ts).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {expectedTensorShapes, loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {longRopeForContext} from '../src/engine/model/rope-scaling.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {ReferenceModel} from './support/reference-model.js'
import {runCommand} from './support/run-command.js'
import {checkServerAgainstTransformers} from './support/transformers-fixture.js'
import {checkWindowedEngine} from './support/windowed-engine-check.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const GPT_NEO = {architectures: ['GPTNeoForCausalLM'], vocab_size: 100, hidden_size: 64, num_layers: 4, num_heads: 4}

describe('GPT-Neo config', () => {
  it('as GPTNeoConfig reads it: attention_types expanded to a window_size window on local layers, unscaled scores, no q/k/v biases, learned positions, tied', () => {
    const c = parseModelConfig({...GPT_NEO, attention_types: [[['global', 'local'], 2]], window_size: 16})
    assert.deepEqual([c.layerWindows, c.attentionScale, c.intermediateSize, c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, c.rmsNormEps], [[0, 16, 0, 16], 1, 256, 'gelu_pytorch_tanh', true, 2048, 1e-5])
    const ln = c.layerNorm!
    assert.deepEqual([ln.qkvBias, ln.outputBias, ln.mlpBias, ln.learnedPositions, ln.rotaryDim, ln.finalNorm], [false, true, true, 2048, 0, true])
    // num_attention_heads / num_hidden_layers through its attribute_map; all global: no windows; the default 24 layers of [global, local].
    const global = parseModelConfig({architectures: ['GPTNeoForCausalLM'], vocab_size: 100, hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, attention_types: [[['global'], 2]]})
    assert.deepEqual([global.numHeads, global.numLayers, global.layerWindows], [4, 2, undefined])
    // Both names: the attribute_map one wins, as GPTNeoConfig.from_dict keeps it (8 heads, 3 layers).
    const both = parseModelConfig({...GPT_NEO, num_heads: 4, num_attention_heads: 8, num_layers: 2, num_hidden_layers: 3, attention_types: [[['global'], 3]]})
    assert.deepEqual([both.numHeads, both.numLayers], [8, 3])
    assert.deepEqual(parseModelConfig({architectures: ['GPTNeoForCausalLM'], vocab_size: 100, hidden_size: 64}).layerWindows, Array.from({length: 24}, (_, i) => (i % 2 ? 256 : 0)))
    assert.throws(() => parseModelConfig(GPT_NEO), loadError(/"attention_types" .* gives 24 layer types for 4 layers/))
    assert.throws(() => parseModelConfig({...GPT_NEO, attention_types: [[['global', 'local'], 1e12]]}), loadError(/gives 2000000000000 layer types for 4 layers/))
    assert.throws(() => parseModelConfig({...GPT_NEO, attention_types: [[['global', 'sparse'], 2]]}), loadError(/names the attention type "sparse" \(global, local\)/))
    assert.throws(() => parseModelConfig({...GPT_NEO, attention_types: ['global']}), loadError(/must be a list of \[\[types...\], count\] pairs/))
    assert.throws(() => parseModelConfig({...GPT_NEO, attention_types: [[['local'], 4]], window_size: 0}), loadError(/"window_size" must be a positive integer, got 0/))
    assert.deepEqual(parseModelConfig({...GPT_NEO, attention_types: [[['global', 'local'], 2]], window_size: 2 ** 53}).layerWindows, [0, 2 ** 31 - 1, 0, 2 ** 31 - 1], 'past 32 bits: full attention (found by fuzz-model-files: a RangeError, a V8 abort, or a window the backend refused)')
    assert.throws(() => parseModelConfig({...GPT_NEO, attention_types: [[['local'], 4]], activation_function: 'quick_gelu'}), loadError(/activation_function "quick_gelu" is not supported/))
  })
})

describe('Cohere2 config', () => {
  const COHERE2 = {architectures: ['Cohere2ForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 8, num_attention_heads: 4}
  it('as Cohere2Config reads it: every 4th layer full without rope, the others sliding (4096) with it; Command-R\'s block, logit_scale, tied; head_dim as given (hf-config-sweep.py: transformers 5.18 sizes q_proj by it), else hidden / heads', () => {
    const c = parseModelConfig(COHERE2)
    assert.deepEqual(c.layerWindows, [4096, 4096, 4096, 0, 4096, 4096, 4096, 0])
    assert.deepEqual(c.rmsVariant!.ropeLayers, [true, true, true, false, true, true, true, false])
    assert.deepEqual([c.rmsVariant!.parallelBlock, c.rmsVariant!.normMean, c.rmsVariant!.logitsMultiplier, c.tieWordEmbeddings, c.ropeTheta, c.rmsNormEps, c.headDim, c.maxPositionEmbeddings],
      [true, true, 0.0625, true, 10000, 1e-5, 16, 8192])
    assert.deepEqual([parseModelConfig({...COHERE2, head_dim: 32}).headDim, parseModelConfig(COHERE2).headDim], [32, 16])
    const typed = parseModelConfig({...COHERE2, num_hidden_layers: 2, sliding_window: 512, layer_types: ['full_attention', 'sliding_attention'], layer_norm_eps: 1e-6})
    assert.deepEqual([typed.layerWindows, typed.rmsVariant!.ropeLayers, typed.rmsNormEps], [[0, 512], [false, true], 1e-6])
    assert.deepEqual(parseModelConfig({...COHERE2, sliding_window_pattern: 2}).layerWindows, [4096, 0, 4096, 0, 4096, 0, 4096, 0])
    assert.throws(() => parseModelConfig({...COHERE2, sliding_window: null}), loadError(/Cohere2 needs a "sliding_window" \(null given\)/))
    assert.throws(() => parseModelConfig({...COHERE2, sliding_window_pattern: 0}), loadError(/"sliding_window_pattern" must be a positive integer, got 0/))
    assert.throws(() => parseModelConfig({...COHERE2, layer_types: ['sliding_attention']}), loadError(/"layer_types" must list .* each of the 8 layers/))
    assert.deepEqual([parseModelConfig({...COHERE2, attention_bias: true}).attentionOutputBias, parseModelConfig(COHERE2).attentionOutputBias], [true, undefined])
  })
})

describe('OLMo 3 config', () => {
  const OLMO3 = {architectures: ['Olmo3ForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4, num_attention_heads: 4}
  it('as Olmo3Config reads it: every 4th layer full, the others sliding (4096) with their own rope; an old rope_scaling on the full layers only; OLMo2\'s norms', () => {
    const c = parseModelConfig(OLMO3)
    assert.deepEqual([c.layerWindows, c.ropeTheta, c.ropeLocalTheta, c.ropeScaling, c.rmsNormEps, c.qkNorm, c.rmsVariant!.postNormsOnly, c.rmsVariant!.wholeQkNorm, c.tieWordEmbeddings],
      [[4096, 4096, 4096, 0], 500000, 500000, {type: 'none'}, 1e-5, true, true, true, false])
    // OLMo 3 7B's config.json: rope_theta and a YaRN rope_scaling, which transformers puts on the full layers alone.
    const old = parseModelConfig({...OLMO3, max_position_embeddings: 65536, rope_theta: 5e5, rope_scaling: {rope_type: 'yarn', factor: 8, original_max_position_embeddings: 8192, attention_factor: 1.2, beta_fast: 32, beta_slow: 1}})
    assert.deepEqual([old.ropeTheta, old.ropeLocalTheta, old.ropeScaling.type, (old.ropeScaling as {attentionFactor: number}).attentionFactor], [5e5, 5e5, 'yarn', 1.2])
    const v5 = parseModelConfig({...OLMO3, rope_parameters: {full_attention: {rope_type: 'linear', factor: 2, rope_theta: 3e5}, sliding_attention: {rope_type: 'default', rope_theta: 1e4}}})
    assert.deepEqual([v5.ropeTheta, v5.ropeLocalTheta, v5.ropeScaling], [3e5, 1e4, {type: 'linear', factor: 2}])
    assert.throws(() => parseModelConfig({...OLMO3, rope_parameters: {full_attention: {rope_type: 'default'}, sliding_attention: {rope_type: 'yarn', factor: 2}}}), loadError(/sliding_attention of type "yarn" is not supported \(OLMo 3's local layers/))
    assert.throws(() => parseModelConfig({...OLMO3, sliding_window: null}), loadError(/OLMo 3 needs a "sliding_window" \(null given\)/))
    assert.throws(() => parseModelConfig({...OLMO3, rope_theta: -1}), loadError(/"rope_theta" must be a positive number, got -1/))
  })
})

describe('GraniteMoeShared config', () => {
  const SHARED = {architectures: ['GraniteMoeSharedForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4}
  it('as GraniteMoeSharedConfig reads it: GraniteMoE\'s experts and multipliers, an ungated shared expert of shared_intermediate_size (0: none)', async () => {
    const c = parseModelConfig({...SHARED, shared_intermediate_size: 48, residual_multiplier: 0.5})
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.normTopkProb, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.ungatedSharedExpert, c.rmsVariant!.residualMultiplier],
      [8, 2, true, 32, 48, true, 0.5])
    const names = expectedTensorShapes(c).map((t) => t.name)
    assert.ok(names.includes('model.layers.1.mlp.shared_expert.down_proj.weight') && !names.some((n) => n.includes('shared_expert_gate')))
    const none = parseModelConfig(SHARED)
    assert.deepEqual([none.moe!.sharedExpertIntermediateSize, none.moe!.ungatedSharedExpert], [0, undefined])
    assert.throws(() => parseModelConfig({...SHARED, shared_intermediate_size: -1}), loadError(/"shared_intermediate_size" must be a non-negative integer, got -1/))
    // The checkpoint's shared_mlp.input_linear is cut into gate and up halves (byte windows), output_linear is down.
    const loaded = await loadModel(await ensureTestModel('tiny', {variant: 'granitemoeshared'}))
    const stored = readCheckpointTensors(loaded.dir).find((t) => t.name === 'model.layers.0.shared_mlp.input_linear.weight')!
    const [gate, up] = ['gate', 'up'].map((part) => loaded.tensors.find((t) => t.name === `model.layers.0.mlp.shared_expert.${part}_proj.weight`)!)
    assert.deepEqual([gate!.shape, gate!.offset, up!.offset, up!.nbytes], [[32, 64], stored.offset, stored.offset + stored.nbytes / 2, stored.nbytes / 2])
    const turned = readCheckpointTensors(loaded.dir).map((t) => (t.name === stored.name ? {...t, shape: [32, 64]} : t))
    assert.throws(() => selectModelTensors(loaded.config, turned, loaded.dir), loadError(/shared_mlp\.input_linear\.weight has shape \[32, 64\], but config\.json implies \[64, 64\]/))
  })
})

describe('PhiMoE config', () => {
  const PHIMOE = {architectures: ['PhiMoEForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 8}
  const longrope = {type: 'longrope', short_factor: Array(4).fill(1), long_factor: Array(4).fill(2), short_mscale: 1.25, long_mscale: 1.5}
  it('as PhimoeConfig reads it: 16 experts top-2 by sparsemixer (router_jitter_noise 0.01), Mixtral names, biased LayerNorms, 8 KV heads, rope base 1e6; its mscales as LongRoPE\'s factors', () => {
    const c = parseModelConfig(PHIMOE)
    assert.deepEqual(c.moe, {numExperts: 16, numExpertsPerToken: 2, normTopkProb: false, expertIntermediateSize: 32, sharedExpertIntermediateSize: 0, sparseLayers: [true, true], mixtralNames: true, sparsemixerJitterEps: 0.01})
    assert.deepEqual([c.numKvHeads, c.ropeTheta, c.rmsNormEps, c.maxPositionEmbeddings, c.attentionBias, c.attentionOutputBias, c.rmsVariant!.normMean, c.rmsVariant!.normBias, c.rmsVariant!.headBias, c.layerWindows],
      [8, 1e6, 1e-5, 131072, false, undefined, true, true, undefined, undefined])
    const biased = parseModelConfig({...PHIMOE, attention_bias: true, lm_head_bias: true, router_jitter_noise: 0.5, sliding_window: 64})
    assert.deepEqual([biased.attentionBias, biased.attentionOutputBias, biased.rmsVariant!.headBias, biased.moe!.sparsemixerJitterEps, biased.layerWindows], [true, true, true, 0.5, [64, 64]])
    const names = expectedTensorShapes(biased).map((t) => t.name)
    for (const name of ['model.layers.1.input_layernorm.bias', 'model.layers.1.post_attention_layernorm.bias', 'model.layers.1.self_attn.o_proj.bias', 'model.norm.bias', 'lm_head.bias']) assert.ok(names.includes(name), name)
    // short_mscale within the original context (the context is capped there), long_mscale with long_factor past it.
    const scaled = parseModelConfig({...PHIMOE, max_position_embeddings: 8192, original_max_position_embeddings: 4096, rope_scaling: longrope})
    assert.deepEqual([scaled.maxPositionEmbeddings, scaled.ropeScaling.type === 'longrope' && scaled.ropeScaling.attentionFactor], [4096, 1.25])
    const extended = longRopeForContext(scaled, 8192)
    assert.deepEqual([extended.maxPositionEmbeddings, extended.ropeScaling.type === 'longrope' && [extended.ropeScaling.attentionFactor, extended.ropeScaling.frequencyDivisors[0]]], [8192, [1.5, 2]])
    // transformers' own class name and v5 rope_parameters, as its save_pretrained writes them.
    const saved = parseModelConfig({...PHIMOE, architectures: ['PhimoeForCausalLM'], max_position_embeddings: 8192, rope_parameters: {...longrope, type: undefined, rope_type: 'longrope', rope_theta: 1e4, original_max_position_embeddings: 4096}})
    assert.deepEqual([saved.moe!.sparsemixerJitterEps, saved.ropeTheta, saved.maxPositionEmbeddings, saved.ropeScaling.type === 'longrope' && saved.ropeScaling.attentionFactor], [0.01, 1e4, 4096, 1.25])
  })

  it('refuses what transformers would not run or the kernels lack, by key', () => {
    assert.throws(() => parseModelConfig({...PHIMOE, num_experts_per_tok: 1}), loadError(/sparsemixer routes every token to 2 experts \(num_experts_per_tok 1, 16 experts\)/))
    assert.throws(() => parseModelConfig({...PHIMOE, router_jitter_noise: -1}), loadError(/"router_jitter_noise" must be a non-negative number, got -1/))
    assert.throws(() => parseModelConfig({...PHIMOE, lm_head_bias: 'yes'}), loadError(/"lm_head_bias" must be true or false, got "yes"/))
    assert.throws(() => parseModelConfig({...PHIMOE, original_max_position_embeddings: 4096, rope_scaling: {...longrope, long_mscale: undefined}}), loadError(/PhiMoE's longrope needs "long_mscale"/))
    assert.throws(() => parseModelConfig({...PHIMOE, rope_scaling: {type: 'yarn', factor: 2}}), loadError(/PhiMoE rope type "yarn" is not supported \(default, longrope\)/))
  })

  it('generate --json replies with the float64 reference\'s greedy tokens', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'phimoe'})
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--json', '--temperature', '0', '--max-tokens', '8', '--ignore-eos', 'the sea and the sky'])
    assert.equal(result.code, 0, result.stderr)
    const [reply] = JSON.parse(result.stdout) as {prompt_token_ids: number[]; outputs: {token_ids: number[]}[]}[]
    assert.deepEqual(reply!.outputs[0]!.token_ids, (await ReferenceModel.load(dir)).greedy(reply!.prompt_token_ids, 8))
  })
})

/** The variants with windows of 8 on some layers. */
const WINDOWED: TestModelVariant[] = ['gpt-neo', 'cohere2', 'olmo3']

for (const variant of WINDOWED) {
  describe(`${variant} in a paged engine (a window of 8 beside full layers, blocks of 4)`, () => {
    for (const preemptionMode of ['recompute', 'swap'] as const) {
      it(`greedy tokens equal the reference's with chunked prefill across the window's edge, prefix caching, copy-on-write and preemption (${preemptionMode})`, async () => {
        await checkWindowedEngine(variant, preemptionMode)
      })
    }
  })
}

/** Every new variant: CUDA-capable or CPU only by name, and transformers' greedy tokens through the server (batch invariance: where its family's tests do not check it). */
const VARIANTS: TestModelVariant[] = ['gpt-neo', 'cohere2', 'olmo3', 'granitemoeshared', 'phimoe', 'gptoss']
const ON_CUDA_TOO = new Set<TestModelVariant>(['gpt-neo', 'cohere2', 'olmo3', 'granitemoeshared', 'phimoe'])
const BATCH_INVARIANCE_HERE = new Set<TestModelVariant>(['gpt-neo'])

for (const variant of VARIANTS) {
  describe(`${variant} in the engine and the server`, () => {
    it(ON_CUDA_TOO.has(variant) ? 'runs on CUDA too (nothing keeps it on the CPU)' : 'runs on the CPU only, naming its architecture', () => {
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []})
      if (ON_CUDA_TOO.has(variant)) assert.equal(need, null)
      else assert.match(need?.reason ?? '', new RegExp(`^${config.architecture}`))
    })

    if (BATCH_INVARIANCE_HERE.has(variant)) {
      it('4 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)', async () => {
        await checkBatchInvariant(variant, {requests: 4, promptStep: 11, maxTokens: 10})
      })
    }

    it(`/v1/completions replies with transformers' greedy tokens (test/fixtures/${variant}-tiny-transformers.json)`, async () => {
      await checkServerAgainstTransformers(variant)
    })
  })
}
