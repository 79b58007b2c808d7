// vLLM's OpenAI server, field by field, on /v1/chat/completions and /tokenize: the chat-only fields (tiny model, real engine).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {parseAllowedOrigins} from '../src/server/cors.js'
import type {ApiServer} from '../src/server/http-server.js'
import {post, sseEvents, startTinyEngineServer} from './support/server-harness.js'

let server: ApiServer
let url: string

const prefill = [
  {role: 'user', content: 'What is the answer?'},
  {role: 'assistant', content: 'The answer is'},
]
const chat = (body: object) => post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], ...body})

async function ok(body: object) {
  const reply = await chat(body)
  assert.equal(reply.status, 200, reply.text)
  return reply.json()
}

async function refused(body: object, param: string) {
  const reply = await chat(body)
  assert.equal(reply.status, 400, reply.text)
  assert.equal(reply.json().error.param, param, reply.text)
  return reply.json().error.message as string
}

async function tokenize(body: object) {
  const reply = await post(`${url}/tokenize`, body)
  assert.equal(reply.status, 200, reply.text)
  return reply.json() as {count: number; tokens: number[]; token_strs?: string[]}
}

describe("chat completions as vLLM's server answers them", () => {
  before(async () => {
    ;({server, url} = await startTinyEngineServer({version: 'parity-chat'}))
  })
  after(async () => {
    await server.shutdown(0)
  })

  it('continue_final_message leaves the last message open (no end-of-turn after it), in /tokenize and in the prompt', async () => {
    const open = await tokenize({messages: prefill, add_generation_prompt: false, continue_final_message: true, return_token_strs: true})
    const closed = await tokenize({messages: prefill, add_generation_prompt: false, return_token_strs: true})
    assert.equal(open.token_strs!.length, open.count)
    // The vocabulary's strings (vLLM's convert_ids_to_tokens): a SentencePiece word keeps its '▁'.
    assert.equal(open.token_strs!.at(-1), '▁is')
    assert.ok(closed.count > open.count)
    assert.deepEqual(closed.tokens.slice(0, open.count), open.tokens)
    const reply = await ok({messages: prefill, add_generation_prompt: false, continue_final_message: true, max_tokens: 2})
    assert.equal(reply.usage.prompt_tokens, open.count)
    // add_generation_prompt defaults to false beside continue_final_message; both true is vLLM's 400.
    assert.equal((await ok({messages: prefill, continue_final_message: true, max_tokens: 1})).usage.prompt_tokens, open.count)
    await refused({messages: prefill, add_generation_prompt: true, continue_final_message: true}, 'continue_final_message')
  })

  it('continue_final_message: empty text opens the turn, no text (null, tool calls only, no text parts) is a 400, and any role may be continued', async () => {
    const question = prefill[0]!
    const withFinal = (content: unknown) => [question, {role: 'assistant', content}]
    const empty = await tokenize({messages: withFinal(''), continue_final_message: true, return_token_strs: true})
    const closed = await tokenize({messages: withFinal(''), add_generation_prompt: false})
    // The end-of-turn marker the closed rendering has after the empty text is what the open one leaves off.
    assert.ok(closed.count > empty.count)
    assert.deepEqual(closed.tokens.slice(0, empty.count), empty.tokens)
    assert.equal((await ok({messages: withFinal(''), continue_final_message: true, max_tokens: 1})).usage.prompt_tokens, empty.count)
    const call = {role: 'assistant', content: null, tool_calls: [{id: 'call_1', type: 'function', function: {name: 'f', arguments: '{}'}}]}
    for (const messages of [withFinal(null), withFinal([]), [question, call]]) {
      assert.match(await refused({messages, continue_final_message: true}, 'continue_final_message'), /no text to continue/)
      const reply = await post(`${url}/tokenize`, {messages, continue_final_message: true})
      assert.equal(reply.status, 400, reply.text)
      assert.equal(reply.json().error.param, 'continue_final_message')
    }
    const both = await post(`${url}/tokenize`, {messages: prefill, continue_final_message: true, add_generation_prompt: true})
    assert.equal(both.status, 400, both.text)
    assert.equal(both.json().error.param, 'continue_final_message')
    // As transformers and vLLM: a final user message is continued too, and the reply keeps its role.
    const userTurn = await ok({messages: [question], continue_final_message: true, max_tokens: 1})
    assert.equal(userTurn.choices[0].message.role, 'user')
  })

  it("echo puts the last message in front of the reply when it has the reply's role, streamed or not", async () => {
    const continued = {messages: prefill, continue_final_message: true, echo: true, max_tokens: 3, temperature: 0}
    const reply = await ok(continued)
    assert.equal(reply.choices[0].message.role, 'assistant')
    assert.ok(reply.choices[0].message.content.startsWith('The answer is'), reply.choices[0].message.content)
    const plain = await ok({...continued, echo: false})
    assert.equal(reply.choices[0].message.content, 'The answer is' + plain.choices[0].message.content)
    // As vLLM, an echoed chat comes with its prompt's logprobs; vLLM's replies always carry the key.
    assert.equal(reply.prompt_logprobs.length, reply.usage.prompt_tokens)
    assert.equal(plain.prompt_logprobs, null)
    const events = sseEvents((await chat({...continued, stream: true})).text).filter((event) => event !== '[DONE]')
    assert.equal(events.map((event) => event.choices[0]?.delta.content ?? '').join(''), reply.choices[0].message.content)
    // After a generation prompt the reply is a new assistant turn: the user's message is not echoed.
    const fresh = await ok({echo: true, max_tokens: 2, temperature: 0})
    assert.ok(!fresh.choices[0].message.content.startsWith('hi'))
  })

  it('top_logprobs 0 without logprobs is accepted (the openai client may send it); a positive one needs logprobs', async () => {
    assert.equal((await ok({top_logprobs: 0, max_tokens: 1})).choices[0].logprobs, null)
    await refused({top_logprobs: 2}, 'top_logprobs')
    const reply = await ok({logprobs: true, top_logprobs: 20, max_tokens: 2})
    assert.equal(reply.choices[0].logprobs.content[0].top_logprobs.length, 20)
    await refused({logprobs: true, top_logprobs: 21}, 'top_logprobs')
  })

  it('prompt_logprobs come back at the top of the reply; add_special_tokens puts a BOS before the template', async () => {
    const reply = await ok({prompt_logprobs: 1, max_tokens: 1})
    assert.equal(reply.prompt_logprobs.length, reply.usage.prompt_tokens)
    assert.equal(reply.prompt_logprobs[0], null)
    const plain = await ok({max_tokens: 1})
    const withBos = await ok({max_tokens: 1, add_special_tokens: true})
    assert.equal(withBos.usage.prompt_tokens, plain.usage.prompt_tokens + 1)
  })

  it('a template from the request, and image or audio parts, are clear 400s', async () => {
    await refused({chat_template: '{{ messages }}'}, 'chat_template')
    const tokenizeWithTemplate = await post(`${url}/tokenize`, {messages: [{role: 'user', content: 'hi'}], chat_template: '{{ messages }}'})
    assert.equal(tokenizeWithTemplate.status, 400)
    const image = await refused({messages: [{role: 'user', content: [{type: 'image_url', image_url: {url: 'data:image/png;base64,AA=='}}]}]}, 'messages[0].content')
    assert.match(image, /image_url/)
    const audio = await refused({messages: [{role: 'user', content: [{type: 'text', text: 'x'}, {type: 'input_audio', input_audio: {data: '', format: 'wav'}}]}]}, 'messages[0].content')
    assert.match(audio, /input_audio/)
    // The parts vLLM reads as text render as the same text parts do.
    const asText = await tokenize({messages: [{role: 'user', content: [{type: 'text', text: 'a'}, {type: 'text', text: 'b'}]}]})
    const asInputText = await tokenize({messages: [{role: 'user', content: [{type: 'input_text', text: 'a'}, {type: 'text', text: 'b'}]}]})
    assert.deepEqual(asInputText.tokens, asText.tokens)
    const refusal = await tokenize({messages: [{role: 'user', content: 'x'}, {role: 'assistant', content: [{type: 'refusal', refusal: 'no'}]}], add_generation_prompt: false})
    const plain = await tokenize({messages: [{role: 'user', content: 'x'}, {role: 'assistant', content: 'no'}], add_generation_prompt: false})
    assert.deepEqual(refusal.tokens, plain.tokens)
  })

  it('max_completion_tokens errors name max_completion_tokens; truncate_prompt_tokens applies to the rendered chat', async () => {
    await refused({max_completion_tokens: 0}, 'max_completion_tokens')
    const reply = await ok({truncate_prompt_tokens: 5, max_tokens: 1})
    assert.equal(reply.usage.prompt_tokens, 5)
  })

  it('streamed beam search sends each beam whole once chosen (vLLM streams it so)', async () => {
    const beams = {max_tokens: 4, use_beam_search: true, n: 2}
    const whole = await ok(beams)
    const events = sseEvents((await chat({...beams, stream: true})).text).filter((event) => event !== '[DONE]')
    for (const index of [0, 1]) {
      const text = events.filter((event) => event.choices[0]?.index === index).map((event) => event.choices[0].delta.content ?? '').join('')
      assert.equal(text, whole.choices[index].message.content)
      assert.equal(events.filter((event) => event.choices[0]?.index === index && event.choices[0].finish_reason !== null).length, 1)
    }
  })

  it("return_token_ids: the prompt's ids at the top, each choice's in it, streamed or not (vLLM)", async () => {
    const body = {max_tokens: 4, temperature: 0, ignore_eos: true, return_token_ids: true}
    const reply = await ok(body)
    assert.equal(reply.prompt_token_ids.length, reply.usage.prompt_tokens)
    assert.deepEqual(reply.prompt_token_ids, (await tokenize({messages: [{role: 'user', content: 'hi'}]})).tokens)
    assert.equal(reply.choices[0].token_ids.length, 4)
    const events = sseEvents((await chat({...body, stream: true})).text).filter((event) => event !== '[DONE]')
    assert.deepEqual(events[0].prompt_token_ids, reply.prompt_token_ids)
    assert.ok(events.slice(1).every((event) => !('prompt_token_ids' in event)))
    assert.deepEqual(events.flatMap((event) => event.choices[0].token_ids), reply.choices[0].token_ids)
  })

  it('continuous_usage_stats: every chunk has the counts so far, the role chunk none yet', async () => {
    const events = sseEvents((await chat({max_tokens: 3, stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}})).text).filter((e) => e !== '[DONE]')
    assert.equal(events[0].usage.completion_tokens, 0)
    const last = events.at(-1)
    assert.deepEqual(last.choices, [])
    assert.equal(last.usage.completion_tokens, 3)
    assert.ok(events.every((event) => event.usage.total_tokens === event.usage.prompt_tokens + event.usage.completion_tokens))
  })
})

