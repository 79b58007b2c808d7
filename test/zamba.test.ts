// Zamba (v1, ZambaForCausalLM): Zamba2's layout over Mamba-1 mixers of several heads (each its own x_proj and
// dt_proj), one shared rope-free transformer block with gate_proj / up_proj apart and no adapters. The config keys and
// refusals, the tiny model against transformers 5.18 (test/fixtures/zamba-tiny-transformers.json), and the engine's
// state slots under it: chunked prefill and preemption in a tiny KV pool give the same tokens as alone.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {loadNativeModel} from '../src/engine/native.js'
import {TestBlockPool, TestSequence, buildStep} from './support/paged-batch.js'
import {relativeError} from './support/relative-error.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const fixture = readTransformersFixture('zamba')
const configJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'zamba'}), ...extra})

/** Greedy tokens of `prompts` through the engine with these settings; checks slots and blocks come back. */
async function engineRun(overrides: Partial<EngineConfig>, prompts: number[][]) {
  const {outputs, preemptions} = await tinyEngineRun('zamba', prompts, greedyParams(), overrides)
  return {tokens: outputs.map((o) => o[0]!), preemptions}
}

describe('Zamba', () => {
  it('reads the layer types, the shared block\'s uses, the attention and the Mamba heads; refuses what it cannot run, naming the key', () => {
    const config = parseModelConfig(configJson())
    const z = config.hybrid?.zamba2
    assert.deepEqual([config.hybrid?.linearLayers, z?.sharedBlocks, z?.numMemBlocks, z?.adapterRank, z?.rope, z?.gateUpApart], [[true, true, true, true, true], [-1, 0, -1, 0, -1], 1, 0, false, true])
    const m = config.hybrid?.mamba1
    assert.deepEqual([m?.innerSize, m?.heads, m?.stateSize, m?.dtRank, m?.convKernel, m?.convBias, m?.dtBcNorm, m?.noMlp], [128, 2, 8, 4, 4, true, 'none', true])
    assert.deepEqual([config.headDim, config.numKvHeads, config.intermediateSize, config.hiddenAct, config.attentionScale, config.tieWordEmbeddings], [32, 2, 96, 'gelu', 0.25, true])
    // ZambaConfig's default layout: two mixers, a hybrid, then every attn_layer_period-th from attn_layer_offset.
    const {layers_block_type: _types, ...noTypes} = configJson()
    assert.deepEqual(parseModelConfig({...noTypes, num_hidden_layers: 9, attn_layer_period: 3, attn_layer_offset: 1}).hybrid?.zamba2?.sharedBlocks, [-1, -1, 0, -1, 0, -1, -1, 0, -1])
    assert.equal(parseModelConfig(configJson({attention_head_dim: 16})).headDim, 16)
    assert.throws(() => parseModelConfig(configJson({mamba_proj_bias: true})), /"mamba_proj_bias" true .* is not supported for ZambaForCausalLM/)
    assert.throws(() => parseModelConfig(configJson({hidden_mamba_act: 'gelu'})), /"hidden_mamba_act" "gelu" is not supported/)
    assert.throws(() => parseModelConfig(configJson({tie_word_embeddings: false})), /"tie_word_embeddings" false .* unties the shared block's uses/)
    assert.throws(() => parseModelConfig(configJson({attention_hidden_size: 64})), /"attention_hidden_size" 64 is not supported/)
    assert.throws(() => parseModelConfig(configJson({n_mamba_heads: 3})), /"n_mamba_heads" 3 must divide mamba_expand x hidden_size \(128\)/)
    assert.throws(() => parseModelConfig(configJson({mamba_conv_bias: 'yes'})), /"mamba_conv_bias" must be true or false, got "yes"/)
    assert.throws(() => parseModelConfig(configJson({mamba_dt_rank: 0})), /"mamba_dt_rank" must be a positive integer, got 0/)
    assert.throws(() => parseModelConfig(configJson({layers_block_type: ['mamba', 'hybrid']})), /"layers_block_type" must list/)
    assert.throws(() => parseModelConfig(configJson({layers_block_type: Array(5).fill('mamba')})), /"layers_block_type" has no "hybrid" layer/)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /CPU kernels only/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5 (as one batch on state slots 2, 0, 3), greedy tokens equal', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'zamba'}))
    const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: 4, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu', numStateSlots: 4})
    try {
      const parts = fixture.prompts.map((p) => ({sequence: new TestSequence(p.prompt_token_ids), count: p.prompt_token_ids.length, logits: 'last' as const}))
      const logits = await native.step({}, {...buildStep(parts, new TestBlockPool(64), 4).batch, stateSlots: Int32Array.from([2, 0, 3])})
      fixture.prompts.forEach((p, i) => {
        const row = logits.subarray(i * model.config.vocabSize, (i + 1) * model.config.vocabSize)
        assert.ok(relativeError(p.last_position_top10.ids.map((id) => row[id]!), p.last_position_top10.logits) < 1e-5, `prompt ${i}`)
      })
    } finally {
      native.close()
    }
    assert.deepEqual((await engineRun({}, fixture.prompts.map((p) => p.prompt_token_ids))).tokens, fixture.prompts.map((p) => p.greedy_token_ids))
  })

  it('prefill in chunks of 3, and preempted in a tiny KV pool (recomputed), each request gets its tokens from alone', async () => {
    const expected = fixture.prompts
    assert.deepEqual((await engineRun({enableChunkedPrefill: true, maxNumBatchedTokens: 3}, expected.map((p) => p.prompt_token_ids))).tokens, expected.map((p) => p.greedy_token_ids))
    const order = [0, 1, 0, 1, 0, 1]
    const {tokens, preemptions} = await engineRun({numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined}, order.map((i) => expected[i]!.prompt_token_ids))
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => expected[i]!.greedy_token_ids))
  })

  it('a mixer tensor of the wrong per-head shape is named as the checkpoint holds it', async () => {
    const source = await ensureTestModel('tiny', {variant: 'zamba'})
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-zamba-'))
    try {
      cpSync(source, dir, {recursive: true})
      // Layer 3's A_log ([2 heads, 64, 8]) as 4 heads of 32: the same bytes, read flat they would pass unseen.
      const file = readFileSync(join(source, 'model.safetensors'))
      writeSafetensors(join(dir, 'model.safetensors'), readCheckpointTensors(source).map((tensor) => {
        const data = () => file.subarray(tensor.offset, tensor.offset + tensor.nbytes)
        return tensor.name === 'model.layers.3.mamba_decoder.mamba.A_log' ? {...tensor, shape: [4, 32, 8], data} : {...tensor, data}
      }))
      await assert.rejects(loadModel(dir), /Tensor model\.layers\.3\.mamba_decoder\.mamba\.A_log has shape \[4, 32, 8\], but config\.json implies \[128, 8\]/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
