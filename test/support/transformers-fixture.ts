// Holds a test model to what transformers 5.18 computed for it (test/fixtures/<variant>-tiny-transformers.json, written by scripts/transformers-fixture.py).
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {loadModel} from '../../src/engine/model/load-model.js'
import {promptLogits} from './model-logits.js'
import {ReferenceModel} from './reference-model.js'
import {relativeError} from './relative-error.js'
import {postJson} from './blackbox-checks.js'
import {startTinyEngineServer} from './server-harness.js'

export interface TransformersFixture {
  prompts: {prompt_token_ids: number[]; last_position_top10: {ids: number[]; logits: number[]}; greedy_token_ids: number[]}[]
}

export function readTransformersFixture(variant: TestModelVariant): TransformersFixture {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', `${variant}-tiny-transformers.json`), 'utf8')) as TransformersFixture
}

/** The engine's greedy tokens (CPU, f32) for each prompt of the fixture, as many as transformers generated. */
export async function fixtureGreedyTokens(modelPath: string, fixture: TransformersFixture): Promise<number[][]> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
  try {
    const results = await engine.generate(fixture.prompts.map((p) => ({prompt: p.prompt_token_ids, params: makeSamplingParams({temperature: 0, maxTokens: p.greedy_token_ids.length, ignoreEos: true})})))
    return results.map((r) => r.outputs[0]!.tokenIds)
  } finally {
    await engine.shutdown()
  }
}

/** The server's /v1/completions replies with transformers' 8 greedy tokens for every prompt of the variant's fixture. */
export async function checkServerAgainstTransformers(variant: TestModelVariant): Promise<void> {
  const {server, url} = await startTinyEngineServer({}, await ensureTestModel('tiny', {variant}), {weightDtype: 'f32'})
  try {
    for (const p of readTransformersFixture(variant).prompts) {
      const reply = await postJson(`${url}/v1/completions`, {prompt: p.prompt_token_ids, max_tokens: 8, temperature: 0, ignore_eos: true, return_token_ids: true})
      assert.equal(reply.status, 200, reply.text)
      assert.deepEqual(reply.json.choices[0].token_ids, p.greedy_token_ids)
    }
  } finally {
    await server.shutdown(1000)
  }
}

/** The float64 reference's top-10 last-position logits within 1e-4 of transformers', and the engine's 8 greedy tokens equal. */
export async function checkAgainstTransformers(variant: TestModelVariant): Promise<void> {
  const fixture = readTransformersFixture(variant)
  const dir = await ensureTestModel('tiny', {variant})
  const reference = await ReferenceModel.load(dir)
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})
    const results = await engine.generate(fixture.prompts.map((p) => ({prompt: p.prompt_token_ids, params})))
    fixture.prompts.forEach((p, i) => {
      const top = p.last_position_top10
      const ours = reference.nextLogits(p.prompt_token_ids)
      assert.ok(relativeError(top.ids.map((id) => ours[id]), top.logits) < 1e-4, `${variant} prompt ${i}: reference top-10 logits`)
      assert.deepEqual(results[i]!.outputs[0]!.tokenIds, p.greedy_token_ids, `${variant} prompt ${i}: the engine's greedy tokens`)
    })
  } finally {
    await engine.shutdown()
  }
}

/** A model directory on the CPU engine (f32): each prompt's last-position top-10 logits within 1e-4 of transformers', and its 8 greedy tokens equal. */
export async function checkDirAgainstTransformers(dir: string, fixture: TransformersFixture): Promise<void> {
  const prompts = fixture.prompts.map((p) => p.prompt_token_ids)
  const model = await loadModel(dir)
  const {logits} = await promptLogits(model, 'f32', prompts)
  const vocab = model.config.vocabSize
  let end = 0
  fixture.prompts.forEach((p, i) => {
    end += p.prompt_token_ids.length
    const last = logits.subarray((end - 1) * vocab, end * vocab)
    assert.ok(relativeError(p.last_position_top10.ids.map((id) => last[id]!), p.last_position_top10.logits) < 1e-4, `prompt ${i}: top-10 logits`)
  })
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})
    const results = await engine.generate(prompts.map((prompt) => ({prompt, params})))
    assert.deepEqual(results.map((r) => r.outputs[0]!.tokenIds), fixture.prompts.map((p) => p.greedy_token_ids))
  } finally {
    await engine.shutdown()
  }
}
