// A request's prefix-cache hits in its usage (vLLM's num_cached_tokens): usage.prompt_tokens_details.cached_tokens on
// completions and chat behind serve --enable-prompt-tokens-details, usage.input_tokens_details.cached_tokens on
// /v1/responses always. Real engine on the tiny model (blocks of 16 tokens), plus the fake engine for the flag's shape.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {ApiServer} from '../src/server/http-server.js'
import {post, sseEvents, start, startTinyEngineServer} from './support/server-harness.js'

const BLOCK_SIZE = 16
const greedy = {temperature: 0, max_tokens: 2}
/** A prompt of about 110 tokens whose first block is its own (`lead`), so only a request with the same lead can hit it. */
const longPrompt = (lead: string) => `${lead}: ${'the quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun. '.repeat(2)}`

async function ok(url: string, body: object) {
  const reply = await post(url, body)
  assert.equal(reply.status, 200, reply.text)
  return reply
}

/** The usage of the last SSE chunk that has one (the final usage chunk of include_usage). */
function streamedUsage(text: string) {
  const chunks = sseEvents(text).filter((chunk) => chunk !== '[DONE]' && chunk.usage)
  return chunks.at(-1).usage
}

/** Cached tokens of a hit: whole blocks, short of the prompt's last token (which is always computed). */
function assertBlockHit(cached: number, promptTokens: number): void {
  assert.ok(cached > 0 && cached % BLOCK_SIZE === 0 && cached < promptTokens, `${cached} cached of ${promptTokens} prompt tokens`)
}

describe('cached_tokens with prefix caching (serve --enable-prompt-tokens-details)', () => {
  let server: ApiServer
  let url: string
  before(async () => {
    ;({server, url} = await startTinyEngineServer({version: 'cached-tokens', enablePromptTokensDetails: true}))
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('completions: the same long prompt twice gives 0, then whole blocks; streamed usage and n / prompt lists agree', async () => {
    const prompt = longPrompt('Apricot')
    const first = (await ok(`${url}/v1/completions`, {prompt, ...greedy})).json().usage
    assert.deepEqual(first.prompt_tokens_details, {cached_tokens: 0})
    const second = (await ok(`${url}/v1/completions`, {prompt, ...greedy})).json().usage
    assertBlockHit(second.prompt_tokens_details.cached_tokens, second.prompt_tokens)
    const hits = second.prompt_tokens_details.cached_tokens
    const streamed = await ok(`${url}/v1/completions`, {prompt, ...greedy, stream: true, stream_options: {include_usage: true}})
    assert.deepEqual(streamedUsage(streamed.text).prompt_tokens_details, {cached_tokens: hits})
    // n samples share the one prompt, counted once; each prompt of a list counts its own hits.
    const samples = (await ok(`${url}/v1/completions`, {prompt, n: 2, temperature: 1, seed: 3, max_tokens: 2})).json().usage
    assert.equal(samples.prompt_tokens_details.cached_tokens, hits)
    const list = (await ok(`${url}/v1/completions`, {prompt: [prompt, prompt], ...greedy})).json().usage
    assert.equal(list.prompt_tokens_details.cached_tokens, 2 * hits)
  })

  it('chat: 0, then whole blocks, in the JSON reply and the streamed usage', async () => {
    const messages = [{role: 'user', content: longPrompt('Blueberry')}]
    const first = (await ok(`${url}/v1/chat/completions`, {messages, ...greedy})).json().usage
    assert.deepEqual(first.prompt_tokens_details, {cached_tokens: 0})
    const second = (await ok(`${url}/v1/chat/completions`, {messages, ...greedy})).json().usage
    assertBlockHit(second.prompt_tokens_details.cached_tokens, second.prompt_tokens)
    const streamed = await ok(`${url}/v1/chat/completions`, {messages, ...greedy, stream: true, stream_options: {include_usage: true}})
    assert.deepEqual(streamedUsage(streamed.text).prompt_tokens_details, second.prompt_tokens_details)
  })

  it('/v1/responses: input_tokens_details.cached_tokens, whole and streamed', async () => {
    const input = longPrompt('Cherry')
    const body = {input, temperature: 0, max_output_tokens: 2}
    const first = (await ok(`${url}/v1/responses`, body)).json().usage
    assert.deepEqual(first.input_tokens_details, {cached_tokens: 0})
    const second = (await ok(`${url}/v1/responses`, body)).json().usage
    assertBlockHit(second.input_tokens_details.cached_tokens, second.input_tokens)
    const streamed = await ok(`${url}/v1/responses`, {...body, stream: true})
    const done = streamed.text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6))).at(-1)
    assert.match(done.type, /^response\.(completed|incomplete)$/)
    assert.deepEqual(done.response.usage.input_tokens_details, second.input_tokens_details)
  })
})

describe('cached_tokens without prefix caching', () => {
  let server: ApiServer
  let url: string
  before(async () => {
    ;({server, url} = await startTinyEngineServer({version: 'no-prefix-caching', enablePromptTokensDetails: true}, undefined, {enablePrefixCaching: false}))
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('the same prompt twice reports 0 both times, on every route', async () => {
    const prompt = longPrompt('Damson')
    for (let i = 0; i < 2; i++) {
      const completion = (await ok(`${url}/v1/completions`, {prompt, ...greedy})).json().usage
      assert.deepEqual(completion.prompt_tokens_details, {cached_tokens: 0})
      const chat = (await ok(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: prompt}], ...greedy})).json().usage
      assert.deepEqual(chat.prompt_tokens_details, {cached_tokens: 0})
      const response = (await ok(`${url}/v1/responses`, {input: prompt, temperature: 0, max_output_tokens: 2})).json().usage
      assert.deepEqual(response.input_tokens_details, {cached_tokens: 0})
    }
  })
})

describe('--enable-prompt-tokens-details off (the default)', () => {
  it('completions and chat usage have no prompt_tokens_details, whole or streamed (as vLLM); /v1/responses still counts', async () => {
    const {url} = await start()
    const usage = async (path: string, body: object) => (await ok(`${url}${path}`, {...body, max_tokens: 2})).json().usage
    const streamed = async (path: string, body: object) => streamedUsage((await ok(`${url}${path}`, {...body, max_tokens: 2, stream: true, stream_options: {include_usage: true}})).text)
    const chat = {messages: [{role: 'user', content: 'hi'}]}
    for (const found of [await usage('/v1/completions', {prompt: 'hi'}), await usage('/v1/chat/completions', chat), await streamed('/v1/completions', {prompt: 'hi'}), await streamed('/v1/chat/completions', chat)]) {
      assert.ok(found.prompt_tokens > 0)
      assert.equal('prompt_tokens_details' in found, false)
    }
    const response = (await ok(`${url}/v1/responses`, {input: 'hi', max_output_tokens: 2})).json().usage
    assert.deepEqual(response.input_tokens_details, {cached_tokens: 0})
  })
})
