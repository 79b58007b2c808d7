// Grammar workers and the forms they match fast: a compile never stalls guided sequences already stepping; whitespace
// runs between JSON tokens stay bounded; email without quoted local parts; bounded repetitions unrolled; compiles
// past their time limit are refused.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {GrammarService} from '../src/engine/guided/grammar-service.js'
import {SequenceGuides} from '../src/engine/guided/sequence-guides.js'
import {Sequence, type SequenceGroup} from '../src/engine/sequence.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {jsonSchemaGrammar} from '../src/engine/guided/grammar-compiler.js'
import {grammarRefOf, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {WhitespaceBound} from '../src/engine/guided/whitespace-bound.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from './support/guided-check.js'

/** Longest run of JSON whitespace outside strings. */
function longestRunOutsideStrings(text: string): number {
  let longest = 0
  let run = 0
  let inString = false
  let escaped = false
  for (const c of text) {
    if (inString) {
      if (escaped) escaped = false
      else if (c === '\\') escaped = true
      else if (c === '"') inString = false
    } else if (' \n\t\r'.includes(c)) {
      longest = Math.max(longest, ++run)
    } else {
      run = 0
      inString = c === '"'
    }
  }
  return longest
}

describe('whitespace bound', () => {
  const vocab = ['{', '}', '"', ':', ' ', '    ', '\n', '\t\t', '          x', 'a b', ' "', '\\"', '']
  const allowsAll = () => new Int32Array(1).fill(-1)
  const allowed = (mask: Int32Array) => vocab.flatMap((text, id) => (mask[0]! & (1 << id) ? [text] : []))

  it('bans tokens whose leading whitespace would pass the bound, outside strings only', () => {
    const bound = new WhitespaceBound(vocab, vocab.length, 5)
    const run = bound.start()
    let mask = allowsAll()
    run.applyTo(mask)
    // At the start the room is 5: the 10-space token is banned, the 4-space one is not.
    assert.deepEqual(allowed(mask).filter((text) => !vocab.slice(0, 4).includes(text)), [' ', '    ', '\n', '\t\t', 'a b', ' "', '\\"', ''])
    run.accept(vocab.indexOf('{'))
    run.accept(vocab.indexOf('    '))
    mask = allowsAll()
    run.applyTo(mask)
    assert.deepEqual(allowed(mask).filter((text) => /^\s/.test(text)), [' ', '\n', ' "'])
    run.accept(vocab.indexOf(' '))
    mask = allowsAll()
    run.applyTo(mask)
    assert.deepEqual(allowed(mask).filter((text) => /^\s/.test(text)), [], 'a full run allows no more whitespace')
    // Inside a string (an escaped quote does not end it) whitespace is content: nothing is banned.
    run.accept(vocab.indexOf('"'))
    run.accept(vocab.indexOf('\\"'))
    run.accept(vocab.indexOf('    '))
    run.accept(vocab.indexOf('    '))
    mask = allowsAll()
    run.applyTo(mask)
    assert.deepEqual(allowed(mask), vocab)
  })

  it('never leaves a mask empty: where only whitespace may follow, the run goes on', () => {
    const bound = new WhitespaceBound(vocab, vocab.length, 5)
    const run = bound.start()
    for (let i = 0; i < 5; i++) run.accept(vocab.indexOf(' '))
    const mask = new Int32Array(1)
    mask[0] = (1 << vocab.indexOf(' ')) | (1 << vocab.indexOf('\n'))
    run.applyTo(mask)
    assert.deepEqual(allowed(mask), [' ', '\n'])
  })
})

describe('grammar workers (tiny random model)', () => {
  let engine: LLMEngine
  before(async () => {
    engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 512, blockSize: 16}))
  })
  after(async () => {
    await engine.shutdown()
  })

  it('a new grammar compiles in another worker: guided sequences already running keep stepping meanwhile', async () => {
    const running: GuidedSpec = {kind: 'grammar', ebnf: 'root ::= [a-z ]+', param: 'guided_grammar'}
    const params = makeSamplingParams({guided: running, maxTokens: 400, minTokens: 400, temperature: 1, seed: 3})
    await engine.prepareRequest(params)
    let decoded = 0
    engine.onStep((stats) => (decoded += stats.numDecodeTokens))
    let compiling = true
    const keepDecoding = (async () => {
      while (compiling) await engine.generate([{prompt: 'Say something:', params}])
    })()
    while (decoded < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    // Thousands of choices: a compile of a second or more, far longer than a decode step of this model.
    const slow: GuidedSpec = {kind: 'choice', choices: Array.from({length: 4000}, (_, i) => `choice ${i} ${(i * 7919) % 10007}`), param: 'guided_choice'}
    const before = decoded
    await engine.prepareRequest(makeSamplingParams({guided: slow}))
    const during = decoded - before
    compiling = false
    await keepDecoding
    // One worker doing both would have answered no step between the compile's start and its end (at most the one
    // already queued before it).
    assert.ok(during >= 5, `only ${during} tokens decoded while the second grammar compiled`)
  })

  it('JSON with free whitespace never has more than 16 whitespace characters in a row between tokens', async () => {
    const checker = new GuidedChecker(engine)
    const spec: GuidedSpec = {
      kind: 'json',
      schema: {type: 'object', properties: {a: {type: 'array', items: {type: 'integer'}}, b: {type: 'string'}}, required: ['a', 'b']},
      anyWhitespace: true,
      param: 'guided_json',
    }
    const params = makeSamplingParams({guided: spec, maxTokens: 200, temperature: 1, n: 6, seed: 5})
    await engine.prepareRequest(params)
    const [result] = await engine.generate([{prompt: 'JSON:', params}])
    let whitespace = 0
    for (const output of result!.outputs) {
      assert.equal(await checker.problem(spec, output), null)
      const longest = longestRunOutsideStrings(output.text)
      assert.ok(longest <= 16, `a run of ${longest} whitespace characters in ${JSON.stringify(output.text)}`)
      whitespace = Math.max(whitespace, longest)
    }
    // A random model takes whitespace wherever it may: the bound must have been reached, not merely unneeded.
    assert.ok(whitespace >= 8, `longest run only ${whitespace}`)
  })
})

