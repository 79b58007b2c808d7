// LayerNorm-family decoders added to the CPU engine: CodeGen (CodeGenForCausalLM), its config keys and refusals, and the
// tiny model against transformers 5.18 (test/fixtures/codegen-tiny-transformers.json).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {promptLogits} from './support/model-logits.js'
import {relativeError} from './support/relative-error.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

/** The largest relative error (max |diff| / max |logit|) of the engine's top-10 last-position logits against transformers', over the fixture's prompts. */
async function topLogitError(variant: TestModelVariant): Promise<number> {
  const fixture = readTransformersFixture(variant)
  const model = await loadModel(await ensureTestModel('tiny', {variant}))
  const {logits} = await promptLogits(model, 'f32', fixture.prompts.map((p) => p.prompt_token_ids))
  const vocab = model.config.vocabSize
  let end = 0
  return Math.max(...fixture.prompts.map((p) => {
    end += p.prompt_token_ids.length
    const last = logits.subarray((end - 1) * vocab, end * vocab)
    return relativeError(p.last_position_top10.ids.map((id) => last[id]!), p.last_position_top10.logits)
  }))
}

const codegenJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'codegen'}), ...extra})

describe('CodeGen', () => {
  it('reads CodeGenConfig: GPT-J\'s parallel block, qkv_proj\'s 4 blocks of [q | v | k], rotary_dim, and its defaults', () => {
    const config = parseModelConfig(codegenJson())
    assert.deepEqual([config.architecture, config.numHeads, config.headDim, config.intermediateSize, config.maxPositionEmbeddings], ['CodeGenForCausalLM', 8, 8, 128, 512])
    const ln = config.layerNorm!
    assert.deepEqual([ln.rotaryDim, ln.interleavedRotary, ln.parallelResidual, ln.sharedNorm, ln.headBias, ln.qkvBias, ln.outputBias, ln.mlpBias], [4, true, true, true, true, false, false, true])
    assert.deepEqual([ln.qkvGroups, ln.qkvValueFirst], [{groups: 4, queriesPerGroup: 1}, true])
    // CodeGenConfig's defaults: the 6B's sizes, rotary_dim 64, n_inner 4 * n_embd, gelu_new, untied.
    const defaults = parseModelConfig({architectures: ['CodeGenForCausalLM']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.layerNorm?.rotaryDim, defaults.hiddenAct, defaults.tieWordEmbeddings],
      [50400, 4096, 28, 16, 16384, 2048, 64, 'gelu_pytorch_tanh', false])
    assert.throws(() => parseModelConfig(codegenJson({n_head: 2, n_embd: 32})), loadError(/"n_head" 2 must be a multiple of 4 for CodeGenForCausalLM/))
    assert.throws(() => parseModelConfig(codegenJson({n_head: 12})), loadError(/"n_embd" 64 is not divisible by "n_head" 12/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: null})), loadError(/"rotary_dim" null is not supported for CodeGenForCausalLM/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: 10})), loadError(/"rotary_dim" 10 must be even and at most the head size 8/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: 3})), loadError(/"rotary_dim" 3 must be even/))
    assert.throws(() => parseModelConfig(codegenJson({activation_function: 'swish2'})), loadError(/activation_function/))
    assert.throws(() => parseModelConfig(codegenJson({tie_word_embeddings: 'no'})), loadError(/"tie_word_embeddings" must be true or false/))
  })

  it('loads qkv_proj whole, regrouped from its model-parallel blocks with q and k rows in rotate_half order', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'codegen'}))
    const qkv = model.tensors.find((t) => t.name === 'model.layers.0.self_attn.qkv_proj.weight')!
    assert.deepEqual([qkv.shape, qkv.qkvInterleavedHeads, qkv.qkvQueriesPerGroup, qkv.qkvValueFirst, qkv.ropeInterleavedHeads, qkv.ropeInterleavedDims, qkv.ropeInterleavedRows],
      [[192, 64], 4, 1, true, 16, 4, 128])
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('codegen') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'codegen'}), readTransformersFixture('codegen'))
  })
})
