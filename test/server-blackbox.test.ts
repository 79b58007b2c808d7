// A black-box acceptance pass on the HTTP API over the built-in tinychat model (SentencePiece vocabulary), as an outside tester writes it: the openai client, OpenAI's invariants, hostile input, then a healthy server with every KV block back.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'
import {assertLogprobsSpellReplies, postJson, sseEvents} from './support/blackbox-checks.js'
import {TINYCHAT_DIR} from './support/tinychat.js'

const MAX_CONNECTIONS = 100
let engine: LLMEngine
let server: ApiServer
let baseUrl: string
let client: OpenAI
let model: string
const chat = (content: string) => [{role: 'user' as const, content}]

/** Healthy, a normal request answered, and no KV block held once idle: what every hostile case must leave behind. */
async function assertRecovered(what: string): Promise<void> {
  const health = await fetch(`${baseUrl}/health`)
  assert.equal(health.status, 200, `${what}: /health ${health.status}`)
  const reply = await client.completions.create({model, prompt: 'Hello', max_tokens: 2})
  assert.equal(reply.choices.length, 1, what)
  const deadline = Date.now() + 5000
  while (engine.stats().kv.usedBlocks !== 0 || engine.stats().numRunning + engine.stats().numWaiting !== 0) {
    if (Date.now() > deadline) assert.fail(`${what}: ${engine.stats().kv.usedBlocks} KV blocks still in use when idle`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('black-box acceptance of the HTTP API (tinychat)', () => {
  before(async () => {
    // A 512-token context keeps the context-edge case short; batch-invariant float sums make a seeded sample the same beside others.
    engine = await LLMEngine.create(makeEngineConfig({modelPath: TINYCHAT_DIR, device: 'cpu', threads: 1, numBlocks: 256, blockSize: 16, maxModelLen: 512, batchInvariant: true}))
    server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: 'blackbox', log: () => {}, maxConnections: MAX_CONNECTIONS})
    baseUrl = (await server.listen()).url
    server.attachEngine(engine, new TokenizerWorkers(TINYCHAT_DIR, engine.maxModelLen, 1, engine.tokenizer))
    model = engine.modelName
    client = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0})
  })

  after(async () => {
    await server.shutdown(1000)
  })

  it("logprob tokens are the text they add: they join into the reply, text_offset points into it, a chat token's bytes spell it", async () => {
    await assertLogprobsSpellReplies(baseUrl)
  })

  it("GET /v1/models/{id} answers the openai client's models.retrieve; another name is OpenAI's 404 model_not_found", async () => {
    const card = await client.models.retrieve(model)
    assert.equal(card.id, model)
    assert.equal(card.object, 'model')
    const missing = await fetch(`${baseUrl}/v1/models/${encodeURIComponent('org/other model')}`)
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as {error: {code: string}}).error.code, 'model_not_found')
    await assert.rejects(client.models.retrieve('no-such-model'), (error: unknown) => error instanceof OpenAI.NotFoundError)
  })

  it('n seeded samples stream the same text and usage they return whole; usage counts the tokens returned', async () => {
    const request = {model, messages: chat('Tell me a story'), n: 3, max_tokens: 12, temperature: 1, seed: 11, logprobs: true, top_logprobs: 2}
    const whole = await client.chat.completions.create(request)
    const stream = await client.chat.completions.create({...request, stream: true, stream_options: {include_usage: true}})
    const texts = ['', '', '']
    const finishes: (string | null)[] = [null, null, null]
    let usage: OpenAI.CompletionUsage | undefined
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.delta.content ?? ''
        if (choice.finish_reason) finishes[choice.index] = choice.finish_reason
      }
      if (chunk.usage) usage = chunk.usage
    }
    assert.deepEqual(texts, whole.choices.map((choice) => choice.message.content))
    assert.deepEqual(finishes, whole.choices.map((choice) => choice.finish_reason))
    assert.deepEqual(usage, whole.usage)
    const returned = whole.choices.reduce((sum, choice) => sum + choice.logprobs!.content!.length, 0)
    assert.equal(whole.usage!.completion_tokens, returned)
    assert.equal(whole.usage!.total_tokens, whole.usage!.prompt_tokens + whole.usage!.completion_tokens)
  })

  it('beam search text is decoded after the prompt, as a sampled text is: the text the ids add to it, which their logprob tokens spell', async () => {
    const beams = await postJson(`${baseUrl}/v1/completions`, {model, prompt: 'Once upon', max_tokens: 8, ignore_eos: true, skip_special_tokens: false, use_beam_search: true, n: 2, logprobs: 1, return_token_ids: true})
    assert.equal(beams.status, 200, beams.text)
    const promptIds: number[] = beams.json.choices[0].prompt_token_ids
    const detokenized = async (tokens: number[]) => (await postJson(`${baseUrl}/detokenize`, {tokens})).json.prompt as string
    const promptText = await detokenized(promptIds)
    for (const choice of beams.json.choices) {
      assert.equal(choice.text, (await detokenized([...promptIds, ...choice.token_ids])).slice(promptText.length))
      assert.equal(choice.logprobs.tokens.join(''), choice.text)
    }
  })

  it('a seed gives the same text alone, beside other requests and in a list of prompts', async () => {
    const request = {model, prompt: 'Once upon a time', max_tokens: 10, temperature: 1, seed: 42}
    const alone = (await client.completions.create(request)).choices[0]!.text
    const [beside, , listed] = await Promise.all([
      client.completions.create(request),
      client.completions.create({...request, seed: 7, prompt: 'Something else entirely'}),
      client.completions.create({...request, prompt: ['Once upon a time', 'Once upon a time']}),
    ])
    assert.equal(beside.choices[0]!.text, alone)
    assert.deepEqual(listed.choices.map((choice) => choice.text), [alone, alone])
  })

  it('max_tokens fills the context exactly to max_model_len ("length"); one more is a 400 context_length_exceeded', async () => {
    const {count} = (await postJson(`${baseUrl}/tokenize`, {prompt: 'Hello'})).json
    const room = engine.maxModelLen - count
    const full = await client.completions.create({model, prompt: 'Hello', max_tokens: room, temperature: 0, ignore_eos: true} as OpenAI.CompletionCreateParamsNonStreaming)
    assert.deepEqual([full.usage!.completion_tokens, full.usage!.total_tokens, full.choices[0]!.finish_reason], [room, engine.maxModelLen, 'length'])
    const over = await postJson(`${baseUrl}/v1/completions`, {model, prompt: 'Hello', max_tokens: room + 1})
    assert.equal(over.status, 400)
    assert.deepEqual([over.json.error.code, over.json.error.param], ['context_length_exceeded', 'max_tokens'])
  })

  it('a wrong type in any field is a 4xx OpenAI error object, never a 5xx; the server then still serves', async () => {
    const values = ['[]', '{}', '"s"', '-1', '1e309', 'true', '1.5', '"\\ud800"', '[null]', '[[[]]]', '9007199254740993', '{"__proto__":1}']
    const fields = {
      '/v1/completions': ['prompt', 'max_tokens', 'n', 'best_of', 'logprobs', 'echo', 'stop', 'seed', 'logit_bias', 'stream_options', 'top_k', 'min_tokens', 'stop_token_ids', 'truncate_prompt_tokens', 'allowed_token_ids', 'prompt_logprobs', 'guided_json', 'guided_choice', 'bad_words', 'use_beam_search'],
      '/v1/chat/completions': ['messages', 'max_completion_tokens', 'top_logprobs', 'tools', 'tool_choice', 'response_format', 'chat_template_kwargs', 'continue_final_message', 'documents', 'temperature', 'top_p', 'presence_penalty'],
    }
    const base = {'/v1/completions': '"prompt":"hi","max_tokens":2', '/v1/chat/completions': '"messages":[{"role":"user","content":"hi"}],"max_tokens":2'}
    for (const [path, names] of Object.entries(fields) as [keyof typeof base, string[]][]) {
      for (const field of names) {
        for (const value of values) {
          const reply = await postJson(`${baseUrl}${path}`, `{${base[path]},"${field}":${value}}`)
          if (reply.status === 200) continue
          assert.ok(reply.status >= 400 && reply.status < 500, `${path} ${field}=${value}: HTTP ${reply.status} ${reply.text.slice(0, 200)}`)
          const {error} = reply.json
          assert.ok(typeof error.message === 'string' && typeof error.type === 'string' && 'param' in error && 'code' in error, `${field}=${value}: ${reply.text}`)
        }
      }
    }
    await assertRecovered('wrong types')
  })

  it('clients that leave mid-request (streams, n > 1, beams, best_of, prompt lists, guided, half a body) free every block', async () => {
    const long = {model, prompt: 'Once upon a time', max_tokens: 300, ignore_eos: true, temperature: 1}
    const bodies = [
      {...long, stream: true},
      long,
      {model, messages: chat('hi'), n: 4, max_tokens: 300, ignore_eos: true, temperature: 1, stream: true},
      {...long, n: 2, use_beam_search: true, temperature: 0},
      {...long, best_of: 3},
      {...long, prompt: Array.from({length: 80}, (_, i) => `prompt ${i}`), max_tokens: 40},
      {model, messages: chat('hi'), max_tokens: 300, response_format: {type: 'json_object'}},
    ]
    await Promise.all(
      bodies.map(async (body, index) => {
        const abort = new AbortController()
        const reply = fetch(`${baseUrl}${'messages' in body ? '/v1/chat/completions' : '/v1/completions'}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body), signal: abort.signal})
        setTimeout(() => abort.abort(), 100 + 60 * index)
        await reply.then((response) => response.text()).catch(() => {})
      }),
    )
    // Half a body, then gone.
    const halfBody = JSON.stringify(long).slice(0, 20)
    const {connect} = await import('node:net')
    const {port} = new URL(baseUrl)
    const socket = connect(Number(port), '127.0.0.1')
    socket.on('error', () => {})
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n${halfBody}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    await assertRecovered('clients that left')
  })

  it('more concurrent clients than --max-connections and than the queue: each gets a 200 or an OpenAI 503, none a reset', async () => {
    const replies = await Promise.all(
      Array.from({length: MAX_CONNECTIONS + 60}, async (_, index) => {
        const stream = index % 3 === 0
        const response = await fetch(`${baseUrl}/v1/completions`, {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: JSON.stringify({model, prompt: `Request ${index}`, max_tokens: 3, stream}),
        })
        const text = await response.text()
        if (response.status === 200) return stream ? (sseEvents(text), 'ok') : 'ok'
        assert.equal(response.status, 503, text)
        return JSON.parse(text).error.code ?? JSON.parse(text).error.type
      }),
    )
    assert.ok(replies.includes('ok'), 'some requests are served')
    assert.ok(replies.includes('too_many_connections'), `connections past the cap are told so: ${[...new Set(replies)]}`)
    await assertRecovered('a flood of clients')
  })
})
