// Llama 4 text (Llama4ForCausalLM, and Llama4ForConditionalGeneration's language model): its config read as transformers
// 5.18's Llama4TextConfig reads it (what the kernels lack refused by key), and a tiny seeded model (a dense and a sparse
// layer, a NoPE layer, chunks of 8 shorter than the prompts, temperature tuning on) held to transformers' logits and
// greedy tokens (test/fixtures/llama4-tiny-transformers.json, scripts/transformers-fixture.py) through the engine and the server.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {llamaGgufBytes, SMALL_GGUF_SHAPE} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {checkDirAgainstTransformers, checkServerAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const TEXT = {architectures: ['Llama4ForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, intermediate_size_mlp: 96, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16}

describe('Llama 4 config', () => {
  it('as Llama4TextConfig reads it: every 4th layer NoPE and global, the others rope in chunks of 8192; every layer sparse with a shared expert; dense layers intermediate_size_mlp wide', () => {
    const c = parseModelConfig(TEXT)
    assert.deepEqual(c.llama4, {ropeLayers: [true, true, true, false], chunkedAttention: true, ropeLayerQkNorm: true, attnTemperatureScale: 0.1, attnFloorScale: 8192})
    assert.deepEqual([c.layerWindows, c.intermediateSize, c.numKvHeads, c.ropeTheta, c.rmsNormEps, c.maxPositionEmbeddings, c.tieWordEmbeddings, c.bosTokenId, c.eosTokenIds], [[8192, 8192, 8192, 0], 96, 2, 500000, 1e-5, 131072, false, 1, [2]])
    const moe = c.moe!
    assert.deepEqual([moe.numExperts, moe.numExpertsPerToken, moe.expertIntermediateSize, moe.sharedExpertIntermediateSize, moe.ungatedSharedExpert, moe.inputScaledExperts, moe.normTopkProb, moe.sparseLayers],
      [16, 1, 32, 32, true, true, false, [true, true, true, true]])
    // Maverick's layout: every other layer sparse, explicit NoPE layers, no q/k norm, tuning off.
    const maverick = parseModelConfig({...TEXT, interleave_moe_layer_step: 2, no_rope_layers: [1, 0, 1, 1], use_qk_norm: false, attn_temperature_tuning: false, attention_chunk_size: 16})
    assert.deepEqual([maverick.moe!.sparseLayers, maverick.llama4!.ropeLayers, maverick.layerWindows, maverick.llama4!.ropeLayerQkNorm, maverick.llama4!.attnTemperatureScale], [[false, true, false, true], [true, false, true, true], [16, 0, 16, 16], false, 0])
    assert.deepEqual(parseModelConfig({...TEXT, moe_layers: [0, 3]}).moe!.sparseLayers, [true, false, false, true])
    // Meta's Scout and Maverick configs write attn_temperature_tuning 4, a switch to transformers 4.51.
    assert.deepEqual([4, 0].map((tuning) => parseModelConfig({...TEXT, attn_temperature_tuning: tuning}).llama4!.attnTemperatureScale), [0.1, 0])
    // layer_types, when given, picks the chunked layers apart from the rope ones.
    assert.deepEqual(parseModelConfig({...TEXT, layer_types: ['full_attention', 'chunked_attention', 'full_attention', 'full_attention']}).layerWindows, [0, 8192, 0, 0])
    assert.equal(parseModelConfig({...TEXT, no_rope_layers: [0, 0, 0, 0]}).layerWindows, undefined)
  })

  it('reads Llama4ForConditionalGeneration\'s text_config and leaves the vision tower out', () => {
    const c = parseModelConfig({architectures: ['Llama4ForConditionalGeneration'], text_config: {...TEXT, architectures: undefined}, vision_config: {hidden_size: 88}, torch_dtype: 'bfloat16'})
    assert.deepEqual([c.architecture, c.torchDtype, c.hiddenSize, c.llama4!.ropeLayers], ['Llama4ForCausalLM', 'bfloat16', 64, [true, true, true, false]])
    assert.match(c.notes!.join('\n'), /Llama4ForConditionalGeneration: its language model runs text only/)
    assert.throws(() => parseModelConfig({architectures: ['Llama4ForConditionalGeneration']}), loadError(/needs a "text_config" object/))
  })

  it('refuses what transformers would not run, by key, and llama.cpp\'s llama4 files; runs on the CPU only, saying why', async () => {
    assert.throws(() => parseModelConfig({...TEXT, attention_chunk_size: null}), loadError(/"attention_chunk_size" must be a positive integer, got null/))
    assert.throws(() => parseModelConfig({...TEXT, no_rope_layers: [1, 0]}), loadError(/"no_rope_layers" must list 1 \(rope\) or 0 \(no rope\) for each of the 4 layers/))
    assert.throws(() => parseModelConfig({...TEXT, moe_layers: 'all'}), loadError(/"moe_layers" must be a list of layer indices/))
    assert.throws(() => parseModelConfig({...TEXT, interleave_moe_layer_step: 0}), loadError(/"interleave_moe_layer_step" must be a positive integer, got 0/))
    assert.throws(() => parseModelConfig({...TEXT, use_qk_norm: 'yes'}), loadError(/"use_qk_norm" must be true or false, got "yes"/))
    assert.throws(() => parseModelConfig({...TEXT, attn_temperature_tuning: 'on'}), loadError(/"attn_temperature_tuning" must be true or false, got "on"/))
    assert.throws(() => parseModelConfig({...TEXT, intermediate_size_mlp: '96'}), loadError(/"intermediate_size_mlp" must be a positive integer, got "96"/))
    assert.throws(() => parseModelConfig({...TEXT, floor_scale: 0}), loadError(/"floor_scale" must be a positive integer, got 0/))
    assert.throws(() => parseModelConfig({...TEXT, layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'full_attention']}), loadError(/"layer_types" must list "chunked_attention" or "full_attention"/))
    const gguf = join(mkdtempSync(join(tmpdir(), 'pagedllm-llama4-')), 'llama4.gguf')
    writeFileSync(gguf, llamaGgufBytes(SMALL_GGUF_SHAPE, {metadata: {'general.architecture': {type: 'string', value: 'llama4'}}}))
    // llama4 files load (gguf-hybrid.test.ts); one holding llama's keys lacks llama4's.
    await assert.rejects(loadModel(gguf), loadError(/GGUF metadata llama4\.\S+ is missing/))
    rmSync(dirname(gguf), {recursive: true, force: true})
    const need = cpuOnlyNeed({}, {config: parseModelConfig(TEXT), tensors: []})
    assert.match(need!.reason, /Llama4ForCausalLM \(NoPE layers' query temperature, chunked attention, .* CPU kernels only\)/)
  })
})

describe('Llama 4 tiny model against transformers 5.18', () => {
  it('top-10 logits and greedy tokens through the engine equal transformers\' (MoE and dense layers, a NoPE layer, chunks of 8)', async () => {
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'llama4'}), readTransformersFixture('llama4'))
  })

  it('the server replies with transformers\' greedy tokens', async () => {
    await checkServerAgainstTransformers('llama4')
  })

  it('a Llama4ForConditionalGeneration checkpoint (language_model.* tensors, a vision tensor) gives the text model\'s logits', async () => {
    const text = await ensureTestModel('tiny', {variant: 'llama4'})
    // transformers 4's layout: language_model.model.* and language_model.lm_head.*.
    await withCopy(text, (config) => ({architectures: ['Llama4ForConditionalGeneration'], text_config: config, vision_config: {}, torch_dtype: 'float32'}), (name) => `language_model.${name}`, async (dir) => {
      const prompts = [readTransformersFixture('llama4').prompts[0]!.prompt_token_ids]
      const [ours, theirs] = [await promptLogits(await loadModel(dir), 'f32', prompts), await promptLogits(await loadModel(text), 'f32', prompts)]
      assert.equal(maxAbsDifference(ours.logits, theirs.logits), 0)
    })
  })

  it('a missing tensor is named as the checkpoint stores it', async () => {
    const hide = (name: string) => (name === 'model.layers.1.feed_forward.router.weight' ? 'model.layers.1.feed_forward.router.unused' : name)
    await withCopy(await ensureTestModel('tiny', {variant: 'llama4'}), (config) => config, hide, async (dir) => {
      await assert.rejects(loadModel(dir), loadError(/Tensor model\.layers\.1\.feed_forward\.router\.weight is missing from the checkpoint/))
    })
  })

  it('every layer chunked (no NoPE layer): blocks behind a window of the chunk are released, tokens and logprobs unchanged', async () => {
    await withCopy(await ensureTestModel('tiny', {variant: 'llama4'}), (config) => ({...config, no_rope_layers: [1, 1, 1]}), (name) => name, async (modelPath) => {
      const run = async (overrides: Partial<EngineConfig>) => {
        const engine = await LLMEngine.create(makeEngineConfig({
          modelPath, threads: 2, weightDtype: 'f32', blockSize: 4, numBlocks: 64, maxModelLen: 128, maxNumBatchedTokens: 12, enableChunkedPrefill: true, ...overrides,
        }))
        try {
          let peak = 0
          engine.onStep((stats) => (peak = Math.max(peak, stats.kv.usedBlocks)))
          const [result] = await engine.generate([{prompt: Array.from({length: 45}, (_, i) => 1 + ((i * 53) % 400)), params: makeSamplingParams({temperature: 0, maxTokens: 20, ignoreEos: true, logprobs: 2})}])
          const {tokenIds, logprobs} = result!.outputs[0]!
          return {tokenIds, logprobs, peak}
        } finally {
          await engine.shutdown()
        }
      }
      const [kept, released] = [await run({releaseWindowBlocks: false}), await run({})]
      assert.deepEqual([released.tokenIds, released.logprobs], [kept.tokenIds, kept.logprobs])
      assert.ok(released.peak < kept.peak / 2, `peak blocks ${released.peak} released vs ${kept.peak} kept`)
    })
  })
})

/** Runs `body` on a copy of a test model with its config.json and tensor names rewritten. */
async function withCopy(source: string, config: (json: Record<string, unknown>) => Record<string, unknown>, rename: (name: string) => string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-llama4-'))
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config(JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>)))
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) writeFileSync(join(dir, file), readFileSync(join(source, file)))
    const bytes = readFileSync(join(source, 'model.safetensors'))
    const tensors = readCheckpointTensors(source).map((t) => ({name: rename(t.name), dtype: 'F32' as const, shape: t.shape, data: () => bytes.subarray(t.offset, t.offset + t.nbytes)}))
    // A vision tower's tensor the loader leaves unread.
    writeSafetensors(join(dir, 'model.safetensors'), [...tensors, {name: 'vision_model.patch_embedding.linear.weight', dtype: 'F32', shape: [4, 4], data: () => new Uint8Array(64)}], {format: 'pt'})
    await body(dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
