// The HTTP server over a scripted fake engine: endpoints, SSE, errors, auth, limits, disconnects and shutdown.
import assert from 'node:assert/strict'
import {request as httpRequest} from 'node:http'
import {describe, it} from 'node:test'
import type {ErrorReply} from '../src/server/error-reply.js'
import type {RequestHandleLike} from '../src/server/engine-like.js'
import {FAKE_SCRIPT, FakeEngine, failingAfterFirstOutput} from './support/fake-engine.js'
import {post, sseEvents, start, waitFor} from './support/server-harness.js'

describe('server state and simple routes', () => {
  it('says loading (503) until the engine is attached, then ok', async () => {
    const {server, url, engine} = await start({}, new FakeEngine(), false)
    let response = await fetch(`${url}/health`)
    assert.equal(response.status, 503)
    assert.deepEqual(await response.json(), {status: 'loading'})
    const early = await post(`${url}/v1/completions`, {prompt: 'a'})
    assert.equal(early.status, 503)
    assert.equal(early.json().error.code, 'model_loading')
    server.attachEngine(engine)
    response = await fetch(`${url}/health`)
    assert.equal(response.status, 200)
    assert.deepEqual(await response.json(), {status: 'ok'})
  })

  it('answers /version, /v1/models, unknown routes (404) and wrong methods (405)', async () => {
    const {url} = await start()
    assert.deepEqual(await (await fetch(`${url}/version`)).json(), {version: '9.9.9'})
    const models = (await (await fetch(`${url}/v1/models`)).json()) as {object: string; data: {id: string; max_model_len: number}[]}
    assert.equal(models.object, 'list')
    assert.equal(models.data[0].id, 'fake-model')
    assert.equal(models.data[0].max_model_len, 256)
    const missing = await fetch(`${url}/v1/nothing`)
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as ErrorReply['body']).error.type, 'not_found_error')
    const wrongMethod = await fetch(`${url}/v1/completions`)
    assert.equal(wrongMethod.status, 405)
    assert.equal(wrongMethod.headers.get('allow'), 'POST')
    assert.equal(((await wrongMethod.json()) as ErrorReply['body']).error.type, 'invalid_request_error')
  })
})

