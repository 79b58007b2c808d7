// BLOOM, Falcon and MPT: configs read as their transformers 5.18 config classes read them (what the kernels lack refused
// by key), ALiBi's slopes as transformers builds them, logits and greedy tokens as transformers computes them
// (test/fixtures/<variant>-tiny-transformers.json), and ALiBi unchanged by a cached prefix, a chunk boundary, speculation or
// swapping. Their GGUF forms: alibi-gguf.test.ts.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {selectDevice} from '../src/engine/device.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {bloomAlibiSlopes, mptAlibiSlopes} from '../src/engine/model/alibi-slopes.js'
import {ALIBI_TEST_VARIANTS} from '../src/engine/model/alibi-test-models.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {BYTES_PER_ELEMENT, readCheckpointTensors, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'
import {nativeOps} from '../src/engine/native.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {postJson, sseEvents} from './support/blackbox-checks.js'
import {startTinyEngineServer} from './support/server-harness.js'
import {checkDirAgainstTransformers, type TransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const BLOOM = {architectures: ['BloomForCausalLM'], vocab_size: 100, hidden_size: 64, n_layer: 1, n_head: 4}
const FALCON = {architectures: ['FalconForCausalLM'], vocab_size: 100, hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4}
const MPT = {architectures: ['MptForCausalLM'], vocab_size: 100, d_model: 64, n_layers: 1, n_heads: 4}

describe('ALiBi slopes', () => {
  it('BLOOM\'s (Falcon-RW\'s) and MPT\'s, as transformers builds them (torch float32 values), past a power of two included', () => {
    // build_alibi_tensor / build_mpt_alibi_tensor in transformers 5.18, printed from torch.
    assert.deepEqual(bloomAlibiSlopes(4), [0.25, 0.0625, 0.015625, 0.00390625])
    assert.deepEqual(bloomAlibiSlopes(6), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
    assert.deepEqual(bloomAlibiSlopes(16), [0.7071067690849304, 0.4999999701976776, 0.3535533845424652, 0.2499999850988388, 0.1767766773700714, 0.1249999850988388,
      0.0883883386850357, 0.0624999925494194, 0.044194165617227554, 0.031249994412064552, 0.022097082808613777, 0.015624997206032276, 0.011048541404306889,
      0.007812498137354851, 0.005524270236492157, 0.0039062488358467817])
    const powers = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.7071067690849304, 0.3535533845424652]
    assert.deepEqual(bloomAlibiSlopes(12), [...powers, 0.1767766773700714, 0.0883883386850357])
    assert.deepEqual(mptAlibiSlopes(12, 8), [...powers, 0.1767766922712326, 0.0883883461356163])
    assert.deepEqual(mptAlibiSlopes(4, 8), [0.25, 0.0625, 0.015625, 0.00390625])
    assert.deepEqual(mptAlibiSlopes(6, 8), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
    assert.deepEqual(mptAlibiSlopes(4, 16), [0.0625, 0.00390625, 0.000244140625, 0.0000152587890625])
  })
})

describe('BLOOM, Falcon, MPT configs', () => {
  it('BLOOM as BloomConfig reads it: n_layer / n_head, 4x gelu-tanh MLP, biases, word_embeddings_layernorm, ALiBi, per-head q|k|v, tied', () => {
    const c = parseModelConfig(BLOOM)
    const ln = c.layerNorm!
    assert.deepEqual([c.numLayers, c.numHeads, c.intermediateSize, c.hiddenAct, c.tieWordEmbeddings, ln.rotaryDim, ln.learnedPositions, ln.embedNorm, ln.qkvBias, ln.mlpBias],
      [1, 4, 256, 'gelu_pytorch_tanh', true, 0, 0, true, true, true])
    assert.deepEqual([ln.alibiSlopes, ln.qkvGroups], [bloomAlibiSlopes(4), {groups: 4, queriesPerGroup: 1}])
    assert.equal(parseModelConfig({...BLOOM, hidden_size: undefined, n_embed: 32}).hiddenSize, 32)
    // Both names given: the one transformers 5.18's config class keeps (BloomConfig / FalconConfig / MptConfig.from_dict).
    const both = (c: Record<string, unknown>) => {
      const p = parseModelConfig(c)
      return [p.hiddenSize, p.numHeads, p.numLayers]
    }
    assert.deepEqual(both({...BLOOM, hidden_size: 64, n_embed: 32, n_head: 4, num_attention_heads: 8, n_layer: 2, num_hidden_layers: 3}), [32, 8, 3])
    assert.deepEqual(both({...FALCON, hidden_size: 64, n_embed: 32}), [32, 4, 1])
    assert.deepEqual(both({...MPT, d_model: 64, hidden_size: 32, n_heads: 4, num_attention_heads: 8, n_layers: 2, num_hidden_layers: 3}), [32, 8, 3])
    assert.throws(() => parseModelConfig({...BLOOM, apply_residual_connection_post_layernorm: true}), loadError(/apply_residual_connection_post_layernorm=true is not supported for BloomForCausalLM/))
    assert.throws(() => parseModelConfig({...BLOOM, apply_residual_connection_post_layernorm: 1}), loadError(/"apply_residual_connection_post_layernorm" must be true or false, got 1/))
    assert.throws(() => parseModelConfig({...BLOOM, n_head: 5}), loadError(/hidden size \(64\) is not divisible by the number of attention heads \(5\)/))
  })

  it('Falcon as FalconConfig reads it: multi_query (one KV head) and one norm by default; new_decoder_architecture\'s KV groups and ln_attn / ln_mlp; alibi scaled with the scores', () => {
    const c = parseModelConfig(FALCON)
    const ln = c.layerNorm!
    assert.deepEqual([c.numKvHeads, c.intermediateSize, c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, ln.rotaryDim, ln.sharedNorm, ln.parallelResidual, ln.qkvBias, ln.qkvGroups, ln.alibiSlopes],
      [1, 256, 'gelu', true, 2048, 16, true, false, false, undefined, undefined])
    const big = parseModelConfig({...FALCON, new_decoder_architecture: true, num_kv_heads: 2, bias: true, ffn_hidden_size: 100, rope_theta: 500000})
    assert.deepEqual([big.numKvHeads, big.intermediateSize, big.ropeTheta, big.layerNorm!.parallelResidual, big.layerNorm!.sharedNorm, big.layerNorm!.qkvGroups, big.layerNorm!.qkvBias],
      [2, 100, 500000, true, false, {groups: 2, queriesPerGroup: 2}, true])
    assert.equal(parseModelConfig({...FALCON, new_decoder_architecture: true, num_ln_in_parallel_attn: 1}).layerNorm!.sharedNorm, true)
    const rw = parseModelConfig({...FALCON, alibi: true, multi_query: false, parallel_attn: false})
    assert.deepEqual([rw.numKvHeads, rw.layerNorm!.rotaryDim, rw.layerNorm!.sharedNorm, rw.layerNorm!.qkvGroups], [4, 0, false, {groups: 4, queriesPerGroup: 1}])
    assert.deepEqual(rw.layerNorm!.alibiSlopes, bloomAlibiSlopes(4).map((s) => s / 4))
    assert.throws(() => parseModelConfig({...FALCON, new_decoder_architecture: true, parallel_attn: false}), loadError(/new_decoder_architecture=true with parallel_attn=false is not supported/))
    assert.throws(() => parseModelConfig({...FALCON, multi_query: false, num_kv_heads: 2}), loadError(/num_kv_heads 2 needs new_decoder_architecture=true/))
    assert.throws(() => parseModelConfig({...FALCON, new_decoder_architecture: true, num_kv_heads: 3}), loadError(/num_attention_heads \(4\) is not a multiple of num_kv_heads \(3\)/))
    const yarn = parseModelConfig({...FALCON, rope_scaling: {type: 'yarn', factor: 2}})
    assert.deepEqual(yarn.ropeScaling.type === 'yarn' && [yarn.ropeScaling.originalMaxPosition, yarn.ropeScaling.frequencyDivisors.length], [2048, yarn.headDim / 2])
    assert.throws(() => parseModelConfig({...FALCON, partial_rotary_factor: 0.5}), loadError(/partial_rotary_factor below 1 is not supported for FalconForCausalLM/))
    const dynamic = parseModelConfig({...FALCON, rope_theta: 5000, rope_scaling: {type: 'dynamic', factor: 2}})
    assert.deepEqual([dynamic.ropeScaling, dynamic.ropeTheta, dynamic.notes?.some((n) => /rope_scaling "dynamic"/.test(n))], [{type: 'none'}, 5000, true])
    assert.throws(() => parseModelConfig({...FALCON, rope_scaling: {type: 'linear'}}), loadError(/rope_scaling "linear" needs a positive "factor"/))
    assert.throws(() => parseModelConfig({...FALCON, alibi: 'yes'}), loadError(/"alibi" must be true or false/))
  })

  it('MPT as MptConfig reads it: d_model / n_heads / n_layers, expansion_ratio, no biases, ALiBi by alibi_bias_max, clip_qkv, softmax_scale; the rest of attn_config refused by key', () => {
    const c = parseModelConfig({...MPT, expansion_ratio: 2, attn_config: {clip_qkv: 8, softmax_scale: 0.25, alibi_bias_max: 16, attn_impl: 'triton'}})
    const ln = c.layerNorm!
    assert.deepEqual([c.intermediateSize, c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, c.attentionScale, ln.clipQkv, ln.normBias, ln.qkvBias, ln.outputBias, ln.mlpBias, ln.rotaryDim],
      [128, 'gelu', true, 2048, 0.25, 8, false, false, false, false, 0])
    assert.deepEqual(ln.alibiSlopes, mptAlibiSlopes(4, 16))
    assert.deepEqual([parseModelConfig(MPT).attentionScale, parseModelConfig(MPT).layerNorm!.clipQkv], [0, 0])
    // mosaicml/mpt-7b's config.json names MosaicML's class; its checkpoint keeps the same tensor names.
    const mosaic = parseModelConfig({...MPT, architectures: ['MPTForCausalLM']})
    assert.deepEqual([mosaic.architecture, mosaic.layerNorm], ['MPTForCausalLM', parseModelConfig(MPT).layerNorm])
    for (const [attn, pattern] of [[{qk_ln: true}, /attn_config\.qk_ln true is not supported/], [{prefix_lm: true}, /attn_config\.prefix_lm true is not supported/],
      [{attn_type: 'multiquery_attention'}, /attn_config\.attn_type "multiquery_attention" is not supported/], [{alibi: false}, /attn_config\.alibi false is not supported/],
      [{attn_uses_sequence_id: true}, /attn_config\.attn_uses_sequence_id true/], [{attn_impl: 'xformers'}, /attn_config\.attn_impl "xformers" is not supported/],
      [{clip_qkv: -1}, /"attn_config\.clip_qkv" must be a positive number or null, got -1/]] as const) {
      assert.throws(() => parseModelConfig({...MPT, attn_config: attn}), loadError(pattern))
    }
    assert.throws(() => parseModelConfig({...MPT, no_bias: false}), loadError(/no_bias=false is not supported for MptForCausalLM/))
    assert.throws(() => parseModelConfig({...MPT, logit_scale: 'inv_sqrt_d_model'}), loadError(/logit_scale "inv_sqrt_d_model" is not supported/))
    assert.throws(() => parseModelConfig({...MPT, norm_type: 'rmsnorm'}), loadError(/norm_type "rmsnorm" is not supported/))
    assert.throws(() => parseModelConfig({...MPT, attn_config: [1]}), loadError(/"attn_config" must be an object/))
  })
})

describe('BLOOM, Falcon, MPT checkpoints', () => {
  it('are read under their own names: BLOOM\'s embedding norm, Falcon\'s ln_attn / ln_mlp and grouped query_key_value, MPT\'s bias-free norms; a missing one named as stored', async () => {
    const falcon = await loadModel(await ensureTestModel('tiny', {variant: 'falcon'}))
    const qkv = falcon.tensors.find((t) => t.name === 'model.layers.0.self_attn.qkv_proj.weight')!
    assert.deepEqual([qkv.shape, qkv.qkvInterleavedHeads, qkv.qkvQueriesPerGroup], [[128, 64], 2, 2])
    const stored = readCheckpointTensors(falcon.dir)
    assert.throws(() => selectModelTensors(falcon.config, stored.filter((t) => t.name !== 'transformer.h.1.ln_mlp.bias'), falcon.dir),
      loadError(/Tensor transformer\.h\.1\.ln_mlp\.bias is missing from the checkpoint .*expected shape \[64\]/))
    const bloom = await loadModel(await ensureTestModel('tiny', {variant: 'bloom'}))
    assert.ok(bloom.tensors.some((t) => t.name === 'model.embed_norm.bias'))
    // bigscience/bloom-560m's files leave out the base model's prefix.
    const bare = selectModelTensors(bloom.config, readCheckpointTensors(bloom.dir).map((t) => ({...t, name: t.name.replace(/^transformer\./, '')})), bloom.dir)
    assert.deepEqual(bare.map((t) => t.name), bloom.tensors.map((t) => t.name))
    const mpt = await loadModel(await ensureTestModel('tiny', {variant: 'mpt'}))
    assert.ok(mpt.tensors.some((t) => t.name === 'model.layers.0.input_layernorm.weight') && !mpt.tensors.some((t) => t.name.endsWith('norm.bias')))
    assert.ok(!mpt.tensors.some((t) => t.name === 'lm_head.weight'))
    const mosaic = selectModelTensors({...mpt.config, architecture: 'MPTForCausalLM'}, readCheckpointTensors(mpt.dir), mpt.dir)
    assert.deepEqual(mosaic.map((t) => [t.name, t.offset]), mpt.tensors.map((t) => [t.name, t.offset]))
  })
})

describe('MPT as MosaicML\'s code saves it: expansion_ratio 2 and an MLP 2 x d_model wide', () => {
  it('loads at that width (transformers\' 4 x d_model rule would refuse it by shape) and matches the float64 reference', async () => {
    const source = await ensureTestModel('tiny', {variant: 'mpt'})
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-mpt-ratio-'))
    try {
      cpSync(source, dir, {recursive: true})
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {d_model: number}
      writeFileSync(join(dir, 'config.json'), JSON.stringify({...config, expansion_ratio: 2}))
      const width = 2 * config.d_model
      // The test model's 4 x d_model MLP cut to its first 2 x d_model units: up_proj's first rows, down_proj's first columns.
      const file = readFileSync(join(source, 'model.safetensors'))
      writeSafetensors(join(dir, 'model.safetensors'), readCheckpointTensors(source).map((tensor) => {
        const bytes = file.subarray(tensor.offset, tensor.offset + tensor.nbytes)
        const element = BYTES_PER_ELEMENT[tensor.dtype]
        if (tensor.name.endsWith('.ffn.up_proj.weight')) return {...tensor, shape: [width, tensor.shape[1]!], data: () => bytes.subarray(0, width * tensor.shape[1]! * element)}
        if (!tensor.name.endsWith('.ffn.down_proj.weight')) return {...tensor, data: () => bytes}
        const [rows, columns] = tensor.shape as [number, number]
        const rowBytes = (row: number) => bytes.subarray(row * columns * element, (row * columns + width) * element)
        return {...tensor, shape: [rows, width], data: () => Buffer.concat(Array.from({length: rows}, (_, row) => rowBytes(row)))}
      }))
      const model = await loadModel(dir)
      assert.deepEqual([model.config.intermediateSize, model.config.notes?.some((note) => /expansion_ratio/.test(note)) ?? false], [width, false])
      await checkAgainstReference('mpt', dir)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

const fixtureOf = (variant: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${variant}-tiny-transformers.json`), 'utf8')) as TransformersFixture

for (const variant of ALIBI_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it('logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
      await checkAgainstReference(variant)
    })

    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 last-position logits, 8 greedy tokens; portable and AVX2 attention`, async () => {
      const ops = nativeOps()
      const avx2 = ops.avx2Status()
      try {
        for (const useAvx2 of avx2.supported ? [false, true] : [false]) {
          ops.setAvx2(useAvx2)
          await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), fixtureOf(variant))
        }
      } finally {
        ops.setAvx2(avx2.enabled)
      }
    })
  })
}

describe('Falcon with linear rope scaling', () => {
  it('matches transformers 5.18 (test/fixtures/falcon-linear-rope-tiny-transformers.json: falcon-mq with rope_parameters linear, factor 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-falcon-linear-'))
    try {
      cpSync(await ensureTestModel('tiny', {variant: 'falcon-mq'}), dir, {recursive: true})
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
      writeFileSync(join(dir, 'config.json'), JSON.stringify({...config, rope_parameters: {rope_type: 'linear', factor: 2, rope_theta: 20000}}))
      const {config: parsed} = await loadModel(dir)
      assert.deepEqual([parsed.ropeScaling, parsed.ropeTheta], [{type: 'linear', factor: 2}, 20000])
      await checkDirAgainstTransformers(dir, fixtureOf('falcon-linear-rope'))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('BLOOM through the server', () => {
  it('/v1/completions gives transformers\' greedy tokens, whole and streamed', async () => {
    const fixture = fixtureOf('bloom')
    const {server, url} = await startTinyEngineServer({}, await ensureTestModel('tiny', {variant: 'bloom'}), {weightDtype: 'f32'})
    try {
      const request = {prompt: fixture.prompts.map((p) => p.prompt_token_ids), max_tokens: 8, temperature: 0, ignore_eos: true, return_token_ids: true}
      const whole = await postJson(`${url}/v1/completions`, request)
      assert.equal(whole.status, 200, whole.text)
      const choices: {index: number; token_ids: number[]}[] = whole.json.choices
      assert.deepEqual(choices.sort((a, b) => a.index - b.index).map((c) => c.token_ids), fixture.prompts.map((p) => p.greedy_token_ids))
      const events = sseEvents((await postJson(`${url}/v1/completions`, {...request, prompt: request.prompt[0], stream: true})).text)
      const streamed = events.filter((e) => e !== '[DONE]').flatMap((e) => e.choices.flatMap((c: {token_ids?: number[]}) => c.token_ids ?? []))
      assert.deepEqual(streamed, fixture.prompts[0]!.greedy_token_ids)
    } finally {
      await server.shutdown(1000)
    }
  })
})

describe('ALiBi in the engine', () => {
  it('BLOOM, Falcon and MPT run on CUDA (ALiBi in both attention kernels): nothing keeps them on the CPU, auto picks the GPU', () => {
    const cuda = {available: true, detail: 'GPU 0'}
    for (const variant of ALIBI_TEST_VARIANTS) {
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config: parseModelConfig(testModelConfigJson('tiny', {variant})), tensors: []})
      assert.equal(need, null, variant)
      assert.equal(selectDevice('auto', {cuda: true}, cuda, need).device, 'cuda')
    }
  })

  for (const variant of ['bloom', 'falcon-rw', 'mpt'] as const) {
    it(`${variant}: 4 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)`, async () => {
      await checkBatchInvariant(variant, {requests: 4, promptStep: 11, maxTokens: 10})
    })
  }

  it('falcon-rw: greedy tokens unchanged by n-gram speculation (multi-token verify rows) and by swap preemption in a pool too small for the batch', async () => {
    const modelPath = await ensureTestModel('tiny', {variant: 'falcon-rw'})
    // Repeating prompts, so the n-gram proposer finds drafts.
    const requests = Array.from({length: 4}, (_, i) => ({prompt: Array.from({length: 12 + 7 * i}, (_, t) => 1 + ((t % (3 + i)) * 41 + i) % 500),
      params: makeSamplingParams({temperature: 0, maxTokens: 24, ignoreEos: true})}))
    const run = async (overrides: Partial<EngineConfig>) => {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath, threads: 2, weightDtype: 'f32', batchInvariant: true, ...overrides}))
      try {
        const results = await engine.generate(requests)
        return {tokens: results.map((r) => r.outputs[0]!.tokenIds), preemptions: engine.stats().numPreemptions, accepted: engine.stats().specDecode.numAcceptedTokens}
      } finally {
        await engine.shutdown()
      }
    }
    const roomy = await run({kvMemoryBytes: 4 << 20})
    const speculative = await run({kvMemoryBytes: 4 << 20, speculative: makeSpeculativeConfig({method: 'ngram', numSpeculativeTokens: 3, ngramMin: 1})})
    const swapped = await run({numBlocks: 9, preemptionMode: 'swap', swapSpaceBytes: 4 << 20})
    assert.ok(swapped.preemptions > 0, 'the pool is small enough to preempt')
    assert.ok(speculative.accepted > 0, 'drafts were accepted')
    assert.deepEqual([speculative.tokens, swapped.tokens], [roomy.tokens, roomy.tokens])
  })

  it('mpt: a prompt whose first blocks come from the prefix cache gives the logprobs it gives computed cold', async () => {
    const prompt = Array.from({length: 40}, (_, t) => 1 + ((t * 53) % 500))
    const params = makeSamplingParams({temperature: 0, maxTokens: 6, ignoreEos: true, logprobs: 3})
    const run = async (enablePrefixCaching: boolean) => {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny', {variant: 'mpt'}), kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32',
        batchInvariant: true, enablePrefixCaching}))
      try {
        await engine.generate([{prompt: [...prompt.slice(0, 33), 7, 8], params}]) // fills two 16-token blocks of the shared prefix
        const [result] = await engine.generate([{prompt, params}])
        return {hits: engine.stats().prefixCacheHits, tokens: result!.outputs[0]!.tokenIds, logprobs: result!.outputs[0]!.logprobs}
      } finally {
        await engine.shutdown()
      }
    }
    const [cached, cold] = [await run(true), await run(false)]
    assert.deepEqual([cached.hits > 0, cold.hits], [true, 0])
    assert.deepEqual([cached.tokens, cached.logprobs], [cold.tokens, cold.logprobs])
  })
})
