// Counted repetitions written as rule chains (counted-runs.ts) keep their exact language; enum text that looks like a
// run stays text; a pattern with several long runs compiles (unique rule names); a spec is checked and keyed once per text.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {countedRunRules, MAX_COUNTED_RUN, writeOutCountedRuns} from '../src/engine/guided/counted-runs.js'
import {GrammarCompiler, jsonSchemaGrammar, vocabInfoOf} from '../src/engine/guided/grammar-compiler.js'
import {checkGuidedSpec, guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {markLongRuns, regexRules} from '../src/engine/guided/regex-rules.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'

const grammarOf = (ebnf: string) => xgrammar().Grammar.fromEBNF(ebnf)
const accepts = async (ebnf: string, text: string) => {
  const grammar = await grammarOf(ebnf)
  try {
    return await xgrammar().Testings.isGrammarAcceptString(grammar, text)
  } finally {
    grammar.dispose()
  }
}
const json = (schema: Record<string, unknown>): Extract<GuidedSpec, {kind: 'json'}> => ({kind: 'json', schema, anyWhitespace: false, param: 'p'})

describe('counted runs as rule chains', () => {
  it('accept exactly the counts in bounds, across block boundaries', async () => {
    for (const [min, max] of [[0, 20], [3, 150], [130, 200], [70, 70]] as const) {
      const ebnf = `root ::= r\n${countedRunRules('r', '"a"', {min, max}).join('\n')}`
      for (let length = 0; length <= 210; length += length < 10 || Math.abs(length - min) < 3 || Math.abs(length - max) < 3 || length % 8 < 2 ? 1 : 5)
        assert.equal(await accepts(ebnf, 'a'.repeat(length)), length >= min && length <= max, `{${min},${max}} at ${length}`)
    }
  })

  it('an unbounded run takes its minimum and anything past it', async () => {
    const ebnf = `root ::= r\n${countedRunRules('r', '[xy]', {min: 66, max: null}).join('\n')}`
    for (const [length, ok] of [[65, false], [66, true], [67, true], [300, true]] as const) assert.equal(await accepts(ebnf, 'x'.repeat(length)), ok, String(length))
  })

  it('a long run takes a number of rules that grows like its logarithm', () => {
    assert.ok(countedRunRules('r', '"a"', {min: 0, max: 10_000}).length < 400)
    assert.ok(countedRunRules('r', '"a"', {min: 10_000, max: null}).length < 10)
    assert.ok(countedRunRules('r', '"a"', {min: 0, max: MAX_COUNTED_RUN}).length < 400)
    assert.ok(countedRunRules('r', '"a"', {min: MAX_COUNTED_RUN, max: null}).length < 20)
    assert.throws(() => countedRunRules('r', '"a"', {min: 0, max: MAX_COUNTED_RUN + 1}), /above the 2147483647/)
  })

  it('rewrites runs of classes and strings, inside groups too, but not text inside string literals', () => {
    const out = writeOutCountedRuns('root ::= "[ab]{3}" [ab]{3} ("x"{2} y){2} "yz"{0,40} y{500}\ny ::= "q"')
    assert.match(out, /^root ::= "\[ab\]\{3\}" \(\[ab\] \[ab\] \[ab\]\) \(\("x" "x"\) y\)\{2\} counted_run_0 y\{500\}\n/)
    assert.match(out, /counted_run_0 ::= counted_run_0_upto40\n/)
    assert.match(out, /counted_run_0_upto40 ::= counted_run_0_upto7 \| counted_run_0_x8 counted_run_0_upto32\n/)
    assert.match(out, /counted_run_0_x8 ::= "yz" "yz" "yz" "yz" "yz" "yz" "yz" "yz"\n/)
    // A name the grammar already uses is not reused.
    assert.match(writeOutCountedRuns('root ::= counted_run [a]{0,30}\ncounted_run ::= "x"'), /root ::= counted_run counted_run__0/)
  })
})

describe('regex and schema grammars', () => {
  it('an enum value that looks like a run matches its own text only (it was rewritten as a regex)', async () => {
    const ebnf = await jsonSchemaGrammar(json({enum: ['[ab]{3}', '{2}x']}), 'p')
    assert.equal(await accepts(ebnf, '"[ab]{3}"'), true)
    assert.equal(await accepts(ebnf, '"{2}x"'), true)
    assert.equal(await accepts(ebnf, '"aba"'), false)
  })

  it('a pattern with two long runs, and two such patterns in one schema, compile with unique rule names', async () => {
    const schema = {type: 'object', properties: {a: {type: 'string', pattern: '^x{200,300}-[0-9]{20,40}$'}, b: {type: 'string', pattern: '^y{200,300}$'}}, required: ['a', 'b'], additionalProperties: false}
    const ebnf = await jsonSchemaGrammar(json(schema), 'p')
    const names = ebnf.split('\n').filter((line) => line.includes('::=')).map((line) => line.split(' ::=')[0])
    assert.equal(new Set(names).size, names.length)
    assert.equal(await accepts(ebnf, `{"a":"${'x'.repeat(250)}-${'1'.repeat(30)}","b":"${'y'.repeat(200)}"}`), true)
    assert.equal(await accepts(ebnf, `{"a":"${'x'.repeat(199)}-${'1'.repeat(30)}","b":"${'y'.repeat(200)}"}`), false)
    assert.equal(await accepts(ebnf, `{"a":"${'x'.repeat(250)}-${'1'.repeat(30)}","b":"${'y'.repeat(301)}"}`), false)
  })

  it('long regex runs become chained rules in the same language; short ones stay with the converter', async () => {
    assert.deepEqual(markLongRuns('a{3}(b[c-d]{20,30}){2}\\d{17,}').runs, [{atom: '[c-d]', min: 20, max: 30}, {atom: '\\d', min: 17, max: null}])
    const ebnf = await regexRules('q([a-c]{100,130}|z)\\.', 'root')
    assert.doesNotMatch(ebnf, /repeat/)
    for (const [text, ok] of [['q' + 'b'.repeat(100) + '.', true], ['qz.', true], ['q' + 'b'.repeat(131) + '.', false], ['q' + 'b'.repeat(99) + '.', false]] as const)
      assert.equal(await accepts(ebnf, text), ok, text.length.toString())
  })

  it('masks inside a long string: every length up to maxLength goes on, and at maxLength only the closing quote', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const compiler = new GrammarCompiler(vocabInfoOf(tokenizer, tokenizer.vocabSize, [4]))
    const spec = json({type: 'string', minLength: 70, maxLength: 80})
    await compiler.compile(spec)
    const matcher = await compiler.newMatcher(guidedKey(spec))
    const idOf = (text: string) => Array.from({length: tokenizer.vocabSize}, (_, id) => id).find((id) => tokenizer.idToToken(id) === text)!
    const allowed = (mask: Int32Array, id: number) => (mask[id >>> 5]! & (1 << (id & 31))) !== 0
    const [quote, x] = [idOf('"'), idOf('x')]
    assert.ok(matcher.acceptToken(quote))
    for (let length = 0; length <= 80; length++) {
      const mask = await matcher.getNextTokenBitmask()
      assert.equal(allowed(mask, quote), length >= 70, `quote at ${length}`)
      assert.equal(allowed(mask, x), length < 80, `x at ${length}`)
      if (length < 80) assert.ok(matcher.acceptToken(x))
    }
    matcher.dispose()
  })
})

