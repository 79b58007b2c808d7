// Schemas, regexes and grammars written as real APIs write them, where xgrammar 0.1.27 alone went wrong: non-ASCII
// character classes matched as bytes, format grammars admitting strings validators reject, and schema forms refused or
// failing to compile (allOf, nullable, type lists with bounds, false subschemas). Grammar checks use xgrammar's own
// acceptance test; the last test generates with a random model, where only the mask can make an output valid.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {GrammarCompiler, jsonSchemaGrammar, type VocabInfo} from '../src/engine/guided/grammar-compiler.js'
import {unendingRule} from '../src/engine/guided/grammar-termination.js'
import {checkGuidedSpec, checkJsonSchema, type GuidedSpec, type JsonSchema} from '../src/engine/guided/guided-spec.js'
import {dotWithoutNewline, regexRules, unsupportedRegex} from '../src/engine/guided/regex-rules.js'
import {normalizeSchema} from '../src/engine/guided/schema-normalize.js'
import {rewriteNonAsciiClasses} from '../src/engine/guided/utf8-classes.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from './support/guided-check.js'
import {JSON_SCHEMA_AUDIT_CORPUS} from './support/json-schema-audit-corpus.js'

async function acceptsAll(ebnf: string, cases: Array<[string, boolean]>): Promise<void> {
  const grammar = await xgrammar().Grammar.fromEBNF(ebnf)
  for (const [text, expected] of cases) assert.equal(await xgrammar().Testings.isGrammarAcceptString(grammar, text), expected, `${JSON.stringify(text)} in ${ebnf.slice(0, 300)}`)
  grammar.dispose()
}

const schemaGrammar = (schema: unknown) => jsonSchemaGrammar({kind: 'json', schema: schema as JsonSchema, anyWhitespace: false, param: 'p'}, 'p')

describe('non-ASCII character classes (matched as UTF-8, not bytes)', () => {
  it('JSON-schema patterns, positive and negated, in the BMP and beyond', async () => {
    await acceptsAll(await schemaGrammar({type: 'string', pattern: '^[\\u00C0-\\u00FF]{1,3}$'}), [['"é"', true], ['"éÿÀ"', true], ['"e"', false], ['"Ā"', false]])
    await acceptsAll(await schemaGrammar({type: 'string', pattern: '^[a-zé中-龥]+$'}), [['"aé中文"', true], ['"è"', false]])
    await acceptsAll(await schemaGrammar({type: 'string', pattern: '^[^é]$'}), [['"è"', true], ['"a"', true], ['"😀"', true], ['"é"', false]])
    await acceptsAll(await schemaGrammar({type: 'string', pattern: '^[😀-😂]$'}), [['"😁"', true], ['"😃"', false]])
  })

  it('regexes and EBNF grammars', async () => {
    await acceptsAll(rewriteNonAsciiClasses(await regexRules('[à-ü]+!', 'root')), [['àü!', true], ['a!', false], ['ÿ!', false]])
    await acceptsAll(rewriteNonAsciiClasses('root ::= "«" [^»]* "»"'), [['«x é»', true], ['«»»', false]])
    // A class of no character is refused: its negated form as written took any non-ASCII one ([^\s\S] wrote '갪').
    // An empty alternative anywhere but last in its group was EBNF xgrammar's own parser refused (a 400 'EBNF parser error').
    await acceptsAll(await regexRules('a|', 'root'), [['a', true], ['', true], ['b', false]])
    await acceptsAll(await regexRules('(|a)b||c', 'root'), [['b', true], ['ab', true], ['c', true], ['', true], ['a', false]])
    for (const pattern of ['[^\\s\\S]', 'a|b[^\\d\\D]', '[^\\w\\W]x']) await assert.rejects(async () => rewriteNonAsciiClasses(await regexRules(pattern, 'root')), /matches no character/, pattern)
    await assert.rejects(schemaGrammar({type: 'string', pattern: '^[^\\s\\S]$'}), /matches no character/)
  })
})

