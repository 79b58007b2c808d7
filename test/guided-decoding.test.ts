// Guided decoding on a random-weight model: only the mask can make its output valid, so every output is checked.
//
// Finished outputs ("stop") must parse and validate (ajv for JSON schemas, the regex, the choices, the grammar);
// outputs cut by max_tokens must be a valid prefix, which a fresh xgrammar matcher confirms token by token.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {RequestOutput} from '../src/engine/request-output.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from './support/guided-check.js'
import {JSON_SCHEMA_CORPUS} from './support/json-schema-corpus.js'

let engine: LLMEngine
let checker: GuidedChecker

const json = (schema: Record<string, unknown>, i: number): GuidedSpec => ({kind: 'json', schema, anyWhitespace: false, param: `corpus[${i}]`})

/** Greedy, and two seeded samples: three outputs per spec. */
function variants(guided: GuidedSpec, maxTokens: number): SamplingParams[] {
  return [
    makeSamplingParams({guided, maxTokens, temperature: 0}),
    makeSamplingParams({guided, maxTokens, temperature: 1, n: 2, seed: 7}),
  ]
}

/** Every token valid for the grammar, and a finished output valid as a whole. */
async function assertValid(spec: GuidedSpec, output: RequestOutput['outputs'][number]): Promise<void> {
  const problem = await checker.problem(spec, output)
  assert.equal(problem, null, problem ?? '')
}

async function runSpecs(specs: GuidedSpec[], maxTokens: number): Promise<Array<{spec: GuidedSpec; output: RequestOutput['outputs'][number]}>> {
  const requests = specs.flatMap((spec) => variants(spec, maxTokens).map((params) => ({spec, params})))
  const results = await engine.generate(requests.map(({params}) => ({prompt: 'Answer in JSON:', params})))
  return results.flatMap((result, i) => result.outputs.map((output) => ({spec: requests[i]!.spec, output})))
}

