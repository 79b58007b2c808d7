// vLLM's OpenAI server, field by field, on /v1/completions: what a client sending vLLM's fields sees (tiny model, real engine).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {ApiServer} from '../src/server/http-server.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'
import {post, sseEvents, startTinyEngineServer} from './support/server-harness.js'

let server: ApiServer
let engine: LLMEngine
let url: string

const complete = (body: object) => post(`${url}/v1/completions`, {prompt: 'hello', ...body})

async function ok(body: object) {
  const reply = await complete(body)
  assert.equal(reply.status, 200, reply.text)
  return reply.json()
}

async function refused(body: object, param: string) {
  const reply = await complete(body)
  assert.equal(reply.status, 400, reply.text)
  assert.equal(reply.json().error.param, param, reply.text)
  return reply.json().error.message as string
}

async function promptLength(prompt: string, addSpecialTokens = true): Promise<number> {
  const reply = await post(`${url}/tokenize`, {prompt, add_special_tokens: addSpecialTokens})
  return reply.json().count
}

describe("completions as vLLM's server answers them", () => {
  before(async () => {
    ;({server, engine, url} = await startTinyEngineServer({version: 'parity'}))
  })
  after(async () => {
    await server.shutdown(0)
  })

  it('max_tokens absent is 16; max_tokens null is the rest of the context', async () => {
    const absent = await ok({ignore_eos: true, temperature: 0})
    assert.equal(absent.usage.completion_tokens, 16)
    const rest = await ok({ignore_eos: true, temperature: 0, max_tokens: null})
    assert.equal(rest.usage.prompt_tokens + rest.usage.completion_tokens, engine.maxModelLen)
    assert.equal(rest.choices[0].finish_reason, 'length')
  })

  it("top_logprobs hold the chosen token besides the top k (logprobs 0: the chosen token alone), as vLLM's do", async () => {
    // Ids as names (return_tokens_as_token_ids) so that two tokens with the same text cannot share a key.
    for (const logprobs of [0, 1, 2]) {
      const reply = await ok({max_tokens: 12, temperature: 3, seed: 11, logprobs, return_tokens_as_token_ids: true})
      const {tokens, token_logprobs: tokenLogprobs, top_logprobs: top} = reply.choices[0].logprobs
      assert.equal(tokens.length, 12)
      tokens.forEach((token: string, i: number) => {
        assert.match(token, /^token_id:\d+$/)
        assert.equal(top[i][token], tokenLogprobs[i], `position ${i}: the chosen token is in top_logprobs`)
        const size = Object.keys(top[i]).length
        assert.ok(logprobs === 0 ? size === 1 : size === logprobs || size === logprobs + 1, `position ${i}: ${size} entries`)
      })
    }
  })

  it('echo with logprobs: prompt tokens first (the first one null), offsets running over the token texts', async () => {
    const reply = await ok({max_tokens: 3, logprobs: 1, echo: true, temperature: 0})
    const choice = reply.choices[0]
    const {tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets} = choice.logprobs
    assert.ok(choice.text.startsWith('hello'))
    assert.equal(tokens.length, reply.usage.prompt_tokens + reply.usage.completion_tokens)
    assert.equal(tokenLogprobs[0], null)
    assert.equal(top[0], null)
    assert.ok(tokenLogprobs.slice(1).every((value: number) => typeof value === 'number'))
    for (let i = 1; i < tokens.length; i++) assert.equal(offsets[i], offsets[i - 1] + tokens[i - 1].length, `offset ${i}`)
  })

  it('return_tokens_as_token_ids names tokens by id but leaves text_offset as it is for named tokens (running over their texts)', async () => {
    const request = {max_tokens: 6, logprobs: 0, temperature: 0, ignore_eos: true, skip_special_tokens: false}
    const offsets = async (body: object) => {
      const reply = await complete(body)
      assert.equal(reply.status, 200, reply.text)
      const choices = (body as {stream?: boolean}).stream ? sseEvents(reply.text).filter((event) => event !== '[DONE]').map((event) => event.choices[0]) : reply.json().choices
      return choices.flatMap((choice: any) => choice.logprobs.text_offset)
    }
    for (const stream of [false, true]) {
      for (const echo of [false, true]) {
        const named = await offsets({...request, echo, stream})
        assert.ok(named.at(-1) < 40, 'offsets of text, not of "token_id:N" names')
        assert.deepEqual(await offsets({...request, echo, stream, return_tokens_as_token_ids: true}), named, `stream ${stream}, echo ${echo}`)
      }
    }
  })

  it('prompt_logprobs come back per choice as vLLM shapes them; streaming refuses them', async () => {
    const reply = await ok({max_tokens: 2, prompt_logprobs: 2})
    const field = reply.choices[0].prompt_logprobs
    const {tokens: promptIds} = (await post(`${url}/tokenize`, {prompt: 'hello'})).json()
    assert.equal(field.length, promptIds.length)
    assert.equal(field[0], null)
    promptIds.slice(1).forEach((id: number, i: number) => {
      const entry = field[i + 1][String(id)]
      assert.ok(entry, `prompt token ${id} at ${i + 1}`)
      assert.ok(entry.logprob <= 0 && typeof entry.decoded_token === 'string')
      assert.ok(Object.keys(field[i + 1]).length <= 3)
      assert.ok(Object.values(field[i + 1]).some((other: any) => other.rank === 1))
    })
    // A prompt token below the top k still has its rank, counted over the whole row (vLLM's).
    const ranks = (await ok({prompt: 'The quick brown fox jumps over the lazy dog', max_tokens: 1, prompt_logprobs: 1})).choices[0].prompt_logprobs
    const outside = ranks.slice(1).map((entry: Record<string, {logprob: number; rank: number}>) => {
      const [own, top] = [Object.values(entry)[0]!, Object.values(entry).find((other) => other.rank === 1)!]
      assert.ok(Number.isInteger(own.rank) && own.rank >= 1, `rank ${own.rank}`)
      assert.equal(own.rank === 1, own.logprob >= top.logprob, 'rank 1 is the likeliest token')
      return own.rank > 1
    })
    assert.ok(outside.some(Boolean), 'some prompt token was not the likeliest (the tiny model is random)')
    // vLLM's replies carry the key whether or not they were asked for.
    assert.equal((await ok({max_tokens: 1})).choices[0].prompt_logprobs, null)
    await refused({prompt_logprobs: 1, stream: true}, 'prompt_logprobs')
    await refused({prompt_logprobs: -1}, 'prompt_logprobs')
  })

  it('a streamed echo with logprobs carries the prompt tokens in its first chunk', async () => {
    const events = sseEvents((await complete({max_tokens: 3, logprobs: 0, echo: true, stream: true, temperature: 0})).text).filter((event) => event !== '[DONE]')
    const first = events[0].choices[0]
    assert.ok(first.text.startsWith('hello'))
    assert.equal(first.logprobs.token_logprobs[0], null)
    const prompt = await promptLength('hello')
    assert.ok(first.logprobs.tokens.length >= prompt + 1, JSON.stringify(first.logprobs.tokens))
    const all = events.flatMap((event) => event.choices[0].logprobs.tokens)
    assert.equal(all.length, prompt + 3)
  })

  it('stream_options: include_usage defaults to true; continuous_usage_stats puts the counts so far in every chunk', async () => {
    const plain = sseEvents((await complete({max_tokens: 3, stream: true, stream_options: {}})).text)
    assert.deepEqual(plain.at(-2).usage, {prompt_tokens: 6, completion_tokens: 3, total_tokens: 9})
    const events = sseEvents((await complete({max_tokens: 4, stream: true, stream_options: {continuous_usage_stats: true}})).text).filter((e) => e !== '[DONE]')
    const counts = events.slice(0, -1).map((event) => event.usage.completion_tokens)
    assert.ok(counts.every((count, i) => count >= (counts[i - 1] ?? 1) && count >= 1), JSON.stringify(counts))
    assert.equal(counts.at(-1), 4)
    assert.ok(events.slice(0, -1).every((event) => event.usage.prompt_tokens === 6 && event.usage.total_tokens === 6 + event.usage.completion_tokens))
    assert.deepEqual(events.at(-1).usage, {prompt_tokens: 6, completion_tokens: 4, total_tokens: 10})
    const none = sseEvents((await complete({max_tokens: 2, stream: true, stream_options: {include_usage: null}})).text)
    assert.ok(none.every((event) => event === '[DONE]' || !('usage' in event)))
    // An empty stream_options asks for nothing a non-streamed reply lacks (vLLM accepts it).
    await ok({max_tokens: 1, stream_options: {}})
    await refused({max_tokens: 1, stream_options: {include_usage: true}}, 'stream_options')
  })

  it('logit_bias beyond +-100 is clamped and keys are read as Python ints, as vLLM does', async () => {
    for (const key of ['7', ' 7', '007']) {
      const reply = await ok({max_tokens: 4, temperature: 0, return_tokens_as_token_ids: true, logprobs: 0, logit_bias: {[key]: 1e6}})
      assert.deepEqual(reply.choices[0].logprobs.tokens, ['token_id:7', 'token_id:7', 'token_id:7', 'token_id:7'])
    }
    await refused({logit_bias: {'-1': 1}}, 'logit_bias')
    await refused({logit_bias: {'1.5': 1}}, 'logit_bias')
    await refused({logit_bias: {'100000': 1}}, 'logit_bias')
  })

  it('a streamed request whose sequences are chosen at the end (beams, best_of > n) gets one JSON reply, as vLLM sends', async () => {
    const beams = {max_tokens: 4, use_beam_search: true, n: 2}
    const streamed = await complete({...beams, stream: true})
    assert.equal(streamed.status, 200, streamed.text)
    assert.match(streamed.headers.get('content-type') ?? '', /application\/json/)
    const texts = (reply: any) => reply.choices.map((choice: any) => choice.text)
    assert.deepEqual(texts(streamed.json()), texts(await ok(beams)))
    const best = await complete({max_tokens: 3, n: 1, best_of: 3, seed: 5, stream: true})
    assert.equal(best.status, 200, best.text)
    assert.equal(best.json().choices.length, 1)
  })

  it("return_token_ids: the prompt's ids and each choice's, streamed or not (vLLM)", async () => {
    const body = {max_tokens: 5, temperature: 0, ignore_eos: true, return_token_ids: true}
    const reply = await ok(body)
    const {tokens: promptIds} = (await post(`${url}/tokenize`, {prompt: 'hello'})).json()
    const choice = reply.choices[0]
    assert.deepEqual(choice.prompt_token_ids, promptIds)
    assert.equal(choice.token_ids.length, 5)
    assert.equal((await post(`${url}/detokenize`, {tokens: choice.token_ids})).json().prompt, choice.text)
    const events = sseEvents((await complete({...body, stream: true})).text).filter((event) => event !== '[DONE]')
    assert.deepEqual(events[0].choices[0].prompt_token_ids, promptIds)
    assert.deepEqual(events.flatMap((event) => event.choices[0].token_ids), choice.token_ids)
    assert.equal((await ok({max_tokens: 1})).choices[0].token_ids, undefined)
  })

  it("an empty model name means the served model (vLLM); any other unknown name is a 404", async () => {
    await ok({model: '', max_tokens: 1})
    const reply = await complete({model: 'gpt-4', max_tokens: 1})
    assert.equal(reply.status, 404)
    assert.equal(reply.json().error.code, 'model_not_found')
  })

  it('seed is a 64-bit signed integer; the same seed gives the same text whatever runs beside it', async () => {
    await refused({seed: 2 ** 64}, 'seed')
    const seeded = {max_tokens: 8, temperature: 1.5, seed: 1234, n: 2}
    const alone = await ok(seeded)
    const crowd = await Promise.all([ok(seeded), ok({max_tokens: 8, prompt: 'other', n: 3}), ok(seeded), ok({max_tokens: 20, prompt: [5, 6, 7]})])
    const texts = (reply: any) => reply.choices.map((choice: any) => choice.text)
    assert.deepEqual(texts(crowd[0]), texts(alone))
    assert.deepEqual(texts(crowd[2]), texts(alone))
  })

  it('add_special_tokens: false leaves out the BOS; truncate_prompt_tokens keeps the last k tokens', async () => {
    const withBos = await ok({max_tokens: 1})
    const without = await ok({max_tokens: 1, add_special_tokens: false})
    assert.equal(without.usage.prompt_tokens, withBos.usage.prompt_tokens - 1)
    const truncated = await ok({max_tokens: 1, truncate_prompt_tokens: 3, echo: true, return_tokens_as_token_ids: true, logprobs: 0})
    assert.equal(truncated.usage.prompt_tokens, 3)
    const {tokens: ids} = (await post(`${url}/tokenize`, {prompt: 'hello'})).json()
    assert.deepEqual(truncated.choices[0].logprobs.tokens.slice(0, 3), ids.slice(-3).map((id: number) => `token_id:${id}`))
    await refused({truncate_prompt_tokens: engine.maxModelLen + 1}, 'truncate_prompt_tokens')
    await refused({truncate_prompt_tokens: 0}, 'truncate_prompt_tokens')
  })

  it('logits_processors and a non-zero priority are refused (vLLM without their flags), not silently ignored', async () => {
    await refused({logits_processors: ['my_module.Processor']}, 'logits_processors')
    await refused({priority: 5}, 'priority')
    await ok({max_tokens: 1, priority: 0, logits_processors: [], request_id: 'mine', cache_salt: 'x', vllm_xargs: {a: 1}})
  })

  it("replies carry vLLM's system_fingerprint (null) and /v1/models vLLM's model card fields", async () => {
    const reply = await ok({max_tokens: 1})
    assert.ok('system_fingerprint' in reply && reply.system_fingerprint === null)
    const models = (await (await fetch(`${url}/v1/models`)).json()) as {data: {root: string; parent: null; permission: unknown[]}[]}
    assert.equal(models.data[0]!.root, engine.modelName)
    assert.equal(models.data[0]!.parent, null)
    assert.deepEqual(models.data[0]!.permission, [])
  })
})

