// The size bound read off tokenizer.json, tokenizing in worker threads (same ids as inline, client errors keep their class),
// and continue_final_message's open rendering against transformers' (test/fixtures/continue-final-message.json).
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import fc from 'fast-check'
import {ContextLengthError, InvalidRequestError} from '../src/engine/errors.js'
import {badWordTokenSequences} from '../src/engine/guided/bad-words.js'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {textSizeBound} from '../src/engine/model/text-size-bound.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {parseMessages} from '../src/server/chat-request.js'
import {renderOpenFinalMessage} from '../src/server/open-final-message.js'
import {runTokenizeJob} from '../src/server/prompt-tokenizer.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'

/** What the route checks need to know of the server (a tokenizer test's model is never asked for by name). */
const CHECKS = {modelName: 'test', contentFormat: 'auto', storeOn: false} as const

const bpe = (extra: Record<string, unknown> = {}, model: Record<string, unknown> = {}) => ({
  model: {type: 'BPE', vocab: {a: 0, abc: 1, '▁': 2}, merges: [], ...model},
  added_tokens: [{id: 3, content: '<|im_start|>'}],
  ...extra,
})

describe('textSizeBound', () => {
  it('is the longest piece in UTF-8 bytes, added tokens included', () => {
    assert.deepEqual(textSizeBound(bpe()), {bytesPerToken: 12, contraction: 1, slackBytes: 0})
  })

  it('accounts for what the normalizer may shrink or delete', () => {
    assert.equal(textSizeBound(bpe({normalizer: {type: 'NFC'}}))!.contraction, 4)
    const llamaStyle = {
      type: 'Sequence',
      normalizers: [
        {type: 'Prepend', prepend: '▁'},
        {type: 'Replace', pattern: {String: ' '}, content: '▁'},
        {type: 'Replace', pattern: {Regex: '\\A▁(?=<\\|im_start\\|>\\z)'}, content: ''},
      ],
    }
    assert.deepEqual(textSizeBound(bpe({normalizer: llamaStyle})), {bytesPerToken: 12, contraction: 1, slackBytes: 3})
    assert.equal(textSizeBound(bpe({normalizer: {type: 'Replace', pattern: {String: 'abcd'}, content: 'x'}}))!.contraction, 4)
  })

  it('gives up (null) where a tokenizer can drop unbounded text', () => {
    assert.equal(textSizeBound(bpe({normalizer: {type: 'Strip', left: true, right: true}})), null)
    assert.equal(textSizeBound(bpe({normalizer: {type: 'Replace', pattern: {Regex: ' +'}, content: ' '}})), null)
    assert.equal(textSizeBound(bpe({pre_tokenizer: {type: 'Whitespace'}})), null)
    assert.equal(textSizeBound(bpe({pre_tokenizer: {type: 'Split', pattern: {String: ' '}, behavior: 'Removed'}})), null)
    assert.equal(textSizeBound(bpe({}, {unk_token: '<unk>', fuse_unk: true})), null)
    assert.notEqual(textSizeBound(bpe({}, {unk_token: '<unk>', fuse_unk: true, byte_fallback: true})), null)
  })
})