describe("vLLM's smaller surfaces", () => {
  before(async () => {
    ;({server, url} = await startTinyEngineServer({version: 'parity-misc'}))
  })
  after(async () => {
    await server.shutdown(0)
  })

  it('tool_choice "required" with an empty tools list means no tools (vLLM, after OpenAI); "auto" or a name still needs tools', async () => {
    const reply = await ok({tools: [], tool_choice: 'required', max_tokens: 2})
    assert.equal(reply.choices[0].message.tool_calls, undefined)
    await refused({tools: [], tool_choice: {type: 'function', function: {name: 'f'}}}, 'tool_choice')
  })

  it("CORS as vLLM's default: a preflight is answered before the key is asked for, and replies allow any origin", async () => {
    const {server: keyed, url: keyedUrl} = await startTinyEngineServer({version: 'parity-cors', apiKey: 'k'})
    try {
      const preflight = await fetch(`${keyedUrl}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: {origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type'},
      })
      assert.equal(preflight.status, 200)
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*')
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/)
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'authorization, content-type')
      const headers = {origin: 'http://app.example', authorization: 'Bearer k'}
      const reply = await post(`${keyedUrl}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], max_tokens: 1}, headers)
      assert.equal(reply.status, 200)
      assert.equal(reply.headers.get('access-control-allow-origin'), '*')
      const streamed = await post(`${keyedUrl}/v1/completions`, {prompt: 'hi', max_tokens: 1, stream: true}, headers)
      assert.equal(streamed.headers.get('access-control-allow-origin'), '*')
      const denied = await post(`${keyedUrl}/v1/completions`, {prompt: 'hi'}, {origin: 'http://app.example'})
      assert.equal(denied.status, 401)
      assert.equal(denied.headers.get('access-control-allow-origin'), '*')
      // Without an Origin there is nothing to allow.
      assert.equal((await fetch(`${keyedUrl}/health`)).headers.get('access-control-allow-origin'), null)
    } finally {
      await keyed.shutdown(0)
    }
  })

  it('--allowed-origins narrows CORS to the origins listed: others get no CORS headers, and their preflight a 400 error', async () => {
    assert.deepEqual(parseAllowedOrigins(undefined), ['*'])
    assert.deepEqual(parseAllowedOrigins(['["https://ok.example", "http://localhost:3000"]', 'https://b.example']), ['https://ok.example', 'http://localhost:3000', 'https://b.example'])
    assert.throws(() => parseAllowedOrigins(['[1]']), /not an origin/)
    assert.throws(() => parseAllowedOrigins(['["x"']), /JSON list/)
    const {server: narrow, url: narrowUrl} = await startTinyEngineServer({version: 'parity-cors-narrow', allowedOrigins: ['https://ok.example']})
    try {
      const preflight = (origin: string) =>
        fetch(`${narrowUrl}/v1/completions`, {method: 'OPTIONS', headers: {origin, 'access-control-request-method': 'POST'}})
      const allowed = await preflight('https://ok.example')
      assert.equal(allowed.status, 200)
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://ok.example')
      const refused = await preflight('https://evil.example')
      assert.equal(refused.status, 400)
      assert.equal(refused.headers.get('access-control-allow-origin'), null)
      assert.equal(((await refused.json()) as {error: {code: string}}).error.code, 'cors_origin_not_allowed')
      const body = {prompt: 'hi', max_tokens: 1}
      assert.equal((await post(`${narrowUrl}/v1/completions`, body, {origin: 'https://ok.example'})).headers.get('access-control-allow-origin'), 'https://ok.example')
      const other = await post(`${narrowUrl}/v1/completions`, body, {origin: 'https://evil.example'})
      assert.equal(other.status, 200)
      assert.equal(other.headers.get('access-control-allow-origin'), null)
    } finally {
      await narrow.shutdown(0)
    }
  })

  it('unknown fields are ignored and named in the server log, as vLLM warns of them', async () => {
    const logs: string[] = []
    const {server: logged, url: loggedUrl} = await startTinyEngineServer({version: 'parity-log', log: (line: string) => logs.push(line)})
    try {
      const reply = await post(`${loggedUrl}/v1/completions`, {prompt: 'hi', max_tokens: 1, frobnicate: true, guided_regex: 'a'})
      assert.equal(reply.status, 200, reply.text)
      await post(`${loggedUrl}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], max_tokens: 1, mystery: 1, top_p: 0.5})
      assert.deepEqual(logs, ['ignored request fields: "frobnicate"', 'ignored request fields: "mystery"'])
    } finally {
      await logged.shutdown(0)
    }
  })

  it('/ping answers as /health does, on GET and POST', async () => {
    assert.equal((await fetch(`${url}/ping`)).status, 200)
    assert.equal((await fetch(`${url}/ping`, {method: 'POST'})).status, 200)
  })
})
