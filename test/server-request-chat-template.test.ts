// A request's chat_template (refused unless serve --trust-request-chat-template, as vLLM) and serve --chat-template in the tokenizer workers.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {parseRequestTemplate} from '../src/engine/model/chat-template.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import type {ApiServer} from '../src/server/http-server.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'
import {post, startTinyEngineServer} from './support/server-harness.js'

const TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
const messages = [{role: 'user', content: 'hi'}]

const servers: ApiServer[] = []
after(async () => {
  for (const server of servers) await server.shutdown(0)
})

async function serving(...args: Parameters<typeof startTinyEngineServer>): Promise<string> {
  const {server, url} = await startTinyEngineServer(...args)
  servers.push(server)
  return url
}

describe("a request's chat_template", () => {
  let tinyDir = ''
  let untrusted = ''
  let trusted = ''
  before(async () => {
    tinyDir = await ensureTestModel('tiny')
    untrusted = await serving()
    trusted = await serving({trustRequestChatTemplate: true})
  })

  it('is a 400 naming --trust-request-chat-template on a server started without it (chat and /tokenize)', async () => {
    for (const path of ['/v1/chat/completions', '/tokenize']) {
      const reply = await post(`${untrusted}${path}`, {messages, chat_template: TEMPLATE, max_tokens: 1})
      assert.equal(reply.status, 400, reply.text)
      assert.equal(reply.json().error.param, 'chat_template')
      assert.match(reply.json().error.message, /--trust-request-chat-template/)
    }
  })

  it('renders instead of the model\'s on a server started with it', async () => {
    const expected = Tokenizer.load(tinyDir).encode('user: hi\nassistant:', {addSpecialTokens: false})
    const counted = await post(`${trusted}/tokenize`, {messages, chat_template: TEMPLATE})
    assert.equal(counted.status, 200, counted.text)
    assert.deepEqual(counted.json().tokens, expected)
    const chat = await post(`${trusted}/v1/chat/completions`, {messages, chat_template: TEMPLATE, max_tokens: 1})
    assert.equal(chat.status, 200, chat.text)
    assert.equal(chat.json().usage.prompt_tokens, expected.length)
    // Without one, the model's own template still renders.
    const own = await post(`${trusted}/tokenize`, {messages})
    assert.notDeepEqual(own.json().tokens, expected)
  })

  it('is a 400 on /v1/responses, trusted or not: vLLM\'s Responses API takes none (it was ignored without a word)', async () => {
    for (const url of [untrusted, trusted]) {
      const reply = await post(`${url}/v1/responses`, {input: 'hi', chat_template: TEMPLATE, max_output_tokens: 1})
      assert.equal(reply.status, 400, reply.text)
      assert.equal(reply.json().error.param, 'chat_template')
      assert.match(reply.json().error.message, /not taken by \/v1\/responses.*--chat-template.*\/v1\/chat\/completions/)
    }
    assert.equal((await post(`${trusted}/v1/responses`, {input: 'hi', chat_template: null, max_output_tokens: 1})).status, 200)
  })

  it('that does not parse, or runs past the render limits, is a 400 naming the problem', async () => {
    const broken = await post(`${trusted}/v1/chat/completions`, {messages, chat_template: '{% for m in messages %}', max_tokens: 1})
    assert.equal(broken.status, 400, broken.text)
    assert.equal(broken.json().error.param, 'chat_template')
    assert.match(broken.json().error.message, /^'chat_template' does not parse: /)
    const huge = await post(`${trusted}/v1/chat/completions`, {messages, chat_template: '{% for i in range(10**9) %}x{% endfor %}', max_tokens: 1})
    assert.equal(huge.status, 400, huge.text)
    assert.match(huge.json().error.message, /range\(\) of 1000000000 items/)
  })
})

describe('request templates are parsed once while they are among the last 8', () => {
  it('the same source gives the same parsed template; one pushed out by 8 newer ones is parsed again', () => {
    const first = parseRequestTemplate(TEMPLATE)
    assert.equal(parseRequestTemplate(TEMPLATE), first)
    for (let i = 0; i < 8; i++) parseRequestTemplate(`{{ ${i} }}`)
    assert.notEqual(parseRequestTemplate(TEMPLATE), first)
  })
})

describe('serve --chat-template on a model without one (GPT-2)', () => {
  let gpt2Dir = ''
  before(async () => {
    gpt2Dir = await ensureTestModel('tiny', {variant: 'gpt2'})
  })

  it('the engine chats with it, where it had no chat before', async () => {
    const url = await serving({}, gpt2Dir, {chatTemplate: TEMPLATE})
    const chat = await post(`${url}/v1/chat/completions`, {messages, max_tokens: 1})
    assert.equal(chat.status, 200, chat.text)
    assert.equal(chat.json().usage.prompt_tokens, Tokenizer.load(gpt2Dir).encode('user: hi\nassistant:', {addSpecialTokens: false}).length)
    const without = await serving({}, gpt2Dir)
    const refused = await post(`${without}/v1/chat/completions`, {messages, max_tokens: 1})
    assert.equal(refused.status, 400, refused.text)
    assert.match(refused.json().error.message, /no chat template.*--chat-template/)
  })

  it('the tokenizer workers render with it too, and a request template that does not parse stays a 400 across the thread', async () => {
    const tokenizer = Tokenizer.load(gpt2Dir)
    const workers = new TokenizerWorkers(gpt2Dir, 512, 1, tokenizer, TEMPLATE)
    try {
      const ids = await workers.tokenize({kind: 'chat', messages, addGenerationPrompt: true})
      assert.deepEqual(ids, tokenizer.encode('user: hi\nassistant:', {addSpecialTokens: false}))
      await assert.rejects(workers.tokenize({kind: 'chat', messages, addGenerationPrompt: true, chatTemplate: '{{ x'}), (error: Error & {param?: string}) => {
        assert.equal(error.constructor.name, 'InvalidRequestError')
        assert.equal(error.param, 'chat_template')
        return true
      })
    } finally {
      await workers.close()
    }
  })
})