describe('schema grammar forms', () => {
  const grammarOf = async (schema: Record<string, unknown>) =>
    xgrammar().Grammar.fromEBNF(await jsonSchemaGrammar({kind: 'json', schema, anyWhitespace: false, param: 'p'}, 'p'))
  const accepts = async (grammar: Awaited<ReturnType<typeof grammarOf>>, text: string) => xgrammar().Testings.isGrammarAcceptString(grammar, text)

  it('email: the quoted local part validators reject (and that costs milliseconds per mask) is left out', async () => {
    const grammar = await grammarOf({type: 'string', format: 'email'})
    assert.equal(await accepts(grammar, '"ann.lee+x@mail.example.com"'), true)
    assert.equal(await accepts(grammar, String.raw`"\"ann lee\"@example.com"`), false)
  })

  it('bounded repetitions are unrolled into the same language', async () => {
    const grammar = await grammarOf({type: 'object', properties: {code: {type: 'string', pattern: '^[A-Z]{2}[0-9]{1,3}$'}, word: {type: 'string', minLength: 2, maxLength: 4}}, required: ['code', 'word'], additionalProperties: false})
    for (const [text, ok] of [
      ['{"code":"AB1","word":"ab"}', true],
      ['{"code":"AB123","word":"abcd"}', true],
      ['{"code":"A1","word":"ab"}', false],
      ['{"code":"AB1234","word":"ab"}', false],
      ['{"code":"AB1","word":"a"}', false],
      ['{"code":"AB1","word":"abcde"}', false],
    ] as const) assert.equal(await accepts(grammar, text), ok, text)
  })
})