describe('truncate_prompt_tokens takes a prompt longer than the context (vLLM tokenizes, then keeps the last tokens)', () => {
  before(async () => {
    ;({server, engine, url} = await startTinyEngineServer({version: 'parity-truncate'}))
    // In worker threads, as `serve` tokenizes.
    server.attachEngine(engine, new TokenizerWorkers(await ensureTestModel('tiny'), engine.maxModelLen, 1, engine.tokenizer))
  })
  after(async () => {
    await server.shutdown(0)
  })

  it('on both endpoints, while the same prompt without it is refused as too long', async () => {
    const long = 'hello world, '.repeat(4000)
    const tooLong = await complete({prompt: long, max_tokens: 1})
    assert.equal(tooLong.status, 400)
    assert.equal(tooLong.json().error.code, 'context_length_exceeded')
    const reply = await ok({prompt: long, max_tokens: 2, truncate_prompt_tokens: 100})
    assert.equal(reply.usage.prompt_tokens, 100)
    const chatReply = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: long}], max_tokens: 2, truncate_prompt_tokens: 50})
    assert.equal(chatReply.status, 200, chatReply.text)
    assert.equal(chatReply.json().usage.prompt_tokens, 50)
    // Tokenizing costs time per byte: a prompt to truncate may hold 16 contexts' worth of text, not more.
    const huge = await complete({prompt: 'hello world, '.repeat(40_000), max_tokens: 1, truncate_prompt_tokens: 10})
    assert.equal(huge.status, 400)
    assert.match(huge.json().error.message, /16 contexts/)
  })
})
