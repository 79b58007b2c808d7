// Issue 12 over the fake engine: prompt lists merged in linear work, admission in sequences and fairness, validation gaps, size checks before tokenizing.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineLike, RequestHandleLike, RequestOutput} from '../src/server/engine-like.js'
import type {ErrorReply} from '../src/server/error-reply.js'
import {ContextLengthError} from '../src/engine/errors.js'
import {InlinePromptTokenizer, type TokenizeJob} from '../src/server/prompt-tokenizer.js'
import {FakeEngine} from './support/fake-engine.js'
import {post, start, waitFor} from './support/server-harness.js'

/** Counts the promises raced in `body`: merging by racing every pending stream per output makes this grow with prompts squared. */
async function countRacedPromises<T>(body: () => Promise<T>): Promise<{result: T; raced: number}> {
  const originalRace = Promise.race
  let raced = 0
  Promise.race = function <U>(this: PromiseConstructor, values: Iterable<U>) {
    const list = [...values]
    raced += list.length
    return originalRace.call(this, list)
  } as typeof Promise.race
  try {
    return {result: await body(), raced}
  } finally {
    Promise.race = originalRace
  }
}

/** Counts next() calls on the prompts' output streams. */
function countingEngine(engine: FakeEngine): {engine: EngineLike; counts: {pulls: number}} {
  const counts = {pulls: 0}
  const wrapHandle = (handle: RequestHandleLike): RequestHandleLike => ({
    abort: () => handle.abort(),
    result: () => handle.result(),
    [Symbol.asyncIterator]() {
      const iterator = handle[Symbol.asyncIterator]()
      return {
        next: () => (counts.pulls++, iterator.next()),
        return: (value?: unknown) => iterator.return?.(value as RequestOutput) ?? Promise.resolve({done: true as const, value: undefined}),
      }
    },
  })
  const proxy = Object.create(engine) as EngineLike
  proxy.addRequest = (request) => wrapHandle(engine.addRequest(request))
  return {engine: proxy, counts}
}

