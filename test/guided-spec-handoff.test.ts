// A guided spec in a big body is checked and keyed in the tokenizer worker that parsed it; the event loop adopts the
// result (its checks' refusal included, thrown where it threw its own) instead of rebuilding and walking the spec.
import assert from 'node:assert/strict'
import {createHash, randomUUID} from 'node:crypto'
import {after, describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {keyOfRef} from '../src/engine/guided/grammar-ref.js'
import {GrammarService} from '../src/engine/guided/grammar-service.js'
import {checkGuidedSpec, grammarRefOf, type GuidedSpec, isSettled} from '../src/engine/guided/guided-spec.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import type {ChatCompletionRequest} from '../src/server/chat-request.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'

const CHECKS = {modelName: 'served', contentFormat: 'auto', storeOn: false} as const
const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
const workers = new TokenizerWorkers(BUILTIN_MODEL_DIR, 2048, 1, tokenizer)
after(() => workers.close())

/** An `anyOf` of one-property objects, new to this process (its names carry a fresh id); 3,000 pass the 64 KB a body needs to go to a worker. */
function freshSchema(last?: Record<string, unknown>, count = 3000): {anyOf: unknown[]} {
  const tag = randomUUID().slice(0, 8)
  const alternatives: unknown[] = Array.from({length: count}, (_, i) => ({type: 'object', properties: {[`${tag}${i}`]: {type: 'integer'}}, required: [`${tag}${i}`]}))
  return {anyOf: last ? [...alternatives, last] : alternatives}
}

/** The guided spec of a chat body as the event loop gets it from the worker. */
async function specFromWorker(fields: Record<string, unknown>, big = true): Promise<GuidedSpec> {
  const body = Buffer.from(JSON.stringify({messages: [{role: 'user', content: 'hi'}], max_tokens: 2, ...fields}))
  assert.equal(body.length > 64 * 1024, big, big ? 'big enough to be checked in a worker' : 'small enough to be checked on the event loop')
  const {request} = (await workers.checkBody(body, 'chat', CHECKS)) as {request: ChatCompletionRequest}
  return request.sampling.guided!
}

/** Counts reads of the spec's content field (the event loop must not need it to check, key or compile the spec). */
function countReads(spec: GuidedSpec, field: string): {reads: number} {
  const descriptor = Object.getOwnPropertyDescriptor(spec, field)
  assert.ok(descriptor?.get, `'${field}' comes back unread (shared text), not rebuilt as objects on the event loop`)
  return countReadsOf(spec, field, descriptor.get)
}

function countReadsOf(spec: GuidedSpec, field: string, read: () => unknown): {reads: number} {
  const counter = {reads: 0}
  Object.defineProperty(spec, field, {enumerable: true, configurable: true, get: () => (counter.reads++, read())})
  return counter
}

describe('guided specs settled in the tokenizer worker', () => {
  it('a schema new to the server is checked, keyed and compiled without the event loop reading it', async () => {
    const schema = freshSchema()
    const spec = await specFromWorker({response_format: {type: 'json_schema', json_schema: {name: 's', schema}}})
    assert.equal(spec.param, 'response_format')
    const counter = countReads(spec, 'schema')
    checkGuidedSpec(spec)
    const ref = grammarRefOf(spec)
    // The key is the spec's canonical text and the id its digest, as the event loop would have made them.
    assert.deepEqual(JSON.parse(keyOfRef(ref)), {kind: 'json', schema, anyWhitespace: true})
    assert.equal(ref.id, createHash('sha256').update(keyOfRef(ref)).digest('base64'))
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4]})
    try {
      await grammars.compile(spec)
      assert.ok(grammars.isCompiled(spec))
      const [mask] = await grammars.step([{matcherId: 1, grammar: ref, accept: []}])
      assert.ok(mask!.some((word) => word !== 0), 'the grammar compiled from the shared key allows a first token')
    } finally {
      await grammars.close()
    }
    assert.equal(counter.reads, 0)
    // Read anyway, it is the schema sent.
    assert.deepEqual((spec as Extract<GuidedSpec, {kind: 'json'}>).schema, schema)
  })

  it("a refused schema comes back as a checked request; its refusal (message, field, code) is thrown where the event loop's own was", async () => {
    const cases = [
      {fields: (schema: unknown) => ({response_format: {type: 'json_schema', json_schema: {name: 's', schema}}}), last: {type: 'string', not: {}},
        message: "'response_format': JSON schema keyword 'not' (at #/anyOf/3000/not) is not supported for guided decoding", param: 'response_format', code: null},
      {fields: (schema: unknown) => ({guided_json: schema}), last: {type: 'string', minLength: 5, maxLength: 1},
        message: "'guided_json': 'minLength' 5 (at #/anyOf/3000/minLength) is above 'maxLength' 1, so no value matches", param: 'guided_json', code: 'empty_grammar'},
    ]
    for (const {fields, last, message, param, code} of cases) {
      const spec = await specFromWorker(fields(freshSchema(last)))
      const counter = countReads(spec, 'schema')
      for (let i = 0; i < 2; i++) {
        assert.throws(() => checkGuidedSpec(spec), (error: unknown) => {
          assert.ok(error instanceof InvalidRequestError)
          assert.deepEqual({message: error.message, param: error.param, code: error.code, httpStatus: error.httpStatus}, {message, param, code, httpStatus: 400})
          return true
        })
      }
      assert.equal(counter.reads, 0)
    }
  })

  it('regex, choice and grammar constraints and tool_choice "required" come back settled too', async () => {
    const pad = 'x'.repeat(70_000)
    const specs = [
      await specFromWorker({guided_regex: `(${pad})?[a-z]+`}),
      await specFromWorker({guided_choice: ['yes', `no${pad}`]}),
      await specFromWorker({guided_grammar: `root ::= "a" | "${pad}"`}),
      await specFromWorker({tools: [{type: 'function', function: {name: 'f', description: pad, parameters: {type: 'object', properties: {a: {type: 'string'}}}}}], tool_choice: 'required'}),
    ]
    assert.deepEqual(specs.map((spec) => spec.kind), ['regex', 'choice', 'grammar', 'json'])
    for (const spec of specs) {
      const content = {regex: 'pattern', choice: 'choices', grammar: 'ebnf', json: 'schema', structural_tag: 'tags'}[spec.kind]
      const counter = countReads(spec, content)
      checkGuidedSpec(spec)
      grammarRefOf(spec)
      assert.equal(counter.reads, 0, spec.kind)
    }
  })

  it('a small body (parsed on the event loop) with a sizeable new schema has it checked and keyed in a worker too', async () => {
    const schema = freshSchema(undefined, 150)
    const spec = await specFromWorker({guided_json: schema}, false)
    assert.ok(isSettled(spec), 'settled by the time the body is checked')
    const value = (spec as Extract<GuidedSpec, {kind: 'json'}>).schema
    const counter = countReadsOf(spec, 'schema', () => value)
    checkGuidedSpec(spec)
    assert.deepEqual(JSON.parse(keyOfRef(grammarRefOf(spec))), {kind: 'json', schema, anyWhitespace: true})
    assert.equal(counter.reads, 0)
    const refused = await specFromWorker({guided_json: freshSchema({type: 'string', format: 'color'}, 150)}, false)
    const reads = countReadsOf(refused, 'schema', () => value)
    assert.throws(() => checkGuidedSpec(refused), (error: unknown) => {
      assert.ok(error instanceof InvalidRequestError)
      assert.equal(error.param, 'guided_json')
      assert.match(error.message, /^'guided_json': string format 'color' \(at #\/anyOf\/150\/format\) is not supported; formats: date, /)
      return true
    })
    assert.equal(reads.reads, 0)
    // A small spec is not worth the hop: the event loop settles it when it is used.
    assert.ok(!isSettled(await specFromWorker({guided_json: freshSchema(undefined, 3)}, false)))
  })
})