describe('grammar compile time limit', () => {
  it('a compile sharing a worker with live matchers has seconds, not a minute, and fails only its own request: theirs replay elsewhere', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    // A minute for a compile alone in its worker; 3 s for one whose wait stalls other requests' steps.
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4], sharedCompileTimeoutMs: 3000})
    const guides = new SequenceGuides(grammars, tokenizer, tokenizer.vocabSize, [4])
    try {
      // Three grammars with a live sequence each: every worker holds matchers, so the next compile shares one.
      const targets = ['[a-z]+', '[0-9]+', '[A-Z]+'].map((pattern, i) => {
        const group = {params: {guided: {kind: 'regex', pattern, param: 'guided_regex'}, allowedTokenIds: null, badWords: [], guidedAfterTokenId: null}} as unknown as SequenceGroup
        return {group, seq: Object.defineProperty(new Sequence([0], 1), 'seqId', {value: i})}
      })
      for (const target of targets) {
        await grammars.compile(target.group.params.guided!)
        await guides.masksFor([target])
      }
      assert.equal(grammars.numWorkers, 3)
      const huge: GuidedSpec = {kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `value ${i}`)}, anyWhitespace: false, param: 'response_format'}
      const compile = grammars.compile(huge)
      compile.catch(() => {})
      // A step of the live sequences queued behind that compile: its worker is stopped under it.
      guides.prefetch(targets)
      await assert.rejects(compile, /did not compile within 3 s \(the grammar workers are busy with other requests\)/)
      const masks = await guides.masksFor(targets)
      assert.ok(masks.every((mask) => mask !== null && mask.some((word) => word !== 0)), 'every live sequence still has its mask')
    } finally {
      await grammars.close()
    }
  })

  it('a compile whose client left stops with its worker at once, not at the limit; later compiles work', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4]})
    try {
      // Close to a minute of compiling: before, the worker kept at it after the client left, and three such requests
      // kept every other constraint waiting (then failing) for that minute.
      const huge: GuidedSpec = {kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `value ${i}`)}, anyWhitespace: false, param: 'response_format'}
      // A warm worker, so the huge compile runs at once (one still waiting for it is only dropped: guided-compile-wait).
      await grammars.compile({kind: 'regex', pattern: '[x-z]{2}', param: 'guided_regex'})
      const client = new AbortController()
      const compile = grammars.compile(huge, client.signal)
      setTimeout(() => client.abort(new Error('the client left')), 300)
      await assert.rejects(compile, /the client left/)
      assert.equal(grammars.numWorkers, 0)
      const small: GuidedSpec = {kind: 'regex', pattern: '[a-c]{3}', param: 'guided_regex'}
      await grammars.compile(small, new AbortController().signal)
      assert.ok(grammars.isCompiled(small))
    } finally {
      await grammars.close()
    }
  })

  it('the engine takes the limit from its config (serve --grammar-compile-timeout)', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 64, grammarCompileTimeoutMs: 1000}))
    try {
      const huge: GuidedSpec = {kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `value ${i}`)}, anyWhitespace: false, param: 'response_format'}
      await assert.rejects(engine.prepareRequest(makeSamplingParams({guided: huge})), /did not compile within 1 s/)
    } finally {
      await engine.shutdown()
    }
  })

  it('a compile past the limit is a 400 on its field, its worker is replaced, and later compiles work', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4], compileTimeoutMs: 3000})
    try {
      // 200,000 enum values take close to a minute to compile: far past 3 s.
      const huge: GuidedSpec = {kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `value ${i}`)}, anyWhitespace: false, param: 'response_format'}
      await assert.rejects(grammars.compile(huge), (error: Error) => error instanceof InvalidRequestError && (error as InvalidRequestError).param === 'response_format' && /did not compile within 3 s/.test(error.message))
      assert.equal(grammars.isCompiled(huge), false)
      const small: GuidedSpec = {kind: 'json', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}, anyWhitespace: false, param: 'response_format'}
      await grammars.compile(small)
      assert.ok(grammars.isCompiled(small))
      const [mask] = await grammars.step([{matcherId: 1, grammar: grammarRefOf(small), accept: []}])
      assert.ok(mask && mask.some((word) => word !== 0), 'the fresh worker steps matchers')
    } finally {
      await grammars.close()
    }
  })
})

describe('refused compiles', () => {
  it('a grammar its worker refused is refused again from memory (the same error), on each request\'s own field', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4]})
    const spec = (param: string): GuidedSpec => ({kind: 'grammar', ebnf: 'root ::= "a" undefined_rule', param})
    try {
      const first = await grammars.compile(spec('guided_grammar')).catch((error: Error) => error)
      assert.ok(first instanceof InvalidRequestError && /undefined_rule/.test(first.message), String(first))
      // A second compile would make a new error: the same object says no worker compiled it again.
      assert.equal(await grammars.compile(spec('guided_grammar')).catch((error: Error) => error), first)
      const other = await grammars.compile(spec('structured_outputs.grammar')).catch((error: Error) => error)
      assert.ok(other instanceof InvalidRequestError && other.param === 'structured_outputs.grammar' && other.cause === first, String(other))
    } finally {
      await grammars.close()
    }
  })
})