describe('spec checks and keys, once per spec text', () => {
  /** A schema whose `anyOf` counts its reads: each request's spec object is new, as a parsed body's is. */
  const counted = () => {
    const alternatives = Array.from({length: 500}, (_, i) => ({type: 'object', properties: {[`k${i}`]: {type: 'integer'}}, required: [`k${i}`]}))
    let reads = 0
    const schema = Object.defineProperty({}, 'anyOf', {enumerable: true, get: () => (reads++, alternatives)})
    return {spec: json(schema as Record<string, unknown>), reads: () => reads}
  }

  it('the second request with the same schema text reads it once (its text), not through the checks and canonical form', () => {
    const first = counted()
    checkGuidedSpec(first.spec)
    const key = guidedKey(first.spec)
    assert.ok(first.reads() > 1)
    const again = counted()
    checkGuidedSpec(again.spec)
    assert.equal(guidedKey(again.spec), key)
    assert.equal(again.reads(), 1)
  })

  it('a refused schema is refused again from the cache, on its own field', () => {
    const bad = (param: string): GuidedSpec => ({kind: 'json', schema: {anyOf: [{type: 'string'}, {type: 'wat'}], not: {}}, anyWhitespace: false, param})
    assert.throws(() => checkGuidedSpec(bad('response_format')), /'response_format'.*'not'/)
    assert.throws(() => checkGuidedSpec(bad('response_format')), /'response_format'.*'not'/)
    assert.throws(() => checkGuidedSpec(bad('guided_json')), /'guided_json'.*'not'/)
  })
})
