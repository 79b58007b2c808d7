// vLLM's structural tags (response_format type "structural_tag", structured_outputs.structural_tag): free text until a
// trigger, then a whole tag (begin, JSON for its schema, end). A logit_bias on the trigger's first character makes a
// random-weight model open tags often; only the constraint can make their bodies valid.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {parseGuided} from '../src/server/guided-fields.js'
import {GuidedChecker, schemaErrors} from './support/guided-check.js'

const point = {type: 'object', properties: {x: {type: 'integer', minimum: -5, maximum: 5}, ok: {type: 'boolean'}}, required: ['x', 'ok'], additionalProperties: false}
const label = {type: 'object', properties: {name: {enum: ['a', 'b']}}, required: ['name'], additionalProperties: false}
const RESPONSE_FORMAT = {
  type: 'structural_tag',
  structures: [
    {begin: '<p>', schema: point, end: '</p>'},
    {begin: '<l>', schema: label, end: '</l>'},
  ],
  triggers: ['<'],
}

describe('structural tags', () => {
  it('both spellings give the same constraint; bad tags are 400s naming the field', () => {
    const viaFormat = parseGuided({response_format: RESPONSE_FORMAT})
    const {type: _type, ...tag} = RESPONSE_FORMAT
    const viaOutputs = parseGuided({structured_outputs: {structural_tag: JSON.stringify(tag)}})
    assert.equal(viaFormat?.kind, 'structural_tag')
    assert.deepEqual({...viaOutputs, param: ''}, {...viaFormat, param: ''})
    const bad: Array<[object, string]> = [
      [{response_format: {type: 'structural_tag', structures: 'x', triggers: ['<']}}, 'response_format'],
      [{response_format: {type: 'structural_tag', structures: [{begin: '<p>', schema: point}], triggers: ['<']}}, 'response_format'],
      [{response_format: {type: 'structural_tag', structures: [{begin: '<p>', schema: 5, end: '</p>'}], triggers: ['<']}}, 'response_format.structures[0].schema'],
      [{response_format: {type: 'structural_tag', structures: [], triggers: [1]}}, 'response_format'],
      [{structured_outputs: {structural_tag: '{not json'}}, 'structured_outputs.structural_tag'],
      [{structured_outputs: {structural_tag: {type: 'structural_tag', format: {type: 'any_text'}}}}, 'structured_outputs.structural_tag'],
      [{response_format: RESPONSE_FORMAT, guided_regex: 'a'}, 'guided_regex'],
    ]
    for (const [body, param] of bad) {
      assert.throws(
        () => parseGuided(body as never),
        (error: unknown) => error instanceof InvalidRequestError && error.param === param,
        JSON.stringify(body),
      )
    }
  })

  it('constrains generation: every tag a model opens closes with JSON its schema accepts, and bad tags are refused before queueing', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, device: 'cpu'}))
    try {
      const spec = parseGuided({response_format: RESPONSE_FORMAT, guided_whitespace_pattern: ''}) as GuidedSpec
      // The tokens that start with the trigger, with or without a word-start mark.
      const openers = Array.from({length: engine.model.config.vocabSize}, (_, id) => id).filter((id) => /^(\u2581)?</.test(engine.tokenizer.idToToken(id) ?? ''))
      assert.ok(openers.length > 0, 'some token of this vocabulary starts with the trigger')
      const logitBias = Object.fromEntries(openers.map((id) => [id, 15]))
      const params = makeSamplingParams({guided: spec, maxTokens: 60, temperature: 1, n: 4, seed: 9, logitBias})
      const [result] = await engine.generate([{prompt: 'Tags:', params}])
      const checker = new GuidedChecker(engine)
      let tags = 0
      for (const output of result!.outputs) {
        assert.equal(await checker.problem(spec, output), null)
        // Stated without the converter: every closed tag's body parses and validates.
        for (const match of output.text.matchAll(/<(p|l)>(.*?)<\/\1>/gs)) {
          assert.equal(schemaErrors(match[1] === 'p' ? point : label, JSON.parse(match[2]!)), null, match[0])
          tags++
        }
      }
      assert.ok(tags > 0, 'some tags closed, so their bodies were checked')
      assert.equal(engine.stats().kv.usedBlocks, 0)

      const neverWritten = parseGuided({response_format: {...RESPONSE_FORMAT, structures: [{begin: '[p]', schema: point, end: '[/p]'}]}}) as GuidedSpec
      await assert.rejects(
        engine.generate([{prompt: 'x', params: makeSamplingParams({guided: neverWritten, maxTokens: 4})}]),
        (error: unknown) => error instanceof InvalidRequestError && /starts with none of the triggers/.test(error.message),
      )
      const badSchema = parseGuided({response_format: {...RESPONSE_FORMAT, structures: [{begin: '<p>', schema: {type: 'object', patternProperties: {}}, end: '</p>'}]}}) as GuidedSpec
      await assert.rejects(engine.generate([{prompt: 'x', params: makeSamplingParams({guided: badSchema, maxTokens: 4})}]), /patternProperties/)
      assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
    } finally {
      await engine.shutdown()
    }
  })
})