describe('patterns inside JSON strings stay JSON', () => {
  it("a pattern's `.`, negated classes and quotes give escapes, never a raw quote, backslash or newline", async () => {
    const inString = async (pattern: string, cases: Array<[string, boolean]>) => acceptsAll(await schemaGrammar({type: 'string', pattern}), cases)
    await inString('^a.b$', [['"axb"', true], ['"a\\"b"', true], ['"a"b"', false], ['"a\nb"', false], ['"a\\nb"', false]])
    await inString('^[^@]+@[^@]+$', [['"x\\"@y"', true], ['"x"@y"', false]])
    await inString('^[\\s\\S]{1,2}$', [['"\\n\\\\"', true], ['"\n"', false]])
    await inString('^say "[a-z]{1,5}"$', [['"say \\"hi\\""', true], ['"say "hi""', false]])
  })

  it('regexes: `.` stops at a newline (as Python and JavaScript read it); unsupported forms are a 400 naming them', async () => {
    await acceptsAll(await regexRules(dotWithoutNewline('a.c'), 'root'), [['abc', true], ['a\nc', false]])
    assert.throws(() => checkJsonSchema({type: 'string', pattern: '^[\\p{L}]+$'}, 'p'), /Unicode property escapes/)
    assert.throws(() => checkJsonSchema({type: 'string', pattern: '^a$', format: 'email'}, 'p'), /'pattern' \(at #\/pattern\) cannot be combined with format/)
    assert.throws(() => checkJsonSchema({type: 'string', minLength: 3, maxLength: 1}, 'p'), /'minLength' 3 \(at #\/minLength\) is above 'maxLength' 1, so no value matches/)
    assert.throws(() => checkJsonSchema({type: 'array', minItems: 2, maxItems: 1}, 'p'), /'minItems' 2 .* is above 'maxItems' 1/)
    assert.doesNotThrow(() => checkJsonSchema({type: 'string', minLength: 2, maxLength: 2}, 'p'))
    assert.throws(() => checkGuidedSpec({kind: 'regex', pattern: '', param: 'guided_regex'}), /'guided_regex' is an empty regex/)
    // xgrammar drops an anchor with text beyond it: a$b took "ab", which Python's a$b never matches.
    for (const pattern of ['a$b', 'x^y', '(a$b)']) await assert.rejects(regexRules(pattern, 'root'), /the anchor '[$^]' has text beyond it/, pattern)
    assert.throws(() => checkJsonSchema({type: 'string', pattern: '^a$b'}, 'p'), /the anchor '\$'/)
    for (const pattern of ['^a$|^b$', '[$^]x', '\\$a', '(a$)|b', '^(?:^a)$', 'a[^$]b']) assert.equal(unsupportedRegex(pattern), null, pattern)
    await assert.rejects(regexRules('[\\p{L}]', 'root'), /Unicode property escapes/)
  })
})

describe('grammars that can never finish are refused', () => {
  it('rules and schemas that only lead back into themselves are a 400; recursion with a way out compiles', async () => {
    const vocab: VocabInfo = {vocab: ['a', 'b', '(', ')', '{', '}', '"', 'x', ':', ',', '[', ']', ''], vocabType: 'raw', prependSpace: false, eosTokenIds: [12]}
    const refusesGrammar = async (spec: GuidedSpec) => assert.rejects(new GrammarCompiler(vocab).compile(spec), /admits no output that ends/)
    await refusesGrammar({kind: 'grammar', ebnf: 'root ::= "a" root', param: 'g'})
    await refusesGrammar({kind: 'grammar', ebnf: 'root ::= x\nx ::= "(" x ")"', param: 'g'})
    await refusesGrammar({kind: 'json', schema: {$defs: {a: {type: 'object', properties: {x: {$ref: '#/$defs/a'}}, required: ['x']}}, $ref: '#/$defs/a'}, anyWhitespace: false, param: 'j'})
    await refusesGrammar({kind: 'json', schema: {type: 'array', items: {$ref: '#'}, minItems: 1}, anyWhitespace: false, param: 'j'})
    assert.equal(unendingRule('root ::= ((root "a") | ("b"))'), null)
    assert.equal(unendingRule('root ::= (("(" x ")"))\nx ::= ("" | ("(" x ")"))'), null)
    assert.equal(unendingRule('root ::= (("a" root{2,3}))'), 'root')
    assert.equal(unendingRule('root ::= (("a" root{0,3}))'), null)
    // Another way ends, but an output that takes "b" can never finish.
    assert.equal(unendingRule('root ::= (("a") | ("b" x))\nx ::= (("c" x))'), 'x')
  })
})

describe('string formats admit only what validators accept', () => {
  const cases: Array<[string, string, boolean]> = [
    ['ipv4', '10.0.255.1', true],
    ['ipv4', '001.2.3.4', false],
    ['ipv6', '::ffff:01.2.3.4', false],
    ['date', '2024-12-31', true],
    ['date', '2024-02-30', false],
    ['date', '2024-04-31', false],
    ['date', '0000-01-01', false],
    ['date-time', '2024-01-01T10:59:59.5+01:00', true],
    ['date-time', '2024-01-01T10:60:00Z', false],
    ['time', '10:00:60Z', false],
    ['email', 'a.b@c.de', true],
    ['email', 'a@b', false],
    ['uri', 'urn:isbn:123', true],
    ['uri', 'x:', false],
    ['hostname', 'my-svc.my-ns.svc.cluster.local', true],
    ['hostname', `${'a'.repeat(63)}.com`, true],
    ['hostname', `${'a'.repeat(64)}.com`, false],
    ['hostname', 'a-.com', false],
    // The whole name at most 253 characters: four labels of 63, 63, 63 and 61; one more is 254.
    ['hostname', [63, 63, 63, 61].map((n) => 'b'.repeat(n)).join('.'), true],
    ['hostname', [63, 63, 63, 62].map((n) => 'b'.repeat(n)).join('.'), false],
  ]
  for (const [format, text, valid] of cases) {
    it(`${format}: ${text} is ${valid ? 'admitted' : 'refused'}`, async () => {
      await acceptsAll(await schemaGrammar({type: 'string', format}), [[JSON.stringify(text), valid]])
    })
  }
})

describe('schema forms rewritten for the compiler', () => {
  it("pydantic v1's allOf [$ref] stays a reference (recursion stays finite); allOf objects merge", async () => {
    const recursive = {definitions: {Node: {type: 'object', properties: {next: {allOf: [{$ref: '#/definitions/Node'}], description: 'd'}}}}, $ref: '#/definitions/Node'}
    assert.deepEqual((normalizeSchema(recursive, 'p') as JsonSchema).definitions, {Node: {type: 'object', properties: {next: {description: 'd', $ref: '#/definitions/Node'}}}})
    const merged = {allOf: [{type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}, {properties: {b: {type: 'boolean'}}, required: ['b']}]}
    await acceptsAll(await schemaGrammar(merged), [['{"a":1,"b":true}', true], ['{"a":1}', false], ['{"b":true}', false]])
  })

  it('allOf members that cannot merge into the same set of values are a 400 naming why', () => {
    const refuses = (schema: unknown, why: RegExp) => assert.throws(() => checkJsonSchema(schema, 'p'), (error: unknown) => error instanceof InvalidRequestError && why.test(error.message))
    refuses({allOf: [{properties: {a: {type: 'integer'}}}, {properties: {a: {type: 'string'}}}]}, /property 'a' different schemas/)
    refuses({allOf: [{type: 'object', properties: {a: {type: 'integer'}}, additionalProperties: false}, {properties: {b: {}}}]}, /forbids property 'b'/)
    refuses({allOf: [{type: 'string'}, {type: 'integer'}]}, /'type' differently/)
    refuses({$defs: {a: {allOf: [{$ref: '#/$defs/a'}, {type: 'object'}]}}, $ref: '#/$defs/a'}, /refers back to itself/)
    refuses(false, /no value matches/)
    refuses({type: 'object', properties: {a: false}, required: ['a']}, /'a' is required but its schema is false/)
  })

  it('nullable, type lists with bounds, false properties and branches, uniqueItems false', async () => {
    // null passes OpenAPI's nullable but not JSON-schema validators (which ignore the keyword): values of the type pass both.
    await acceptsAll(await schemaGrammar({type: 'integer', minimum: 1, maximum: 5, nullable: true}), [['3', true], ['null', false], ['9', false]])
    await acceptsAll(await schemaGrammar({type: ['integer', 'null', 'string'], minimum: 1, maximum: 5, maxLength: 1}), [['5', true], ['null', true], ['"x"', true], ['0', false], ['"xy"', false]])
    await acceptsAll(await schemaGrammar({type: 'object', properties: {a: {type: 'integer'}, secret: false}, required: ['a']}), [['{"a":1}', true], ['{"a":1,"secret":1}', false]])
    await acceptsAll(await schemaGrammar({anyOf: [false, {type: 'boolean'}]}), [['true', true], ['1', false]])
    await acceptsAll(await schemaGrammar({type: 'array', items: {type: 'integer'}, uniqueItems: false, maxItems: 2}), [['[1,1]', true]])
  })

  it('a $ref beside constraints keeps them; enum and const keep only the values their type, length and bounds allow', async () => {
    const sibling = {$defs: {s: {type: 'string'}}, type: 'object', properties: {b: {$ref: '#/$defs/s', maxLength: 2}}, required: ['b'], additionalProperties: false}
    await acceptsAll(await schemaGrammar(sibling), [['{"b":"ab"}', true], ['{"b":"abc"}', false]])
    await acceptsAll(await schemaGrammar({type: 'integer', enum: [1, 'a', 2.5], minimum: 0}), [['1', true], ['"a"', false], ['2.5', false]])
    await acceptsAll(await schemaGrammar({enum: ['abc', 'x'], maxLength: 2}), [['"x"', true], ['"abc"', false]])
    assert.throws(() => checkJsonSchema({type: 'string', const: 3}, 'p'), /no value matches/)
    // An empty enum or type list admits nothing: before, xgrammar's 'EBNF parser error ... Expect element' came back.
    for (const schema of [{enum: []}, {type: []}, {type: 'object', properties: {a: {enum: []}}, required: ['a']}])
      assert.throws(() => checkJsonSchema(schema, 'p'), /no (value|object) matches/, JSON.stringify(schema))
    await acceptsAll(await schemaGrammar({type: 'object', properties: {a: {enum: []}, b: {type: 'integer'}}}), [['{"b":1}', true], ['{"a":1}', false]])
  })
})

describe('audit schemas on a random model', () => {
  let engine: LLMEngine
  let checker: GuidedChecker
  before(async () => {
    engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 256, blockSize: 16}))
    checker = new GuidedChecker(engine)
  })
  after(async () => {
    await engine.shutdown()
  })

  it('finished outputs validate for the schemas this audit fixed, over several seeds', async () => {
    const names = ['pattern-unicode', 'pattern-dot', 'pattern-negated-class', 'format-ipv4', 'format-date', 'nullable-integer-range', 'pydantic-v1-allof-ref', 'allof-merge', 'property-false']
    const specs = names.map((name): GuidedSpec => {
      const entry = JSON_SCHEMA_AUDIT_CORPUS.find((candidate) => candidate.name === name)!
      return {kind: 'json', schema: entry.schema as JsonSchema, anyWhitespace: false, param: name}
    })
    const requests = specs.map((guided) => ({prompt: 'JSON:', params: makeSamplingParams({guided, maxTokens: 40, temperature: 1, n: 4, seed: 3})}))
    const results = await engine.generate(requests)
    let finished = 0
    for (const [i, result] of results.entries()) {
      for (const output of result.outputs) {
        const problem = await checker.problem(specs[i]!, output)
        assert.equal(problem, null, problem ?? '')
        if (output.finishReason === 'stop') finished++
      }
    }
    assert.ok(finished >= specs.length * 2, `only ${finished} of ${specs.length * 4} outputs finished`)
  })
})