describe('POST /v1/completions', () => {
  it('returns per-prompt x n choices in order with usage', async () => {
    const {url} = await start()
    const response = await post(`${url}/v1/completions`, {model: 'fake-model', prompt: ['ab', 'xyz'], n: 2, max_tokens: 5})
    assert.equal(response.status, 200)
    const body = response.json()
    assert.match(body.id, /^cmpl-[0-9a-f]{24}$/)
    assert.equal(body.object, 'text_completion')
    assert.equal(body.model, 'fake-model')
    assert.ok(Math.abs(body.created - Date.now() / 1000) < 5)
    assert.deepEqual(
      body.choices.map((choice: any) => [choice.index, choice.text, choice.finish_reason]),
      [
        [0, FAKE_SCRIPT.slice(0, 5), 'length'],
        [1, FAKE_SCRIPT.slice(1, 6), 'length'],
        [2, FAKE_SCRIPT.slice(0, 5), 'length'],
        [3, FAKE_SCRIPT.slice(1, 6), 'length'],
      ],
    )
    // BOS + one token per character.
    assert.deepEqual(body.usage, {prompt_tokens: 7, completion_tokens: 20, total_tokens: 27})
  })

  it('takes token-id prompts as they are', async () => {
    const {url, engine} = await start()
    const body = (await post(`${url}/v1/completions`, {prompt: [[120, 121], [122]], max_tokens: 2})).json()
    assert.equal(body.choices.length, 2)
    assert.equal(body.usage.prompt_tokens, 3)
    assert.equal(engine.stats().promptTokens, 3)
  })

  it('hands the engine bad_words already tokenized (by the prompt tokenizer: worker threads in serve), for every prompt and chat', async () => {
    const {url, engine} = await start()
    assert.equal((await post(`${url}/v1/completions`, {prompt: ['x', 'y'], max_tokens: 2, bad_words: ['ab', ' c']})).status, 200)
    assert.equal((await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], max_tokens: 2, bad_words: ['ab']})).status, 200)
    // One token per character: each word alone and after a space.
    const ab = [[97, 98], [32, 97, 98]]
    assert.deepEqual(
      engine.receivedParams.map((params) => params.badWordTokenIds),
      [[...ab, [32, 99]], [...ab, [32, 99]], ab],
    )
  })

  it('echoes the prompt, with prompt logprobs first when logprobs are asked for', async () => {
    const {url} = await start()
    const body = (await post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 3, echo: true, logprobs: 1})).json()
    const choice = body.choices[0]
    assert.equal(choice.text, `hi${FAKE_SCRIPT.slice(0, 3)}`)
    assert.deepEqual(choice.logprobs.tokens, ['', 'h', 'i', 't', 'h', 'e'])
    assert.deepEqual(choice.logprobs.token_logprobs, [null, -1, -1, -0.5, -0.5, -0.5])
    assert.deepEqual(choice.logprobs.text_offset, [0, 0, 1, 2, 3, 4])
    assert.deepEqual(choice.logprobs.top_logprobs[3], {t: -0.5})
  })

  it('stops at a stop string and reports it', async () => {
    const {url} = await start()
    const choice = (await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 30, stop: ['brown']})).json().choices[0]
    assert.equal(choice.text, 'the quick ')
    assert.equal(choice.finish_reason, 'stop')
    assert.equal(choice.stop_reason, 'brown')
  })

  it('streams deltas that add up to the full text, then usage, then [DONE]', async () => {
    const {url} = await start()
    const response = await post(`${url}/v1/completions`, {
      prompt: ['a', 'b'],
      n: 2,
      max_tokens: 6,
      stream: true,
      stream_options: {include_usage: true},
    })
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type')!, /^text\/event-stream/)
    const events = sseEvents(response.text)
    assert.equal(events.at(-1), '[DONE]')
    const usageChunk = events.at(-2)
    assert.deepEqual(usageChunk.choices, [])
    assert.deepEqual(usageChunk.usage, {prompt_tokens: 4, completion_tokens: 24, total_tokens: 28})
    const texts = new Map<number, string>()
    const finishes = new Map<number, string>()
    for (const chunk of events.slice(0, -2)) {
      assert.equal(chunk.usage, null)
      assert.equal(chunk.object, 'text_completion')
      for (const choice of chunk.choices) {
        texts.set(choice.index, (texts.get(choice.index) ?? '') + choice.text)
        if (choice.finish_reason) finishes.set(choice.index, choice.finish_reason)
      }
    }
    for (const index of [0, 1, 2, 3]) {
      assert.equal(texts.get(index), FAKE_SCRIPT.slice(index % 2, (index % 2) + 6))
      assert.equal(finishes.get(index), 'length')
    }
  })

  it('refuses prompt + max_tokens beyond the context with a 400 naming max_tokens', async () => {
    const {url} = await start()
    const response = await post(`${url}/v1/completions`, {prompt: 'hello', max_tokens: 1000})
    assert.equal(response.status, 400)
    const {error} = response.json()
    assert.equal(error.param, 'max_tokens')
    assert.equal(error.code, 'context_length_exceeded')
    assert.match(error.message, /maximum context length is 256 tokens/)
  })
})

describe('POST /v1/chat/completions', () => {
  it('answers through the chat template with role, content and usage', async () => {
    const {url} = await start()
    const body = (await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], max_tokens: 4})).json()
    assert.match(body.id, /^chatcmpl-/)
    assert.equal(body.object, 'chat.completion')
    assert.deepEqual(body.choices[0].message, {role: 'assistant', content: 'the '})
    assert.equal(body.choices[0].finish_reason, 'length')
    // '<user>hi\n<assistant>' is 20 characters, plus BOS.
    assert.deepEqual(body.usage, {prompt_tokens: 21, completion_tokens: 4, total_tokens: 25})
  })

  it('without max_tokens generates up to the room the context leaves', async () => {
    const {url} = await start({}, new FakeEngine({maxModelLen: 30}))
    const body = (await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}]})).json()
    assert.equal(body.usage.completion_tokens, 9)
  })

  it('streams the role first, then content deltas, then the finish reason, then usage', async () => {
    const {url} = await start()
    const response = await post(`${url}/v1/chat/completions`, {
      messages: [{role: 'user', content: 'hi'}],
      max_tokens: 3,
      stream: true,
      stream_options: {include_usage: true},
    })
    const events = sseEvents(response.text)
    assert.deepEqual(events[0].choices[0].delta, {role: 'assistant', content: ''})
    assert.equal(events[0].object, 'chat.completion.chunk')
    const contents = events.slice(1, 4).map((chunk: any) => chunk.choices[0].delta.content)
    assert.deepEqual(contents, ['t', 'h', 'e'])
    assert.deepEqual(events[4].choices[0].delta, {})
    assert.equal(events[4].choices[0].finish_reason, 'length')
    assert.deepEqual(events[5].choices, [])
    assert.equal(events[5].usage.completion_tokens, 3)
    assert.equal(events[6], '[DONE]')
  })

  it('returns chat logprobs with top alternatives', async () => {
    const {url} = await start()
    const body = (await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'x'}], max_tokens: 2, logprobs: true, top_logprobs: 2})).json()
    const first = body.choices[0].logprobs.content[0]
    assert.equal(first.token, 't')
    assert.equal(first.logprob, -0.5)
    assert.deepEqual(first.bytes, [116])
    assert.deepEqual(
      first.top_logprobs.map((entry: any) => entry.token),
      ['t', '_'],
    )
  })
})

