// More of transformers 5.18's decoder families on the CPU engine, each read as its config class reads config.json and
// its tiny model held to transformers (test/fixtures/<variant>-tiny-transformers.json: top-10 last-position logits
// within 1e-5 relative, greedy tokens equal): Emu3's language model (Emu3ForCausalLM).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {fixtureGreedyTokens, readTransformersFixture} from './support/transformers-fixture.js'
import {promptLogits} from './support/model-logits.js'
import {relativeError} from './support/relative-error.js'

/** The variant's tiny model against its fixture: the worst top-10 relative logit error (under 1e-5) and the engine's greedy tokens. */
async function checkAgainstFixture(variant: TestModelVariant): Promise<void> {
  const fixture = readTransformersFixture(variant)
  const dir = await ensureTestModel('tiny', {variant})
  const model = await loadModel(dir)
  const {logits} = await promptLogits(model, 'f32', fixture.prompts.map((p) => p.prompt_token_ids))
  const vocab = model.config.vocabSize
  let end = 0
  const errors = fixture.prompts.map((p) => {
    end += p.prompt_token_ids.length
    const last = logits.subarray((end - 1) * vocab, end * vocab)
    return relativeError(p.last_position_top10.ids.map((id) => last[id]!), p.last_position_top10.logits)
  })
  assert.ok(Math.max(...errors) < 1e-5, `${variant}: top-10 logits off by ${Math.max(...errors)} (relative)`)
  assert.deepEqual(await fixtureGreedyTokens(dir, fixture), fixture.prompts.map((p) => p.greedy_token_ids))
}

const refusedByKey = (json: Record<string, unknown>, key: string) => assert.throws(() => parseModelConfig(json), (error: Error) => error instanceof ModelLoadError && error.message.includes(`"${key}"`), key)

describe('Emu3ForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'emu3'}), ...extra})

  it('reads Emu3TextConfig: Llama\'s biases, its rope base 1e6, 9216 positions and eps 1e-5 by default', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.attentionBias, config.attentionOutputBias, config.mlpBias, config.ropeTheta, config.rmsNormEps], [true, true, true, 1e6, 1e-5])
    const {rms_norm_eps: _e, max_position_embeddings: _m, ...byDefault} = json()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.maxPositionEmbeddings, defaults.rmsNormEps, defaults.tieWordEmbeddings], [9216, 1e-5, false])
    refusedByKey(json({mlp_bias: 'yes'}), 'mlp_bias')
    refusedByKey(json({rope_parameters: {rope_type: 'default', rope_theta: -1}}), 'rope_theta')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('emu3')
  })
})
