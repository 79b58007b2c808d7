// POST /tokenize and /detokenize over the fake engine: vLLM's request and reply shapes, and 4xx for bad input.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {FAKE_BOS, FakeEngine} from './support/fake-engine.js'

describe('tokenize routes', () => {
  const engine = new FakeEngine()
  const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: '0', log: () => {}})
  let url = ''
  before(async () => {
    url = (await server.listen()).url
    server.attachEngine(engine)
  })
  after(() => server.shutdown(0))

  const post = async (path: string, body: unknown) => {
    const response = await fetch(url + path, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
    return {status: response.status, body: (await response.json()) as any}
  }

  it('tokenizes with the served tokenizer, BOS included unless add_special_tokens is false', async () => {
    const withBos = await post('/tokenize', {model: engine.modelName, prompt: 'hi!'})
    assert.equal(withBos.status, 200)
    assert.deepEqual(withBos.body, {count: 4, max_model_len: engine.maxModelLen, tokens: [FAKE_BOS, 104, 105, 33]})
    const bare = await post('/tokenize', {prompt: 'hi!', add_special_tokens: false})
    assert.deepEqual(bare.body.tokens, [104, 105, 33])
  })

  it('tokenizes a chat through the chat template, as /v1/chat/completions renders it', async () => {
    const messages = [
      {role: 'system', content: 'be brief'},
      {role: 'user', content: 'hi'},
    ]
    const reply = await post('/tokenize', {messages})
    assert.equal(reply.status, 200)
    const expected = engine.tokenizer.encode(engine.tokenizer.applyChatTemplate(messages, {addGenerationPrompt: true}), {addSpecialTokens: false})
    assert.deepEqual(reply.body, {count: expected.length, max_model_len: engine.maxModelLen, tokens: expected})
    const noPrompt = await post('/tokenize', {messages, add_generation_prompt: false})
    assert.ok(noPrompt.body.count < reply.body.count, 'the generation prompt adds tokens')
    // vLLM's chat_template_kwargs reach the template as variables (here one that overrides add_generation_prompt).
    const viaKwargs = await post('/tokenize', {messages, chat_template_kwargs: {add_generation_prompt: false}})
    assert.deepEqual(viaKwargs.body.tokens, noPrompt.body.tokens)
    // vLLM's documents reach the template as apply_chat_template(documents=...) passes them.
    const documents = [{title: 'Paris', text: 'capital of France'}]
    const withDocuments = await post('/tokenize', {messages, documents})
    const rendered = engine.tokenizer.encode(engine.tokenizer.applyChatTemplate(messages, {addGenerationPrompt: true, documents}), {addSpecialTokens: false})
    assert.deepEqual(withDocuments.body.tokens, rendered)
    assert.ok(engine.tokenizer.decode(withDocuments.body.tokens).includes('capital of France'))
  })

  it('counts text past the context, as vLLM does, whatever the tokenizer packs into a token; past 16 contexts a 400', async () => {
    // Under the size bound a text just past the context and four times past it are counted alike (the bound on bytes
    // per token once refused only the second, so a tokenizer's bound decided between a count and a 400).
    for (const length of [engine.maxModelLen + 1, engine.maxModelLen * 4]) {
      const reply = await post('/tokenize', {prompt: 'ab'.repeat(length / 2 + 1), add_special_tokens: false})
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      assert.equal(reply.body.count, 2 * Math.floor(length / 2 + 1))
      assert.equal(reply.body.max_model_len, engine.maxModelLen)
    }
    const chat = await post('/tokenize', {messages: [{role: 'user', content: 'x'.repeat(engine.maxModelLen * 2)}]})
    assert.equal(chat.status, 200, JSON.stringify(chat.body))
    assert.ok(chat.body.count > engine.maxModelLen * 2)
    const huge = await post('/tokenize', {prompt: 'x'.repeat(engine.maxModelLen * 16 * 4 + 1)})
    assert.equal(huge.status, 400)
    assert.equal(huge.body.error.param, 'prompt')
    assert.match(huge.body.error.message, /16 contexts/)
  })

  it('detokenizes back to the text', async () => {
    const reply = await post('/detokenize', {tokens: [FAKE_BOS, 104, 105]})
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.body, {prompt: 'hi'})
  })

  it('answers bad requests with OpenAI-style 4xx errors naming the field', async () => {
    const cases: [string, unknown, number, string | null][] = [
      ['/tokenize', {}, 400, 'prompt'],
      ['/tokenize', {prompt: 7}, 400, 'prompt'],
      ['/tokenize', {prompt: 'x', messages: [{role: 'user', content: 'hi'}]}, 400, 'messages'],
      ['/tokenize', {messages: []}, 400, 'messages'],
      ['/tokenize', {messages: [{role: 'robot', content: 'hi'}]}, 400, 'messages[0].role'],
      ['/tokenize', {messages: [{role: 'user', content: 'hi'}], tools: 'x'}, 400, 'tools'],
      ['/tokenize', {messages: [{role: 'user', content: 'hi'}], chat_template_kwargs: ['x']}, 400, 'chat_template_kwargs'],
      ['/tokenize', {messages: [{role: 'user', content: 'hi'}], documents: 'x'}, 400, 'documents'],
      ['/tokenize', {messages: [{role: 'user', content: 'hi'}], documents: [{text: 'a'}, 'b']}, 400, 'documents'],
      ['/tokenize', {prompt: 'x', model: 'other'}, 404, 'model'],
      ['/detokenize', {tokens: [1, 256]}, 400, 'tokens'],
      ['/detokenize', {tokens: 'abc'}, 400, 'tokens'],
      ['/detokenize', [], 400, null],
    ]
    for (const [path, body, status, param] of cases) {
      const reply = await post(path, body)
      assert.equal(reply.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(reply.body)}`)
      assert.equal(reply.body.error.param, param)
      assert.equal(typeof reply.body.error.message, 'string')
    }
  })
})