describe('bad input never kills the server', () => {
  it('answers malformed JSON, wrong types and unknown models with OpenAI errors', async () => {
    const {url} = await start()
    const malformed = await post(`${url}/v1/completions`, '{"prompt": ')
    assert.equal(malformed.status, 400)
    assert.equal(malformed.json().error.code, 'invalid_json')
    const wrongType = await post(`${url}/v1/completions`, {prompt: 'a', max_tokens: 'many'})
    assert.equal(wrongType.status, 400)
    assert.deepEqual(Object.keys(wrongType.json().error).sort(), ['code', 'message', 'param', 'type'])
    assert.equal(wrongType.json().error.param, 'max_tokens')
    const unknownModel = await post(`${url}/v1/chat/completions`, {model: 'gpt-4', messages: [{role: 'user', content: 'x'}]})
    assert.equal(unknownModel.status, 404)
    assert.equal(unknownModel.json().error.code, 'model_not_found')
    assert.equal((await fetch(`${url}/health`)).status, 200)
  })

  it('refuses a body over the limit with 413 and keeps serving', async () => {
    const {url} = await start({maxBodyBytes: 1000})
    const response = await post(`${url}/v1/completions`, {prompt: 'x'.repeat(50_000)})
    assert.equal(response.status, 413)
    assert.equal(response.json().error.type, 'invalid_request_error')
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 1})).status, 200)
  })

  it('turns an unexpected exception into a generic, logged 500', async () => {
    const engine = new FakeEngine()
    engine.addRequest = (): RequestHandleLike => {
      throw new TypeError('secret internal detail')
    }
    const {url, logs} = await start({}, engine)
    const response = await post(`${url}/v1/completions`, {prompt: 'x'})
    assert.equal(response.status, 500)
    assert.equal(response.json().error.type, 'server_error')
    assert.doesNotMatch(response.text, /secret/)
    assert.ok(logs.some((line) => line.includes('secret internal detail')))
  })

  it('reports an engine failure after streaming began in-band, then [DONE]', async () => {
    const engine = failingAfterFirstOutput(new FakeEngine())
    const {url} = await start({}, engine)
    const events = sseEvents((await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 5, stream: true})).text)
    assert.equal(events.at(-2).error.type, 'server_error')
    await waitFor(() => engine.stats().numRunning === 0, 'the failed request to be aborted')
  })
})

describe('API key', () => {
  it('requires the bearer key on /v1/* only', async () => {
    const {url} = await start({apiKey: 'sesame'})
    const missing = await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 1})
    assert.equal(missing.status, 401)
    assert.equal(missing.json().error.type, 'authentication_error')
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 1}, {authorization: 'Bearer wrong'})).status, 401)
    assert.equal((await fetch(`${url}/v1/models`)).status, 401)
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 1}, {authorization: 'Bearer sesame'})).status, 200)
    assert.equal((await fetch(`${url}/health`)).status, 200)
  })
})