describe('prompt lists', () => {
  it('stops tokenizing a list at its first refused prompt: no queue of doomed prompts is left in the tokenizer workers', async () => {
    const fake = new FakeEngine()
    const tokenizer = new (class extends InlinePromptTokenizer {
      calls = 0
      override async tokenize(job: TokenizeJob): Promise<number[]> {
        this.calls++
        if (job.kind === 'text' && job.text === 'too long') throw new ContextLengthError('too long for the context', 'prompt')
        await new Promise((resolve) => setTimeout(resolve, 5))
        return super.tokenize(job)
      }
    })(fake.tokenizer, fake.maxModelLen)
    const {url, server} = await start({}, fake, false)
    server.attachEngine(fake, tokenizer)
    // A whole window (64 prompts) went to the workers at once: 63 prompts tokenized for a request already refused.
    const reply = await post(`${url}/v1/completions`, {prompt: ['too long', ...Array.from({length: 63}, () => 'hi')], max_tokens: 1})
    assert.equal(reply.status, 400)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(tokenizer.calls <= 4, `${tokenizer.calls} prompts tokenized`)
    assert.equal((await post(`${url}/v1/completions`, {prompt: Array.from({length: 9}, (_, i) => `p${i}`), max_tokens: 1})).json().choices.length, 9)
  })

  it('merges 2,000 prompt streams with work linear in the outputs (case 1)', async () => {
    const fake = new FakeEngine({stepMs: 0})
    const {engine, counts} = countingEngine(fake)
    const {url} = await start({maxSequencesPerRequest: 4000, requestWindow: 4000, maxConcurrentRequests: 4000}, fake, false).then((running) => {
      running.server.attachEngine(engine)
      return running
    })
    const prompts = Array.from({length: 2000}, (_, index) => `p${index}`)
    const {result: reply, raced} = await countRacedPromises(() => post(`${url}/v1/completions`, {prompt: prompts, max_tokens: 2}))
    assert.equal(reply.status, 200)
    assert.equal(reply.json().choices.length, 2000)
    // Each prompt yields 2 snapshots and ends: at most 3 pulls each. Racing every pending stream once per
    // output would race millions of promises; a linear merge races none (what else races here is small).
    assert.ok(counts.pulls <= 3 * 2000, `pulls: ${counts.pulls}`)
    assert.ok(raced <= 2000, `promises raced: ${raced}`)
    assert.equal(fake.stats().kv.usedBlocks, 0)
  })

  it('refuses prompts x n beyond --max-sequences-per-request with a 400 naming it (case 4)', async () => {
    const {url, engine} = await start({maxSequencesPerRequest: 100})
    const reply = await post(`${url}/v1/completions`, {prompt: Array.from({length: 51}, () => 'a'), n: 2, max_tokens: 1})
    assert.equal(reply.status, 400)
    assert.equal(reply.json().error.code, 'too_many_sequences')
    assert.match(reply.json().error.message, /102 sequences.*--max-sequences-per-request/)
    assert.equal(engine.receivedParams.length, 0)
    const bestOf = await post(`${url}/v1/completions`, {prompt: 'a', n: 1, best_of: 101, max_tokens: 1})
    assert.equal(bestOf.status, 400)
    assert.equal(bestOf.json().error.param, 'n')
    assert.equal((await post(`${url}/v1/completions`, {prompt: Array.from({length: 50}, () => 'a'), n: 2, max_tokens: 1})).status, 200)
  })

  it('serves normal requests sent beside a huge prompt list before the list finishes (case 4)', async () => {
    // The engine runs 8 sequences at a time, first come first served, as the real scheduler does.
    const engine = new FakeEngine({stepMs: 1, maxNumSeqs: 8})
    const {url} = await start({requestWindow: 4}, engine)
    const finishedOrder: string[] = []
    const big = post(`${url}/v1/completions`, {prompt: Array.from({length: 300}, (_, index) => `big ${index}`), max_tokens: 3}).then((reply) => {
      finishedOrder.push('big')
      return reply
    })
    await waitFor(() => engine.receivedParams.length > 0, 'the big list to reach the engine')
    const normal = await Promise.all(
      [0, 1, 2].map((index) =>
        post(`${url}/v1/completions`, {prompt: `normal ${index}`, max_tokens: 3}).then((reply) => {
          finishedOrder.push(`normal ${index}`)
          return reply
        }),
      ),
    )
    assert.deepEqual(
      normal.map((reply) => reply.status),
      [200, 200, 200],
    )
    // The list still has prompts in the engine when the normal requests are done: they did not wait behind it.
    assert.ok(engine.stats().numRunning > 0, 'the prompt list finished before the normal requests')
    assert.equal((await big).status, 200)
    assert.equal(finishedOrder.at(-1), 'big', `finish order: ${finishedOrder.join(', ')}`)
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })

  it('counts --max-concurrent-requests in sequences: n = 2 fills two slots (case 4)', async () => {
    const engine = new FakeEngine({stepMs: 2})
    const {url} = await start({maxConcurrentRequests: 2, maxQueuedRequests: 0}, engine)
    const first = post(`${url}/v1/completions`, {prompt: 'x', n: 2, max_tokens: 30})
    await waitFor(() => engine.stats().numRunning === 1, 'the first request to run')
    const second = await post(`${url}/v1/completions`, {prompt: 'y', n: 2, max_tokens: 2})
    assert.equal(second.status, 503)
    assert.match(second.json().error.message, /2 of 2 sequences/)
    // One sequence is within an equal share (2 / 2): it takes the room beyond the capacity instead of waiting.
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'y', max_tokens: 2})).status, 200)
    assert.equal((await first).status, 200)
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'y', max_tokens: 2})).status, 200)
  })
})

describe('validation (case 6)', () => {
  it('refuses chat roles OpenAI does not have, naming the field', async () => {
    const {url} = await start()
    const reply = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}, {role: 'wizard', content: 'x'}]})
    assert.equal(reply.status, 400)
    assert.equal(reply.json().error.param, 'messages[1].role')
    // A tool message must say which call it answers (OpenAI requires tool_call_id).
    for (const role of ['system', 'developer', 'user', 'assistant', 'tool', 'function'])
      assert.equal((await post(`${url}/v1/chat/completions`, {messages: [{role, content: 'hi', ...(role === 'tool' ? {tool_call_id: 'call_1'} : {})}], max_tokens: 1})).status, 200, role)
    // A name that is not a string was dropped without a word; null is absent.
    const badName = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi', name: 5}]})
    assert.deepEqual([badName.status, badName.json().error.param], [400, 'messages[0].name'])
    assert.equal((await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi', name: null}], max_tokens: 1})).status, 200)
  })

  it('refuses a body that is not valid UTF-8 instead of replacing the bytes', async () => {
    const {url, engine} = await start()
    const body = Buffer.concat([Buffer.from('{"prompt": "a'), Buffer.from([0xff, 0xfe]), Buffer.from('", "max_tokens": 1}')])
    const reply = await fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body})
    assert.equal(reply.status, 400)
    assert.equal(((await reply.json()) as ErrorReply['body']).error.code, 'invalid_encoding')
    assert.equal(engine.receivedParams.length, 0)
  })

  it('takes the Authorization scheme in any case', async () => {
    const {url} = await start({apiKey: 'k'})
    for (const scheme of ['Bearer', 'bearer', 'BEARER'])
      assert.equal((await post(`${url}/v1/completions`, {prompt: 'a', max_tokens: 1}, {authorization: `${scheme} k`})).status, 200, scheme)
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'a', max_tokens: 1}, {authorization: 'Basic k'})).status, 401)
  })

  it('answers HEAD on GET routes with the status and no body', async () => {
    const {url} = await start()
    for (const path of ['/health', '/version', '/metrics', '/v1/models']) {
      const reply = await fetch(`${url}${path}`, {method: 'HEAD'})
      assert.equal(reply.status, 200, path)
      assert.equal(await reply.text(), '')
    }
  })
})