describe('the tiny model tokenizer', () => {
  let modelDir: string
  let tokenizer: Tokenizer
  let workers: TokenizerWorkers
  before(async () => {
    modelDir = await ensureTestModel('tiny')
    tokenizer = Tokenizer.load(modelDir)
    workers = new TokenizerWorkers(modelDir, 512, 2, tokenizer)
  })
  after(() => workers.close())

  it('never has more bytes of text than its bound allows for its token count', () => {
    fc.assert(
      fc.property(fc.string({unit: fc.constantFrom('grapheme', 'binary', 'grapheme-ascii'), maxLength: 200}), (text) => {
        const tokens = tokenizer.encode(text, {addSpecialTokens: false}).length
        assert.ok(Buffer.byteLength(text) <= tokenizer.maxTextBytes(tokens)!, `${JSON.stringify(text)}: ${tokens} tokens`)
      }),
      {numRuns: 300, seed: 12},
    )
  })

  it('tokenizes text and chat in worker threads exactly as inline', async () => {
    const texts = ['Hello there', 'the system, the user and the assistant', 'ünïcödé 🙂 text']
    const ids = await Promise.all(texts.map((text) => workers.tokenize({kind: 'text', text, param: 'prompt'})))
    assert.deepEqual(
      ids,
      texts.map((text) => tokenizer.encode(text)),
    )
    const messages = [
      {role: 'system', content: 'be brief'},
      {role: 'user', content: 'hi'},
    ]
    assert.deepEqual(await workers.tokenize({kind: 'chat', messages, addGenerationPrompt: true}), tokenizer.encodeChat(messages, {addGenerationPrompt: true}))
  })

  it('tokenizes bad_words in worker threads exactly as the engine would inline', async () => {
    const words = ['Hello', ' there', 'ünïcödé 🙂', 'x'.repeat(256)]
    assert.deepEqual(await workers.badWordSequences(words), badWordTokenSequences(tokenizer, words))
  })

  it('refuses oversize text before it reaches a worker, and oversize chat in the worker, as ContextLengthError', async () => {
    const huge = 'hello '.repeat(100_000)
    await assert.rejects(workers.tokenize({kind: 'text', text: huge, param: 'prompt'}), (error: unknown) => error instanceof ContextLengthError && error.param === 'prompt')
    await assert.rejects(
      workers.tokenize({kind: 'chat', messages: [{role: 'user', content: huge}], addGenerationPrompt: true}),
      (error: unknown) => error instanceof ContextLengthError && error.param === 'messages',
    )
  })
  it('refuses more messages than the context has tokens before rendering them (100,000 empty ones took 5 s to render)', () => {
    let renders = 0
    const counting = Object.create(tokenizer) as Tokenizer
    counting.applyChatTemplate = (...args) => (renders++, tokenizer.applyChatTemplate(...args))
    const conversation = (count: number) => Array.from({length: count}, () => ({role: 'user', content: ''}))
    assert.throws(
      () => runTokenizeJob(counting, {kind: 'chat', messages: conversation(513), addGenerationPrompt: true}, 512),
      (error: unknown) => error instanceof ContextLengthError && error.param === 'messages' && /513 messages/.test(error.message),
    )
    assert.equal(renders, 0)
    assert.ok(runTokenizeJob(counting, {kind: 'chat', messages: conversation(4), addGenerationPrompt: true}, 512).length > 4)
    assert.equal(renders, 1)
  })

  it('parses big bodies in a worker: huge prompts refused there, other bodies returned whole, bad bytes a 400', async () => {
    const huge = Buffer.from(JSON.stringify({messages: [{role: 'user', content: [{type: 'text', text: 'hello '.repeat(100_000)}]}]}))
    await assert.rejects(workers.checkBody(huge, 'chat', CHECKS), (error: unknown) => error instanceof ContextLengthError && error.param === 'messages')
    const big = {tokens: [1], user: 'u'.repeat(200_000)}
    assert.deepEqual(await workers.checkBody(Buffer.from(JSON.stringify(big)), 'detokenize', CHECKS), {body: big})
    const badBytes = Buffer.concat([Buffer.from(`{"prompt": "${'a'.repeat(100_000)}`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
    await assert.rejects(workers.checkBody(badBytes, 'completions', CHECKS), (error: unknown) => error instanceof InvalidRequestError && error.code === 'invalid_encoding')
    assert.deepEqual((await workers.checkBody(Buffer.from('{"prompt": ["a", "b"]}'), 'completions', CHECKS)).request.prompts, [{text: 'a'}, {text: 'b'}])
  })

  it("drops a waiting job whose client left, and answers a running one's caller at once, without mixing up later answers", async () => {
    const single = new TokenizerWorkers(modelDir, 512, 1, tokenizer)
    try {
      const left = new Error('client gone')
      const running = new AbortController()
      const waiting = new AbortController()
      // One worker: the first job runs, the second waits for it (a job is handed over only when a worker is free).
      const first = single.tokenize({kind: 'text', text: 'first', param: 'prompt'}, running.signal)
      const second = single.tokenize({kind: 'text', text: 'second', param: 'prompt'}, waiting.signal)
      const third = single.tokenize({kind: 'text', text: 'third', param: 'prompt'})
      assert.equal(single.numWaiting, 2)
      waiting.abort(left)
      // Posted straight to the worker, the job used to run and resolve for a caller long gone.
      await assert.rejects(second, (error: unknown) => error === left)
      assert.equal(single.numWaiting, 1)
      running.abort(left)
      await assert.rejects(first, (error: unknown) => error === left)
      // The first job's late answer is not taken for the third's.
      assert.deepEqual(await third, tokenizer.encode('third'))
      const aborted = new AbortController()
      aborted.abort(left)
      await assert.rejects(single.checkBody(Buffer.from(JSON.stringify({prompt: 'x'.repeat(100_000)})), 'completions', CHECKS, aborted.signal), (error: unknown) => error === left)
      assert.equal(single.numWaiting, 0)
      // Closing answers the running and the waiting jobs alike.
      const jobs = ['a', 'b'].map((text) => single.tokenize({kind: 'text', text, param: 'prompt'}).then(() => 'answered', (error: Error) => error.message))
      await single.close()
      assert.deepEqual(await Promise.all(jobs), ['the tokenizer workers are closed', 'the tokenizer workers are closed'])
    } finally {
      await single.close()
    }
  })

  it("replaces a worker whose job's client left while it ran, keeping the jobs that wait and answering them rightly", async () => {
    // Grace 0: the worker is stopped as the client leaves, so the test does not race the job's end.
    const single = new TokenizerWorkers(modelDir, 512, 1, tokenizer, undefined, 0)
    try {
      const left = new Error('client gone')
      const big = Buffer.from(JSON.stringify({messages: Array.from({length: 20_000}, (_, i) => ({role: i % 2 ? 'assistant' : 'user', content: 'x'}))}))
      // More stops in a row than the respawns allowed to failing workers: a stop is not a failure, the pool stays whole.
      for (let round = 1; round <= 5; round++) {
        const gone = new AbortController()
        const running = single.checkBody(Buffer.from(big), 'chat', CHECKS, gone.signal)
        const waiting = single.tokenize({kind: 'text', text: `after ${round}`, param: 'prompt'})
        assert.equal(single.numWaiting, 1)
        gone.abort(left)
        await assert.rejects(running, (error: unknown) => error === left)
        // Before, the gone client's check ran to its end in the only worker; now that worker is gone and replaced.
        assert.equal(single.goneJobsStopped, round)
        assert.deepEqual(await waiting, tokenizer.encode(`after ${round}`))
      }
      // A job that waited (never ran) is only dropped: no worker is stopped for it.
      const blocker = single.tokenize({kind: 'text', text: 'blocker', param: 'prompt'})
      const gone = new AbortController()
      const dropped = single.tokenize({kind: 'text', text: 'dropped', param: 'prompt'}, gone.signal)
      gone.abort(left)
      await assert.rejects(dropped, (error: unknown) => error === left)
      assert.deepEqual(await blocker, tokenizer.encode('blocker'))
      assert.equal(single.goneJobsStopped, 5)
    } finally {
      await single.close()
    }
  })

  it('stops a running check whose client left at its next checkpoint, keeping its worker', async () => {
    const patient = new TokenizerWorkers(modelDir, 512, 1, tokenizer, undefined, 600_000)
    try {
      const big = Buffer.from(JSON.stringify({messages: Array.from({length: 20_000}, (_, i) => ({role: i % 2 ? 'assistant' : 'user', content: 'x'}))}))
      const gone = new AbortController()
      const running = patient.checkBody(big, 'chat', CHECKS, gone.signal)
      const next = patient.tokenize({kind: 'text', text: 'next', param: 'prompt'})
      gone.abort(new Error('client gone'))
      await assert.rejects(running)
      // The same worker answers the next job after the cancelled one's reply: before, the check ran to its end.
      assert.deepEqual(await next, tokenizer.encode('next'))
      assert.deepEqual([patient.goneJobsCancelled, patient.goneJobsStopped], [1, 0])
    } finally {
      await patient.close()
    }
  })

  it('lets a job whose client left finish within the grace: its worker is kept', async () => {
    const patient = new TokenizerWorkers(modelDir, 512, 1, tokenizer, undefined, 600_000)
    try {
      const gone = new AbortController()
      const running = patient.tokenize({kind: 'text', text: 'short', param: 'prompt'}, gone.signal)
      const next = patient.tokenize({kind: 'text', text: 'next', param: 'prompt'})
      gone.abort(new Error('client gone'))
      await assert.rejects(running)
      assert.deepEqual(await next, tokenizer.encode('next'))
      assert.deepEqual([patient.goneJobsCancelled, patient.goneJobsStopped], [0, 0])
    } finally {
      await patient.close()
    }
  })

  it('refuses JSON nested too deep to copy between threads as a 400, not a 500; brackets inside strings do not count', async () => {
    const deep = Buffer.from(`{"prompt": ${'['.repeat(500_000)}${']'.repeat(500_000)}}`)
    await assert.rejects(workers.checkBody(deep, 'completions', CHECKS), (error: unknown) => error instanceof InvalidRequestError && error.code === 'invalid_json')
    const bracketsInText = {tokens: [1], user: `${'[{'.repeat(50_000)} \\" ${'}]'.repeat(50_000)}`}
    assert.deepEqual(await workers.checkBody(Buffer.from(JSON.stringify(bracketsInText)), 'detokenize', CHECKS), {body: bracketsInText})
  })
})

describe("continue_final_message renders as transformers' apply_chat_template(continue_final_message=True)", () => {
  const fixtures = join(import.meta.dirname, 'fixtures')
  const reference = JSON.parse(readFileSync(join(fixtures, 'continue-final-message.json'), 'utf8')) as {
    specialTokens: Record<string, Record<string, string>>
    cases: {template: string; name: string; messages: unknown[]; output?: string; error?: string}[]
  }
  // The built-in model's template and test/fixtures' real ones, as scripts/continue-final-message-fixture.py read them.
  const source = (name: string) =>
    name === 'tinychat'
      ? (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'models', 'tinychat', 'tokenizer_config.json'), 'utf8')).chat_template as string)
      : readFileSync(join(fixtures, 'chat-templates', name), 'utf8')

  it('covers empty, whitespace-only and null text, text recurring in the markers, parts, special tokens and several templates', () => {
    assert.ok(reference.cases.length >= 30)
    assert.ok(new Set(reference.cases.map((testCase) => testCase.template)).size >= 8)
    assert.ok(reference.cases.some((testCase) => testCase.error !== undefined))
  })

  for (const testCase of reference.cases) {
    it(`${testCase.template}: ${testCase.name}`, () => {
      const template = new ChatTemplate(source(testCase.template))
      // The messages as the server parses a request's (text parts, null content), rendered in the template's own format.
      const messages = parseMessages({messages: testCase.messages})
      const render = () => renderOpenFinalMessage(messages, (chat) => template.render(chat, reference.specialTokens[testCase.template]!, {addGenerationPrompt: false}))
      if (testCase.error === undefined) return assert.equal(render(), testCase.output)
      assert.throws(render, (error: unknown) => error instanceof InvalidRequestError && error.param === 'continue_final_message')
    })
  }

  it('is what a chat tokenize job gives, in a worker too', async () => {
    const modelDir = await ensureTestModel('tiny')
    const tokenizer = Tokenizer.load(modelDir)
    const workers = new TokenizerWorkers(modelDir, 512, 1, tokenizer)
    try {
      const messages = parseMessages({messages: [{role: 'user', content: 'hi'}, {role: 'assistant', content: ''}]})
      const job = {kind: 'chat', messages, addGenerationPrompt: false, continueFinalMessage: true} as const
      const open = tokenizer.encode(renderOpenFinalMessage(messages, (chat) => tokenizer.applyChatTemplate(chat, {addGenerationPrompt: false})), {addSpecialTokens: false})
      assert.deepEqual(runTokenizeJob(tokenizer, job, 512), open)
      assert.deepEqual(await workers.tokenize(job), open)
      // Empty text opens the turn: the closed one is longer (its end-of-turn marker).
      assert.ok(runTokenizeJob(tokenizer, {...job, continueFinalMessage: false}, 512).length > open.length)
      const noText = {...job, messages: parseMessages({messages: [{role: 'user', content: 'hi'}, {role: 'assistant', content: null}]})}
      await assert.rejects(workers.tokenize(noText), (error: unknown) => error instanceof InvalidRequestError && error.param === 'continue_final_message')
    } finally {
      await workers.close()
    }
  })
})
