// Guided decoding under every KV policy and on the built-in trained model: the mask holds whatever allocates the blocks.
//
// The reserving policies (contiguous, Orca variants) hold a sequence's blocks up front and speculation or best_of forks
// change how they are used; tinychat is a trained chat model whose own preferences fight the grammar. Every output is
// checked token by token against a fresh matcher and, when finished, validated as a whole (test/support/guided-check.ts).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {KV_POLICIES, makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from './support/guided-check.js'
import {JSON_SCHEMA_CORPUS} from './support/json-schema-corpus.js'

const json = (index: number, anyWhitespace = false): GuidedSpec => ({kind: 'json', schema: JSON_SCHEMA_CORPUS[index]!, anyWhitespace, param: `corpus[${index}]`})

/** Runs every (spec, params) pair in one batch; every output must be valid for its spec and every block come back. */
async function checkAll(config: Partial<EngineConfig> & {modelPath: string}, runs: Array<{spec: GuidedSpec; params: SamplingParams}>, prompt: string) {
  const engine = await LLMEngine.create(makeEngineConfig({threads: 1, device: 'cpu', ...config}))
  try {
    const checker = new GuidedChecker(engine)
    const results = await engine.generate(runs.map(({params}) => ({prompt, params})))
    let finished = 0
    for (const [i, result] of results.entries()) {
      for (const output of result.outputs) {
        const problem = await checker.problem(runs[i]!.spec, output)
        assert.equal(problem, null, `${runs[i]!.spec.param} (${JSON.stringify(runs[i]!.params.seed)}): ${problem}`)
        if (output.finishReason === 'stop') finished++
      }
    }
    engine.checkKvInvariants()
    assert.equal(engine.stats().kv.usedBlocks, 0, 'every block is back')
    return finished
  } finally {
    await engine.shutdown()
  }
}

describe('guided decoding under every KV policy', () => {
  for (const policy of KV_POLICIES) {
    it(`${policy}: greedy, seeded n = 2, best_of 3 and streaming-sized outputs all keep their schemas`, async () => {
      const specs = [json(0), json(7), json(20, true), json(33), {kind: 'regex', pattern: '[a-z]{2,5}@[a-z]{3}\\.(com|org)', param: 'regex'} as GuidedSpec]
      const runs = specs.flatMap((spec) => [
        {spec, params: makeSamplingParams({guided: spec, maxTokens: 40, temperature: 0})},
        {spec, params: makeSamplingParams({guided: spec, maxTokens: 40, temperature: 1, n: 2, seed: 11})},
        {spec, params: makeSamplingParams({guided: spec, maxTokens: 40, temperature: 0.8, n: 1, bestOf: 3, seed: 5})},
      ])
      const finished = await checkAll({modelPath: await ensureTestModel('tiny'), policy, numBlocks: 256, blockSize: 8}, runs, 'JSON:')
      assert.ok(finished > 0, 'some outputs finish, so whole-output validation ran')
    })
  }
})

describe('guided decoding with other tokenizer families', () => {
  // Byte-level BPE vocabularies (Llama 3, Qwen2: GPT-2 style bytes-to-unicode tokens) reach xgrammar as raw bytes too.
  for (const variant of ['llama3', 'qwen2'] as const) {
    it(`${variant}: JSON schemas and a regex hold, token by token`, async () => {
      const specs = [json(3), json(12, true), json(41), {kind: 'regex', pattern: '\\{"k": [0-9]{1,3}\\}', param: 'regex'} as GuidedSpec]
      const runs = specs.flatMap((spec) => [
        {spec, params: makeSamplingParams({guided: spec, maxTokens: 40, temperature: 0})},
        {spec, params: makeSamplingParams({guided: spec, maxTokens: 40, temperature: 1, n: 2, seed: 2})},
      ])
      const finished = await checkAll({modelPath: await ensureTestModel('tiny', {variant})}, runs, 'JSON:')
      assert.ok(finished > 0, 'some outputs finish, so whole-output validation ran')
    })
  }
})

describe('guided decoding on the built-in tinychat model', () => {
  it('a trained model keeps 12 corpus schemas (greedy and seeded), finished outputs validate', async () => {
    const specs = Array.from({length: 12}, (_, k) => json((k * 5) % JSON_SCHEMA_CORPUS.length, k % 2 === 1))
    const runs = specs.flatMap((spec) => [
      {spec, params: makeSamplingParams({guided: spec, maxTokens: 64, temperature: 0})},
      {spec, params: makeSamplingParams({guided: spec, maxTokens: 64, temperature: 0.7, seed: 3})},
    ])
    const finished = await checkAll({modelPath: BUILTIN_MODEL_DIR, numBlocks: 512, blockSize: 16}, runs, 'Reply with JSON only.')
    assert.ok(finished >= runs.length / 3, `only ${finished} of ${runs.length} outputs finished`)
  })
})