describe('prompt size (case 3)', () => {
  it('refuses text that cannot fit the context by its size, without tokenizing it', async () => {
    const engine = new FakeEngine({maxModelLen: 256})
    let encoded = 0
    const encode = engine.tokenizer.encode.bind(engine.tokenizer)
    engine.tokenizer.encode = (text, opts) => (encoded++, encode(text, opts))
    const {url} = await start({}, engine)
    const huge = 'hello '.repeat(200_000)
    const completion = await post(`${url}/v1/completions`, {prompt: huge})
    assert.equal(completion.status, 400)
    assert.equal(completion.json().error.code, 'context_length_exceeded')
    assert.match(completion.json().error.message, /1200000 bytes/)
    const chat = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: huge}]})
    assert.equal(chat.status, 400)
    assert.equal(chat.json().error.code, 'context_length_exceeded')
    assert.equal(encoded, 0)
    // Text at the bound is tokenized and judged by its token count as before.
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'x'.repeat(300)})).status, 400)
    assert.equal(encoded, 1)
  })
})

describe('clients that leave while their prompt waits for a tokenizer worker', () => {
  it("hands the request's signal to every tokenizer call, so a gone client's queued work is dropped", async () => {
    const fake = new FakeEngine()
    // Holds each job until its signal aborts: what a job queued behind busy workers sees of its client leaving.
    const tokenizer = new (class extends InlinePromptTokenizer {
      readonly aborted: string[] = []
      waits = 0
      hold = true
      private wait(kind: string, signal?: AbortSignal): Promise<void> {
        if (!this.hold) return Promise.resolve()
        this.waits++
        return new Promise((_, reject) => signal?.addEventListener('abort', () => (this.aborted.push(kind), reject(signal.reason)), {once: true}))
      }
      override async tokenize(job: TokenizeJob, signal?: AbortSignal): Promise<number[]> {
        await this.wait(job.kind, signal)
        return super.tokenize(job, signal)
      }
      override async badWordSequences(words: readonly string[], signal?: AbortSignal): Promise<number[][]> {
        await this.wait('badWords', signal)
        return super.badWordSequences(words, signal)
      }
    })(fake.tokenizer, fake.maxModelLen)
    const {url, server} = await start({}, fake, false)
    server.attachEngine(fake, tokenizer)
    const leave = async (path: string, body: unknown, count: number) => {
      const controller = new AbortController()
      const sent = fetch(`${url}${path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body), signal: controller.signal}).catch(() => {})
      await waitFor(() => tokenizer.waits === count + 1, `${path} to wait for the tokenizer`)
      controller.abort()
      await sent
      await waitFor(() => tokenizer.aborted.length === count + 1, `${path}'s tokenizer job to see its client leave`)
    }
    await leave('/v1/completions', {prompt: 'hello', max_tokens: 2}, 0)
    await leave('/v1/chat/completions', {messages: [{role: 'user', content: 'hi'}], max_tokens: 2}, 1)
    await leave('/tokenize', {prompt: 'hello'}, 2)
    await leave('/v1/completions', {prompt: [1, 2], max_tokens: 2, bad_words: ['x']}, 3)
    assert.deepEqual(tokenizer.aborted, ['text', 'chat', 'text', 'badWords'])
    assert.equal(fake.receivedParams.length, 0)
    tokenizer.hold = false
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'hello', max_tokens: 2})).status, 200)
  })
})