describe('disconnects, limits and shutdown', () => {
  it('aborts the request and frees its blocks when the client disconnects mid-stream', async () => {
    const engine = new FakeEngine({stepMs: 5})
    const {server, url} = await start({}, engine)
    const controller = new AbortController()
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({prompt: 'x', max_tokens: 200, stream: true}),
      signal: controller.signal,
    })
    const reader = response.body!.getReader()
    await reader.read()
    assert.equal(engine.stats().numRunning, 1)
    assert.ok(engine.stats().kv.usedBlocks > 0)
    controller.abort()
    await waitFor(() => engine.stats().numRunning === 0, 'the engine request to be aborted')
    assert.equal(engine.stats().kv.usedBlocks, 0)
    assert.equal(engine.abortedRequestIds.length, 1)
    await waitFor(() => server.metrics.render(null).includes('pagedllm_http_responses_total{status="499"} 1'), 'the reply to count as 499')
  })

  it('aborts a non-streaming request whose client goes away', async () => {
    const engine = new FakeEngine({stepMs: 5})
    const {url} = await start({}, engine)
    await new Promise<void>((resolve) => {
      const request = httpRequest(`${url}/v1/completions`, {method: 'POST'})
      request.on('error', () => resolve())
      request.end(JSON.stringify({prompt: 'x', max_tokens: 200}))
      waitFor(() => engine.stats().numRunning === 1, 'the request to start').then(() => {
        request.destroy()
        resolve()
      })
    })
    await waitFor(() => engine.stats().numRunning === 0, 'the engine request to be aborted')
    assert.equal(engine.abortedRequestIds.length, 1)
  })

  it('queues beyond max concurrent requests and answers 503 beyond the queue', async () => {
    const engine = new FakeEngine({stepMs: 2})
    const {url} = await start({maxConcurrentRequests: 1, maxQueuedRequests: 1}, engine)
    const first = post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 20})
    await waitFor(() => engine.stats().numRunning === 1, 'the first request to run')
    const second = post(`${url}/v1/completions`, {prompt: 'y', max_tokens: 2})
    await new Promise((resolve) => setTimeout(resolve, 10))
    const third = await post(`${url}/v1/completions`, {prompt: 'z', max_tokens: 2})
    assert.equal(third.status, 503)
    assert.equal(third.json().error.code, 'server_overloaded')
    assert.equal((await first).status, 200)
    assert.equal((await second).status, 200)
    // The queued one ran only after the first finished.
    assert.equal(engine.receivedParams.length, 2)
  })

  it('shuts down gracefully: in-flight requests finish, then the engine stops', async () => {
    const engine = new FakeEngine({stepMs: 2})
    const {server, url} = await start({}, engine)
    const inFlight = post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 20, stream: true})
    await waitFor(() => engine.stats().numRunning === 1, 'the request to start')
    await server.shutdown(5000)
    const events = sseEvents((await inFlight).text)
    assert.equal(events.at(-2).choices[0].finish_reason, 'length')
    assert.equal(engine.shutdownCalled, true)
    await assert.rejects(fetch(`${url}/health`))
  })

  it('aborts requests still running when the grace period ends', async () => {
    const engine = new FakeEngine({stepMs: 5})
    const {server, url} = await start({}, engine)
    const streaming = post(`${url}/v1/completions`, {prompt: 'x', max_tokens: 250, stream: true})
    const plain = post(`${url}/v1/completions`, {prompt: 'y', max_tokens: 250})
    await waitFor(() => engine.stats().numRunning === 2, 'both requests to start')
    await server.shutdown(30)
    const events = sseEvents((await streaming).text)
    assert.equal(events.at(-2).error.code, 'shutting_down')
    const reply = await plain
    assert.equal(reply.status, 503)
    assert.equal(reply.json().error.code, 'shutting_down')
    assert.equal(engine.abortedRequestIds.length, 2)
    assert.equal(engine.shutdownCalled, true)
  })
})

describe('GET /metrics', () => {
  it('exposes engine gauges, token counters and latency histograms in Prometheus text format', async () => {
    const {url} = await start()
    await post(`${url}/v1/completions`, {prompt: 'abc', max_tokens: 4})
    const response = await fetch(`${url}/metrics`)
    assert.match(response.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/)
    const text = await response.text()
    const value = (series: string) => {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `))
      assert.ok(line, `missing series ${series}`)
      return Number(line.split(' ')[1])
    }
    assert.equal(value('pagedllm_num_requests_running'), 0)
    assert.equal(value('pagedllm_kv_blocks{state="free"}'), 1024)
    assert.equal(value('pagedllm_prompt_tokens_total'), 4)
    assert.equal(value('pagedllm_generation_tokens_total'), 4)
    assert.equal(value('pagedllm_time_to_first_token_seconds_count'), 1)
    assert.equal(value('pagedllm_time_per_output_token_seconds_count'), 1)
    assert.equal(value('pagedllm_e2e_request_latency_seconds_bucket{le="+Inf"}'), 1)
    assert.equal(value('pagedllm_request_success_total{finished_reason="length"}'), 1)
    assert.equal(value('pagedllm_http_responses_total{status="200"}'), 1)
    assert.match(text, /# TYPE pagedllm_e2e_request_latency_seconds histogram/)
    assert.equal(value('vllm:num_requests_running{model_name="fake-model"}'), 0)
    // Every sample line is `name{labels} number` (names may hold ':', as vLLM's do).
    for (const line of text.trim().split('\n').filter((candidate) => !candidate.startsWith('#')))
      assert.match(line, /^[a-z0-9_:]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$/)
  })
})
