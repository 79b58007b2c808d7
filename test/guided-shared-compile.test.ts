// Requests asking for the same grammar at the same moment share one compile; a waiter that leaves does not stop it
// for the others, the last one leaving does.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {GrammarService} from '../src/engine/guided/grammar-service.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'

const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
const serviceOf = () => new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4]})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('shared grammar compiles', () => {
  it('three requests for one spec at once make one compile in one worker; the first leaving does not stop it', async () => {
    const grammars = serviceOf()
    try {
      const spec: GuidedSpec = {kind: 'regex', pattern: '[a-f]{2}[0-9]', param: 'guided_regex'}
      const leaving = new AbortController()
      const first = grammars.compile(spec, leaving.signal)
      const second = grammars.compile(spec, new AbortController().signal)
      const third = grammars.compile(spec)
      leaving.abort(new Error('the first client left'))
      await assert.rejects(first, /the first client left/)
      await Promise.all([second, third])
      assert.ok(grammars.isCompiled(spec))
      // Before, each compile took a worker of its own: three workers, three compiles of one grammar.
      assert.equal(grammars.numWorkers, 1)
    } finally {
      await grammars.close()
    }
  })

  it('one grammar sent through two fields, its keywords in another order, is one compile; each gets an error on its own field', async () => {
    const grammars = serviceOf()
    try {
      const schema = {type: 'object', properties: {b: {type: 'integer', minimum: 1}, a: {type: 'string'}}, required: ['b']}
      const reordered = {required: ['b'], properties: {b: {minimum: 1, type: 'integer'}, a: {type: 'string'}}, type: 'object'}
      const viaFormat: GuidedSpec = {kind: 'json', schema, anyWhitespace: true, param: 'response_format'}
      const viaGuided: GuidedSpec = {kind: 'json', schema: reordered, anyWhitespace: true, param: 'guided_json'}
      assert.equal(guidedKey(viaFormat), guidedKey(viaGuided))
      // The order of properties is the order the output writes them in: another grammar.
      const swapped = {...schema, properties: {a: schema.properties.a, b: schema.properties.b}}
      assert.notEqual(guidedKey({...viaFormat, schema: swapped}), guidedKey(viaFormat))
      // Data is kept as sent: an enum of objects is not reordered.
      assert.notEqual(guidedKey({...viaFormat, schema: {const: {x: 1, y: 2}}}), guidedKey({...viaFormat, schema: {const: {y: 2, x: 1}}}))
      await Promise.all([grammars.compile(viaFormat), grammars.compile(viaGuided)])
      assert.ok(grammars.isCompiled(viaFormat) && grammars.isCompiled(viaGuided))
      assert.equal(grammars.numWorkers, 1, 'one compile, in one worker')
      const bad = {type: 'object', unknownKeyword: 1}
      const errors = await Promise.allSettled([
        grammars.compile({kind: 'json', schema: bad, anyWhitespace: true, param: 'response_format'}),
        grammars.compile({kind: 'json', schema: {unknownKeyword: 1, type: 'object'}, anyWhitespace: true, param: 'guided_json'}),
      ])
      const [first, second] = errors.map((settled) => (settled as PromiseRejectedResult).reason as InvalidRequestError)
      assert.equal(first!.param, 'response_format')
      assert.equal(second!.param, 'guided_json')
      assert.match(second!.message, /^'guided_json': JSON schema keyword 'unknownKeyword'/)
    } finally {
      await grammars.close()
    }
  })

  it('the compile runs on while one waiter is left and stops with its worker when the last one leaves', async () => {
    const grammars = serviceOf()
    try {
      // A warm worker, so the huge compile runs at once (200,000 enum values: close to a minute of compiling).
      await grammars.compile({kind: 'regex', pattern: '[x-z]{2}', param: 'guided_regex'})
      const huge: GuidedSpec = {kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `value ${i}`)}, anyWhitespace: false, param: 'response_format'}
      const [a, b] = [new AbortController(), new AbortController()]
      const first = grammars.compile(huge, a.signal)
      const second = grammars.compile(huge, b.signal)
      await sleep(200)
      a.abort(new Error('client a left'))
      await assert.rejects(first, /client a left/)
      await sleep(200)
      assert.equal(grammars.numWorkers, 1, 'the compile goes on for the request still waiting')
      b.abort(new Error('client b left'))
      await assert.rejects(second, /client b left/)
      assert.equal(grammars.numWorkers, 0, 'the last waiter leaving stopped the compile and its worker')
      const small: GuidedSpec = {kind: 'regex', pattern: '[a-c]{3}', param: 'guided_regex'}
      await grammars.compile(small, new AbortController().signal)
      assert.ok(grammars.isCompiled(small))
    } finally {
      await grammars.close()
    }
  })
})
