// Every JSON Schema keyword guided decoding cannot enforce is a 400 naming it, wherever it appears in the schema.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {checkJsonSchema} from '../src/engine/guided/guided-spec.js'

// JSON Schema 2020-12 (and draft 4-7) keywords outside the enforced set, each with a value of its own kind.
const UNSUPPORTED: Record<string, unknown> = {
  multipleOf: 0.5,
  not: {type: 'null'},
  if: {type: 'integer'},
  then: {minimum: 0},
  else: {type: 'string'},
  dependentSchemas: {a: {required: ['b']}},
  dependentRequired: {a: ['b']},
  dependencies: {a: ['b']},
  propertyNames: {pattern: '^a'},
  patternProperties: {'^a': {type: 'string'}},
  unevaluatedProperties: false,
  unevaluatedItems: false,
  additionalItems: false,
  contains: {type: 'integer'},
  minContains: 1,
  maxContains: 2,
  uniqueItems: true,
  minProperties: 1,
  maxProperties: 3,
  contentEncoding: 'base64',
  contentMediaType: 'application/json',
  contentSchema: {type: 'object'},
  $anchor: 'here',
  $dynamicRef: '#node',
  $dynamicAnchor: 'node',
  $vocabulary: {},
}

describe('unsupported JSON Schema keywords', () => {
  for (const [keyword, value] of Object.entries(UNSUPPORTED)) {
    it(`'${keyword}' is refused, naming it and where it is`, () => {
      const schemas = [{[keyword]: value}, {type: 'object', properties: {inner: {type: 'array', items: {[keyword]: value}}}}]
      for (const schema of schemas) {
        assert.throws(
          () => checkJsonSchema(schema, 'response_format'),
          (error: unknown) => error instanceof InvalidRequestError && error.param === 'response_format' && error.message.includes(`'${keyword}'`),
        )
      }
    })
  }

  it('numeric bounds apply to integers and numbers only, and must be finite numbers', () => {
    assert.doesNotThrow(() => checkJsonSchema({type: 'number', minimum: 0.5, exclusiveMaximum: 2.25}, 'p'))
    assert.doesNotThrow(() => checkJsonSchema({type: 'integer', exclusiveMinimum: -0.5}, 'p'))
    assert.doesNotThrow(() => checkJsonSchema({type: 'number', minimum: 0, exclusiveMinimum: true}, 'p'))
    assert.doesNotThrow(() => checkJsonSchema({type: ['number', 'null'], minimum: 0}, 'p')) // bounds on the number branch
    assert.throws(() => checkJsonSchema({minimum: 0}, 'p'), /'minimum'/)
    assert.throws(() => checkJsonSchema({type: 'number', maximum: '3'}, 'p'), /'maximum'.*must be a number/)
    assert.throws(() => checkJsonSchema({type: 'number', maximum: 1e300}, 'p'), /'maximum'.*magnitude/)
  })

  it("'required' may name only properties defined beside it (xgrammar drops any other name, unenforced)", () => {
    assert.doesNotThrow(() => checkJsonSchema({type: 'object', properties: {a: {type: 'boolean'}}, required: ['a']}, 'p'))
    assert.throws(() => checkJsonSchema({type: 'object', properties: {a: {type: 'boolean'}}, required: ['a', 'b']}, 'p'), /'required' \(at #\/required\) names 'b'/)
    assert.throws(() => checkJsonSchema({type: 'object', required: ['a']}, 'p'), /names 'a'/)
    assert.throws(() => checkJsonSchema({type: 'object', properties: {x: {type: 'object', required: ['toString']}}}, 'p'), /#\/properties\/x\/required/)
    assert.throws(() => checkJsonSchema({type: 'object', properties: {}, required: 'a'}, 'p'), /list of property names/)
  })
})