describe('guided decoding (tiny random model)', () => {
  before(async () => {
    engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 512, blockSize: 16}))
    checker = new GuidedChecker(engine)
  })
  after(async () => {
    await engine.shutdown()
  })

  it(`keeps ${JSON_SCHEMA_CORPUS.length} JSON schemas: finished outputs validate, cut ones are valid prefixes`, async () => {
    assert.ok(JSON_SCHEMA_CORPUS.length >= 50)
    const outputs = await runSpecs(JSON_SCHEMA_CORPUS.map(json), 48)
    let stopped = 0
    for (const {spec, output} of outputs) {
      await assertValid(spec, output)
      if (output.finishReason === 'stop') stopped++
    }
    // Random weights still finish most small schemas; the validation above must have real work to do.
    assert.ok(stopped >= outputs.length / 2, `only ${stopped} of ${outputs.length} outputs finished`)
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })

  it('keeps regex, choice and EBNF grammar constraints', async () => {
    const regexes = ['[0-9]{3}-[a-z]{2}', '(yes|no)!', 'a+b?c{0,2}', '[A-Z][a-z]{1,3} [0-9]+\\.']
    const choices = [['alpha', 'beta', 'gamma delta'], ['1', '22', '333'], ['x']]
    const grammars = ['root ::= "(" num ("+" num)* ")"\nnum ::= [0-9]', 'root ::= ("ab" | "cd") [x-z]? "!"']
    const specs: GuidedSpec[] = [
      ...regexes.map((pattern, i): GuidedSpec => ({kind: 'regex', pattern, param: `regex[${i}]`})),
      ...choices.map((list, i): GuidedSpec => ({kind: 'choice', choices: list, param: `choice[${i}]`})),
      ...grammars.map((ebnf, i): GuidedSpec => ({kind: 'grammar', ebnf, param: `grammar[${i}]`})),
    ]
    const outputs = await runSpecs(specs, 24)
    let stopped = 0
    for (const {spec, output} of outputs) {
      await assertValid(spec, output)
      if (output.finishReason !== 'stop') continue
      stopped++
      // The grammars are regular here, so a regex states them independently of the matcher.
      if (spec.kind === 'grammar' && spec.param === 'grammar[1]') assert.match(output.text, /^(ab|cd)[x-z]?!$/)
      if (spec.kind === 'grammar' && spec.param === 'grammar[0]') assert.match(output.text, /^\([0-9](\+[0-9])*\)$/)
    }
    assert.ok(stopped >= outputs.length / 2, `only ${stopped} of ${outputs.length} outputs finished`)
  })

  it('gives each best_of fork its own matcher and survives recompute preemption', async () => {
    const small = await LLMEngine.create(
      makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 24, blockSize: 4, preemptionMode: 'recompute'}),
    )
    try {
      const spec = json({type: 'array', items: {type: 'integer', minimum: 0, maximum: 9}, minItems: 3, maxItems: 6}, 0)
      const params = makeSamplingParams({guided: spec, maxTokens: 12, temperature: 1, n: 2, bestOf: 3, seed: 3})
      const requests = Array.from({length: 4}, () => ({prompt: 'List:', params}))
      const results = await small.generate(requests)
      assert.ok(small.stats().numPreemptions > 0, 'the small pool must preempt')
      for (const output of results.flatMap((result) => result.outputs)) await assertValid(spec, output)
      assert.equal(small.stats().kv.usedBlocks, 0)
    } finally {
      await small.shutdown()
    }
  })

  it('allowed_token_ids and bad_words', async () => {
    const allowed = [40, 41, 42]
    const [only] = await engine.generate([{prompt: 'x', params: makeSamplingParams({allowedTokenIds: allowed, maxTokens: 12, temperature: 1, seed: 1, ignoreEos: true})}])
    assert.ok(only!.outputs[0]!.tokenIds.every((id) => allowed.includes(id)))
    // The words greedy decoding produces unconstrained are the ones to ban.
    const free = makeSamplingParams({maxTokens: 12, temperature: 0, ignoreEos: true})
    const [plain] = await engine.generate([{prompt: 'The sea', params: free}])
    const firstTokens = plain!.outputs[0]!.tokenIds.slice(0, 2)
    const word = engine.tokenizer.decode(firstTokens)
    const [banned] = await engine.generate([{prompt: 'The sea', params: makeSamplingParams({...free, badWords: [word.trim()]})}])
    const ids = banned!.outputs[0]!.tokenIds
    const bannedIds = engine.tokenizer.encode(word, {addSpecialTokens: false})
    const contains = ids.some((_, i) => bannedIds.every((id, j) => ids[i + j] === id))
    assert.ok(!contains, `${JSON.stringify(word)} still appears in ${JSON.stringify(banned!.outputs[0]!.text)}`)
  })

  it('ends a sequence whose allowed_token_ids share no token with what its grammar allows next', async () => {
    const digits = /^[0-9]$/
    const letters = Array.from({length: engine.tokenizer.vocabSize}, (_, id) => id).filter((id) => /^[a-z]+$/.test(engine.tokenizer.decode([id])))
    const eos = engine.model.generationConfig.eosTokenIds
    const guided: GuidedSpec = {kind: 'regex', pattern: '[0-9]+', param: 'guided_regex'}
    await engine.prepareRequest(makeSamplingParams({guided}))
    const [result] = await engine.generate([{prompt: 'x', params: makeSamplingParams({guided, allowedTokenIds: letters, maxTokens: 6, temperature: 1, seed: 2})}])
    const output = result!.outputs[0]!
    // Before, the empty mask let the sampler take token 0 (<unk>), outside both constraints.
    assert.ok(output.tokenIds.every((id) => eos.includes(id) || (letters.includes(id) && digits.test(engine.tokenizer.decode([id])))), JSON.stringify(output.tokenIds))
    assert.equal(output.finishReason, 'stop')
    assert.equal(output.text, '')
  })

  it('refuses a grammar with no way on (a cycle through anyOf inside an object) before queueing: no output could end', async () => {
    // Not a chain of bare $refs (those are refused by the schema checks); it compiles, but nothing finite fits '{"a":'.
    // The sampler's own net for a mask that allows nothing is the allowed_token_ids test above.
    const schema = {type: 'object', properties: {a: {$ref: '#/$defs/x'}}, required: ['a'], $defs: {x: {anyOf: [{$ref: '#/$defs/x'}]}}}
    const guided: GuidedSpec = {kind: 'json', schema, anyWhitespace: false, param: 'guided_json'}
    await assert.rejects(engine.prepareRequest(makeSamplingParams({guided})), (error: unknown) => error instanceof InvalidRequestError && error.code === 'empty_grammar' && /no output that ends/.test(error.message))
  })

  it('rejects unsupported keywords and bad grammars before queueing, naming the field', async () => {
    const bad: Array<[GuidedSpec, RegExp]> = [
      [{kind: 'json', schema: {type: 'object', patternProperties: {'^a': {type: 'string'}}}, anyWhitespace: true, param: 'response_format'}, /patternProperties/],
      [{kind: 'json', schema: {type: 'array', uniqueItems: true}, anyWhitespace: true, param: 'guided_json'}, /uniqueItems/],
      [{kind: 'json', schema: {type: 'object', properties: {x: {type: 'number', multipleOf: 0.5}}}, anyWhitespace: true, param: 'guided_json'}, /multipleOf/],
      [{kind: 'json', schema: {type: 'string', exclusiveMinimum: 0}, anyWhitespace: true, param: 'guided_json'}, /exclusiveMinimum.*integer or number/],
      [{kind: 'json', schema: {type: 'number', minimum: 1.5, exclusiveMaximum: 1.5}, anyWhitespace: true, param: 'guided_json'}, /no number satisfies/],
      [{kind: 'json', schema: {type: 'integer', minimum: 1.2, maximum: 1.8}, anyWhitespace: true, param: 'guided_json'}, /no integer satisfies/],
      [{kind: 'json', schema: {type: 'string', format: 'email', maxLength: 9}, anyWhitespace: true, param: 'guided_json'}, /maxLength.*pattern or format/],
      [{kind: 'json', schema: {type: 'string', format: 'credit-card'}, anyWhitespace: true, param: 'guided_json'}, /credit-card/],
      [{kind: 'json', schema: {$ref: '#/$defs/missing'}, anyWhitespace: true, param: 'guided_json'}, /missing|\$defs/],
      [{kind: 'grammar', ebnf: 'root ::= "a" |', param: 'guided_grammar'}, /EBNF/],
    ]
    for (const [spec, message] of bad) {
      await assert.rejects(engine.prepareRequest(makeSamplingParams({guided: spec})), (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError)
        assert.equal(error.param, spec.param)
        assert.match(error.message, message)
        return true
      })
    }
    const unprepared = makeSamplingParams({guided: json({type: 'object', properties: {zz: {type: 'null'}}}, 99)})
    assert.throws(() => engine.addRequest({prompt: 'x', params: unprepared}), InvalidRequestError)
    assert.throws(() => makeSamplingParams({guided: unprepared.guided, useBeamSearch: true, n: 2}), /beam search/)
  })

  it('input that would overflow xgrammar is refused, and a trap that corrupts it costs a fresh worker, not later requests', async () => {
    let nested: Record<string, unknown> = {type: 'string'}
    for (let i = 0; i < 40; i++) nested = {type: 'object', properties: {a: nested}, required: ['a']}
    const tooDeep: GuidedSpec[] = [
      json(nested, 90),
      {kind: 'regex', pattern: `${'('.repeat(100)}a${')'.repeat(100)}`, param: 'guided_regex'},
      {kind: 'grammar', ebnf: `root ::= ${'('.repeat(100)}"a"${')'.repeat(100)}`, param: 'guided_grammar'},
    ]
    for (const spec of tooDeep) await assert.rejects(engine.prepareRequest(makeSamplingParams({guided: spec})), /nests? deeper/)
    // A chain of 100 $refs passes the checks, and its abort leaves xgrammar's instance unable to compile anything.
    const defs: Record<string, unknown> = {}
    for (let i = 0; i < 100; i++) defs[`d${i}`] = i === 99 ? {type: 'string'} : {type: 'object', properties: {a: {$ref: `#/$defs/d${i + 1}`}}, required: ['a']}
    await assert.rejects(engine.prepareRequest(makeSamplingParams({guided: json({$defs: defs, $ref: '#/$defs/d0'}, 91)})), InvalidRequestError)
    const after = json({type: 'object', properties: {ok: {type: 'boolean'}}, required: ['ok'], additionalProperties: false}, 92)
    const params = makeSamplingParams({guided: after, maxTokens: 12, temperature: 0})
    await engine.prepareRequest(params)
    const [output] = await engine.generate([{prompt: 'x', params}])
    assert.match(output!.outputs[0]!.text, /^\{"ok":(true|false)\}$/)
  })
})
