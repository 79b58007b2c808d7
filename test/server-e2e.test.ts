// The real server over the real engine on the tiny test model, driven by the official openai client and raw HTTP.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import type {ErrorReply} from '../src/server/error-reply.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'
import {runSoak} from './support/serve-soak-client.js'
import {waitFor} from './support/server-harness.js'

const API_KEY = 'e2e-key'
let engine: LLMEngine
let server: ApiServer
let baseUrl: string
let client: OpenAI
let model: string
/** Used blocks when idle (prefix-cache blocks count as free): what every workload must return to. */
let idleUsedBlocks: number
const serverLog: string[] = []

function raw(path: string, body: string, headers: Record<string, string> = {authorization: `Bearer ${API_KEY}`}) {
  return fetch(`${baseUrl}${path}`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}, body})
}

/** What the engine alone generates for the same prompt: the server must not change a token. */
async function offlineGreedy(prompt: string | number[], maxTokens: number): Promise<string> {
  const [output] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})}])
  return output!.outputs[0]!.text
}

describe('server end to end (tiny model)', () => {
  before(async () => {
    const modelPath = await ensureTestModel('tiny')
    engine = await LLMEngine.create(makeEngineConfig({modelPath, device: 'cpu', threads: 1, numBlocks: 256, blockSize: 16}))
    server = new ApiServer({
      ...DEFAULT_SERVER_OPTIONS,
      port: 0,
      apiKey: API_KEY,
      maxBodyBytes: 64 * 1024,
      version: 'e2e',
      log: (line) => serverLog.push(line),
    })
    baseUrl = (await server.listen()).url
    // Prompts are tokenized in worker threads, as `serve` does.
    server.attachEngine(engine, new TokenizerWorkers(modelPath, engine.maxModelLen, 1, engine.tokenizer))
    model = engine.modelName
    client = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: API_KEY, maxRetries: 0})
    idleUsedBlocks = engine.stats().kv.usedBlocks
  })

  after(async () => {
    await server.shutdown(1000)
  })

  it('lists the model', async () => {
    const models = await client.models.list()
    assert.deepEqual(
      models.data.map((entry) => entry.id),
      [model],
    )
  })

  it('completes a prompt exactly as the engine does offline, with usage', async () => {
    const completion = await client.completions.create({model, prompt: 'Hello there', max_tokens: 8, temperature: 0, ignore_eos: true} as any)
    assert.match(completion.id, /^cmpl-/)
    assert.equal(completion.choices[0]!.text, await offlineGreedy('Hello there', 8))
    assert.equal(completion.choices[0]!.finish_reason, 'length')
    assert.equal(completion.usage!.completion_tokens, 8)
    assert.equal(completion.usage!.prompt_tokens, engine.tokenizer.encode('Hello there').length)
  })

  it('streams completion deltas that add up to the same text, with usage last', async () => {
    const stream = await client.completions.create({
      model,
      prompt: 'Hello there',
      max_tokens: 8,
      temperature: 0,
      ignore_eos: true,
      stream: true,
      stream_options: {include_usage: true},
    } as any)
    let text = ''
    let usage: any = null
    let finishReason: string | null = null
    for await (const chunk of stream as any) {
      for (const choice of chunk.choices) {
        text += choice.text
        finishReason = choice.finish_reason ?? finishReason
      }
      if (chunk.usage) usage = chunk.usage
    }
    assert.equal(text, await offlineGreedy('Hello there', 8))
    assert.equal(finishReason, 'length')
    assert.equal(usage.completion_tokens, 8)
  })

  it('streams text that stops at a stop string exactly as the reply without streaming', async () => {
    const full = await offlineGreedy('Hello there', 12)
    const stop = full.slice(Math.floor(full.length / 2)).trim().slice(0, 3)
    assert.ok(stop.length > 0, `no stop string in ${JSON.stringify(full)}`)
    const request = {model, prompt: 'Hello there', max_tokens: 12, temperature: 0, ignore_eos: true, stop: [stop]}
    const whole: any = await client.completions.create(request as any)
    assert.equal(whole.choices[0].text, full.slice(0, full.indexOf(stop)))
    assert.equal(whole.choices[0].finish_reason, 'stop')
    let streamed = ''
    for await (const chunk of (await client.completions.create({...request, stream: true} as any)) as any) streamed += chunk.choices[0]?.text ?? ''
    assert.equal(streamed, whole.choices[0].text)
  })

  it('returns logprobs, and prompt logprobs with echo, from the engine', async () => {
    const prompt = 'Hello there'
    const promptLength = engine.tokenizer.encode(prompt).length
    const completion: any = await client.completions.create({model, prompt, max_tokens: 3, temperature: 0, ignore_eos: true, logprobs: 2, echo: true} as any)
    const choice = completion.choices[0]
    assert.ok(choice.text.startsWith(prompt))
    assert.equal(choice.logprobs.tokens.length, promptLength + 3)
    assert.equal(choice.logprobs.token_logprobs[0], null)
    for (const logprob of choice.logprobs.token_logprobs.slice(1)) assert.ok(logprob <= 0, `logprob ${logprob}`)
    // Greedy: the chosen token is the likeliest, so its logprob is the top entry's.
    for (const [position, top] of choice.logprobs.top_logprobs.slice(promptLength).entries()) {
      assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 2)
      assert.equal(Math.max(...(Object.values(top) as number[])), choice.logprobs.token_logprobs[promptLength + position])
    }

    const chat: any = await client.chat.completions.create({model, messages: [{role: 'user', content: 'x'}], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 3})
    const content = chat.choices[0].logprobs.content
    assert.equal(content.length, chat.usage.completion_tokens)
    assert.equal(content[0].top_logprobs.length, 3)
    assert.equal(content[0].top_logprobs[0].logprob, content[0].logprob)
  })

  it('answers chat through the chat template, streaming and not', async () => {
    const messages = [{role: 'user' as const, content: 'Say something'}]
    const chat = await client.chat.completions.create({model, messages, max_tokens: 6, temperature: 0, ignore_eos: true} as any)
    assert.match(chat.id, /^chatcmpl-/)
    assert.equal(chat.choices[0]!.message.role, 'assistant')
    const expected = await offlineGreedy(engine.tokenizer.encodeChat(messages, {addGenerationPrompt: true}), 6)
    assert.equal(chat.choices[0]!.message.content, expected)
    assert.equal(chat.usage!.total_tokens, chat.usage!.prompt_tokens + 6)

    const stream = await client.chat.completions.create({model, messages, max_tokens: 6, temperature: 0, ignore_eos: true, stream: true} as any)
    const deltas: any[] = []
    for await (const chunk of stream as any) deltas.push(chunk.choices[0])
    assert.equal(deltas[0].delta.role, 'assistant')
    assert.equal(deltas.map((choice) => choice.delta.content ?? '').join(''), expected)
    assert.equal(deltas.at(-1).finish_reason, 'length')
  })

  it('returns n choices per prompt for a list of prompts', async () => {
    const completion = await client.completions.create({model, prompt: ['one', 'two'], n: 3, max_tokens: 4, temperature: 1, seed: 7, ignore_eos: true} as any)
    assert.deepEqual(
      completion.choices.map((choice) => choice.index),
      [0, 1, 2, 3, 4, 5],
    )
    const promptTokens = engine.tokenizer.encode('one').length + engine.tokenizer.encode('two').length
    assert.deepEqual(completion.usage, {prompt_tokens: promptTokens, completion_tokens: 6 * 4, total_tokens: promptTokens + 24})
  })

  it('surfaces OpenAI errors as APIError with their status', async () => {
    await assert.rejects(client.completions.create({model: 'no-such-model', prompt: 'x'}), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError)
      assert.equal(error.status, 404)
      assert.equal(error.code, 'model_not_found')
      return true
    })
    await assert.rejects(client.completions.create({model, prompt: 'x', max_tokens: 100_000}), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError)
      assert.equal(error.param, 'max_tokens')
      assert.match(error.message, /maximum context length is \d+ tokens/)
      return true
    })
    await assert.rejects(client.chat.completions.create({model, messages: [{role: 'user', content: 'x'}], temperature: -3}), OpenAI.BadRequestError)
    const badKey = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: 'wrong', maxRetries: 0})
    await assert.rejects(badKey.models.list(), OpenAI.AuthenticationError)
  })

  it('answers bad raw HTTP with OpenAI error objects', async () => {
    const expectError = async (response: Response, status: number, param?: string) => {
      assert.equal(response.status, status)
      const {error} = (await response.json()) as ErrorReply['body']
      assert.equal(typeof error.message, 'string')
      assert.equal(typeof error.type, 'string')
      if (param !== undefined) assert.equal(error.param, param)
    }
    await expectError(await raw('/v1/completions', '{"model": "x", "prompt": '), 400)
    await expectError(await raw('/v1/completions', JSON.stringify({prompt: 'x', n: 'two'})), 400, 'n')
    await expectError(await raw('/v1/completions', JSON.stringify({prompt: [1, 2, 100_000]})), 400, 'prompt')
    await expectError(await raw('/v1/chat/completions', JSON.stringify({model: 'other', messages: [{role: 'user', content: 'x'}]})), 404, 'model')
    await expectError(await raw('/v1/completions', JSON.stringify({prompt: 'x'.repeat(100_000)})), 413)
    await expectError(await raw('/v1/completions', JSON.stringify({prompt: 'x'}), {}), 401)
    await expectError(await raw('/v1/completions', JSON.stringify({prompt: 'x'}), {authorization: 'Bearer nope'}), 401)
    assert.equal((await fetch(`${baseUrl}/health`)).status, 200)
  })

  it('frees the blocks of a streaming request as soon as its client disconnects', async () => {
    const stream = await client.completions.create({model, prompt: 'A long story', max_tokens: 400, ignore_eos: true, stream: true} as any)
    let chunks = 0
    for await (const _ of stream as any) {
      if (++chunks === 3) break
    }
    // Leaving the loop aborts the HTTP request; the server must abort the engine request at once.
    await waitFor(() => engine.stats().numRunning === 0 && engine.stats().numWaiting === 0, 'the aborted request to leave the engine')
    assert.equal(engine.stats().kv.usedBlocks, idleUsedBlocks)
  })

  it('survives a soak of 200 mixed requests, 32 at a time, without a failure or a leaked block', async () => {
    const result = await runSoak({
      baseUrl,
      apiKey: API_KEY,
      model,
      prompts: ['The quick brown fox', 'Once upon a time', 'In a hole in the ground', 'It was a bright cold day in April, and'],
      requests: 200,
      concurrency: 32,
      maxTokens: 6,
    })
    assert.deepEqual(result.failures, [])
    assert.equal(result.completed, 200)
    assert.equal(result.outputTokens, 200 * 6)
    await waitFor(() => engine.stats().numRunning === 0, 'the engine to go idle')
    assert.equal(engine.stats().kv.usedBlocks, idleUsedBlocks)
    assert.equal(serverLog.length, 0, serverLog.join('\n'))
  })
})
