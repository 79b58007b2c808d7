// /v1/responses through the real server and engine (tiny random model), driven by the openai client's responses.create:
// the same tokens as /v1/chat/completions, streamed events in order, structured output, a tool round trip, refusals.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {ApiServer} from '../src/server/http-server.js'
import {FakeEngine, failingAfterFirstOutput} from './support/fake-engine.js'
import {schemaErrors} from './support/guided-check.js'
import {translateResponsesRequest} from '../src/server/responses-request.js'
import {splitAmongTokens} from '../src/server/responses-output.js'
import {post, start, startTinyEngineServer, waitFor} from './support/server-harness.js'

let engine: LLMEngine
let server: ApiServer
let client: OpenAI
let baseUrl: string
const greedy = {temperature: 0, max_output_tokens: 12}
const weather = {
  type: 'object',
  properties: {city: {type: 'string', enum: ['Paris', 'Rome']}, days: {type: 'integer', minimum: 1, maximum: 7}},
  required: ['city', 'days'],
  additionalProperties: false,
}
const tools: OpenAI.Responses.FunctionTool[] = [{type: 'function', name: 'get_weather', description: 'Weather forecast', parameters: weather, strict: true}]

/** The same request through /v1/chat/completions: its text and token count. */
async function chatReply(body: object): Promise<{text: string; promptTokens: number; tokens: number; finish: string}> {
  const reply = await post(`${baseUrl}/v1/chat/completions`, body)
  assert.equal(reply.status, 200, reply.text)
  const json = reply.json()
  return {text: json.choices[0].message.content, promptTokens: json.usage.prompt_tokens, tokens: json.usage.completion_tokens, finish: json.choices[0].finish_reason}
}

/** Every event of a streamed responses.create, in order. */
async function events(body: OpenAI.Responses.ResponseCreateParamsNonStreaming): Promise<OpenAI.Responses.ResponseStreamEvent[]> {
  const seen: OpenAI.Responses.ResponseStreamEvent[] = []
  for await (const event of await client.responses.create({...body, stream: true})) seen.push(event)
  return seen
}

describe('/v1/responses (tiny model, openai client)', () => {
  before(async () => {
    ;({server, engine, url: baseUrl} = await startTinyEngineServer({version: 'responses'}))
    client = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0})
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('a string input gives the chat route\'s greedy reply, token for token, with the settings echoed', async () => {
    const response = await client.responses.create({model: engine.modelName, input: 'Hello there', ...greedy, metadata: {run: 'a'}, user: 'u1'})
    const chat = await chatReply({messages: [{role: 'user', content: 'Hello there'}], temperature: 0, max_completion_tokens: 12})
    assert.match(response.id, /^resp_[0-9a-f]{24}$/)
    assert.equal(response.object, 'response')
    assert.equal(response.output_text, chat.text)
    assert.deepEqual([response.usage!.input_tokens, response.usage!.output_tokens], [chat.promptTokens, chat.tokens])
    assert.equal(response.usage!.total_tokens, response.usage!.input_tokens + response.usage!.output_tokens)
    assert.deepEqual([response.temperature, response.max_output_tokens, response.metadata, response.user], [0, 12, {run: 'a'}, 'u1'])
    const [message] = response.output as OpenAI.Responses.ResponseOutputMessage[]
    const part = message!.content[0] as OpenAI.Responses.ResponseOutputText
    assert.deepEqual([message!.type, message!.role, part.type, part.annotations], ['message', 'assistant', 'output_text', []])
    // The tiny model rarely ends by itself in 12 tokens; either way the status follows the finish reason.
    assert.equal(response.status, chat.finish === 'length' ? 'incomplete' : 'completed')
  })

  it('instructions are a system message first, and an input list is the conversation, as chat renders them', async () => {
    const input: OpenAI.Responses.ResponseInputItem[] = [
      {role: 'user', content: 'Hi'},
      // A reply's message item sent back as it came (the SDK types it as an output message, with an id and status).
      {type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{type: 'output_text', text: 'Hello!', annotations: []}]},
      {role: 'user', content: [{type: 'input_text', text: 'And now?'}]},
    ]
    const response = await client.responses.create({input, instructions: 'Be brief.', ...greedy})
    const messages = [{role: 'system', content: 'Be brief.'}, {role: 'user', content: 'Hi'}, {role: 'assistant', content: 'Hello!'}, {role: 'user', content: 'And now?'}]
    const chat = await chatReply({messages, temperature: 0, max_completion_tokens: 12})
    assert.equal(response.output_text, chat.text)
    assert.equal(response.usage!.input_tokens, chat.promptTokens)
    assert.equal(response.instructions, 'Be brief.')
    const withoutInstructions = await chatReply({messages: messages.slice(1), temperature: 0, max_completion_tokens: 12})
    assert.ok(withoutInstructions.promptTokens < chat.promptTokens)
  })

  it('max_output_tokens cuts the reply: status incomplete, reason max_output_tokens, exactly that many tokens', async () => {
    const response = await client.responses.create({input: 'Count to ten', temperature: 0, max_output_tokens: 3, text: {format: {type: 'text'}}})
    assert.equal(response.status, 'incomplete')
    assert.deepEqual(response.incomplete_details, {reason: 'max_output_tokens'})
    assert.equal(response.usage!.output_tokens, 3)
    assert.equal((response.output[0] as OpenAI.Responses.ResponseOutputMessage).status, 'incomplete')
  })

  it('max_output_tokens past the room the prompt leaves is capped there, as vLLM\'s Responses API does (it was a 400); chat still refuses it', async () => {
    const response = await client.responses.create({input: 'Count to ten', temperature: 0, max_output_tokens: 10 ** 6})
    assert.ok(response.usage!.input_tokens + response.usage!.output_tokens <= engine.maxModelLen)
    assert.equal(response.max_output_tokens, 10 ** 6)
    const chat = await post(`${baseUrl}/v1/chat/completions`, {messages: [{role: 'user', content: 'Count to ten'}], max_tokens: 10 ** 6})
    assert.deepEqual([chat.status, chat.json().error.param], [400, 'max_tokens'])
  })

  it('streams typed events in order, numbered, whose deltas join to the non-streamed text', async () => {
    const body = {input: 'Tell me a story', ...greedy}
    const whole = await client.responses.create(body)
    const seen = await events(body)
    const types = seen.map((event) => event.type).filter((type, index, all) => type !== all[index - 1])
    const last = whole.status === 'completed' ? 'response.completed' : 'response.incomplete'
    assert.deepEqual(types, [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      last,
    ])
    assert.deepEqual(seen.map((event) => event.sequence_number), seen.map((_, index) => index))
    const text = seen.flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : [])).join('')
    assert.equal(text, whole.output_text)
    const end = seen[seen.length - 1] as OpenAI.Responses.ResponseCompletedEvent
    assert.equal((end.response.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0]!.type, 'output_text')
    const {input_tokens_details: streamedDetails, ...streamedUsage} = end.response.usage!
    const {input_tokens_details: wholeDetails, ...wholeUsage} = whole.usage!
    assert.deepEqual(streamedUsage, wholeUsage)
    // The stream sent the same prompt again: its one whole block (of 16 tokens) before the last token came from the prefix cache.
    assert.deepEqual([wholeDetails.cached_tokens, streamedDetails.cached_tokens], [0, 16])
  })

  it('text.format json_schema gives JSON that parses and matches the schema', async () => {
    const schema = {type: 'object', properties: {ok: {type: 'boolean'}, n: {type: 'integer', minimum: 0, maximum: 9}}, required: ['ok', 'n'], additionalProperties: false}
    const response = await client.responses.create({input: 'Give flags', temperature: 0, max_output_tokens: 150, text: {format: {type: 'json_schema', name: 'flags', schema, strict: true}}})
    assert.equal(response.status, 'completed')
    assert.equal(schemaErrors(schema, JSON.parse(response.output_text)), null)
    assert.equal(response.text!.format!.type, 'json_schema')
  })

  it('a tool round trip: a function_call item, then its output fed back as the chat route renders a tool turn', async () => {
    // With logprobs asked for: a call's tokens (no logprobs in this API) make no message item of their own.
    const first = await client.responses.create({input: 'Weather in Paris?', tools, tool_choice: {type: 'function', name: 'get_weather'}, temperature: 0, max_output_tokens: 40, top_logprobs: 2})
    assert.equal(first.output.length, 1)
    const [call] = first.output as OpenAI.Responses.ResponseFunctionToolCall[]
    assert.equal(call!.type, 'function_call')
    assert.equal(call!.name, 'get_weather')
    assert.match(call!.call_id, /^call_/)
    assert.equal(schemaErrors(weather, JSON.parse(call!.arguments)), null)
    assert.deepEqual(first.tools, tools)
    const input: OpenAI.Responses.ResponseInputItem[] = [
      {role: 'user', content: 'Weather in Paris?'},
      {type: 'function_call', call_id: call!.call_id, name: call!.name, arguments: call!.arguments},
      {type: 'function_call_output', call_id: call!.call_id, output: '{"forecast": "sun"}'},
    ]
    const second = await client.responses.create({input, tools, ...greedy})
    const messages = [
      {role: 'user', content: 'Weather in Paris?'},
      {role: 'assistant', content: null, tool_calls: [{id: call!.call_id, type: 'function', function: {name: call!.name, arguments: call!.arguments}}]},
      {role: 'tool', tool_call_id: call!.call_id, content: '{"forecast": "sun"}'},
    ]
    const chat = await post(`${baseUrl}/v1/chat/completions`, {messages, tools: [{type: 'function', function: {name: 'get_weather', description: 'Weather forecast', parameters: weather, strict: true}}], temperature: 0, max_completion_tokens: 12})
    const chatJson = chat.json()
    assert.equal(second.usage!.input_tokens, chatJson.usage.prompt_tokens)
    assert.equal(second.usage!.output_tokens, chatJson.usage.completion_tokens)
    // auto with the hermes parser: whatever the random model writes is read the same way on both routes.
    const calls = (chatJson.choices[0].message.tool_calls ?? []).length
    assert.equal(second.output.filter((item) => item.type === 'function_call').length, calls)
    if (calls === 0) assert.equal(second.output_text, chatJson.choices[0].message.content)
  })

  it('a streamed forced call (one: parallel_tool_calls false) sends its arguments as deltas, and they join to the call', async () => {
    const seen = await events({input: 'Weather?', tools, tool_choice: 'required', parallel_tool_calls: false, temperature: 0, max_output_tokens: 150})
    const added = seen.find((event) => event.type === 'response.output_item.added') as OpenAI.Responses.ResponseOutputItemAddedEvent
    assert.equal(added.item.type, 'function_call')
    const args = seen.flatMap((event) => (event.type === 'response.function_call_arguments.delta' ? [event.delta] : [])).join('')
    const done = seen.find((event) => event.type === 'response.function_call_arguments.done') as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent
    assert.equal(done.arguments, args)
    assert.equal(schemaErrors(weather, JSON.parse(args)), null)
    assert.equal(seen[seen.length - 1]!.type, 'response.completed')
  })

  it("logprobs (top_logprobs, include) are the chat route's for the same greedy request, whole and streamed", async () => {
    const input = 'Tell me about the sea'
    const chatBody = {messages: [{role: 'user', content: input}], temperature: 0, max_completion_tokens: 8, logprobs: true, top_logprobs: 3}
    const chat = (await post(`${baseUrl}/v1/chat/completions`, chatBody)).json().choices[0].logprobs.content
    assert.equal(chat.length, 8)
    const body = {input, temperature: 0, max_output_tokens: 8}
    const whole = (await post(`${baseUrl}/v1/responses`, {...body, top_logprobs: 3})).json()
    assert.deepEqual(whole.output[0].content[0].logprobs, chat)
    assert.equal(whole.top_logprobs, 3)
    // Streamed: each text delta carries its tokens' logprobs; they join into the part's, which the done events repeat.
    const seen = await events({...body, top_logprobs: 3, include: ['message.output_text.logprobs']})
    const deltas = seen.flatMap((event) => (event.type === 'response.output_text.delta' ? event.logprobs : []))
    assert.deepEqual(deltas, chat)
    const done = seen.find((event) => event.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent
    assert.deepEqual(done.logprobs, chat)
    // include alone: each chosen token's logprob, no alternatives; neither: none.
    const included = (await post(`${baseUrl}/v1/responses`, {...body, include: ['message.output_text.logprobs']})).json()
    assert.deepEqual(included.output[0].content[0].logprobs, chat.map((entry: object) => ({...entry, top_logprobs: []})))
    const plain = (await post(`${baseUrl}/v1/responses`, {...body, top_logprobs: 0})).json()
    assert.deepEqual(plain.output[0].content[0].logprobs, [])
  })

  it('malformed or unsupported bodies are 400s naming the Responses field', async () => {
    const cases: [object, string][] = [
      [{}, 'input'],
      [{input: []}, 'input'],
      [{input: [{role: 'robot', content: 'x'}]}, 'input[0].role'],
      [{input: [{role: 'user', content: 'x'}, {role: 'user', content: 7}]}, 'input[1].content'],
      [{input: [{role: 'user', content: [{type: 'input_image', image_url: 'x'}]}]}, 'input[0].content'],
      [{input: [{type: 'function_call_output', call_id: 'c', output: 5}]}, 'input[0].output'],
      [{input: [{type: 'item_reference', id: 'msg_1'}]}, 'input[0].type'],
      [{input: 'x', max_output_tokens: 0}, 'max_output_tokens'],
      [{input: 'x', temperature: 'hot'}, 'temperature'],
      [{input: 'x', tools: [{type: 'web_search'}]}, 'tools[0].type'],
      [{input: 'x', tools: [{type: 'function', name: 'bad name'}]}, 'tools[0].name'],
      [{input: 'x', tools, tool_choice: {type: 'function', name: 'nope'}}, 'tool_choice'],
      [{input: 'x', text: {format: {type: 'yaml'}}}, 'text.format.type'],
      [{input: 'x', text: {format: {type: 'json_schema', name: 's', schema: {type: 'object', properties: {a: {type: 'nope'}}}}}}, 'text.format'],
      [{input: 'x', previous_response_id: 'resp_1'}, 'previous_response_id'],
      [{input: [{type: 'reasoning', summary: [], encrypted_content: 'zzz'}]}, 'input[0].encrypted_content'],
      [{input: 'x', top_logprobs: 21}, 'top_logprobs'],
      [{input: 'x', top_logprobs: -1, include: ['message.output_text.logprobs']}, 'top_logprobs'],
      [{input: 'x', include: ['message.output_text.logprobz']}, 'include'],
      [{input: 'x', include: 'message.output_text.logprobs'}, 'include'],
      // Typed as vLLM types them (any value was taken before).
      [{input: 'x', service_tier: 'fastest'}, 'service_tier'],
      [{input: 'x', service_tier: 5}, 'service_tier'],
      [{input: 'x', max_tool_calls: 'many'}, 'max_tool_calls'],
      [{input: 'x', max_tool_calls: -1}, 'max_tool_calls'],
      [{input: 'x', reasoning: {summary: 'verbose'}}, 'reasoning.summary'],
      // Reasoning alone makes no message: before, "'input' must be a non-empty list" for a list that was not empty.
      [{input: [{type: 'reasoning', summary: [{type: 'summary_text', text: 'thinking'}]}]}, 'input'],
    ]
    for (const [body, param] of cases) {
      const reply = await post(`${baseUrl}/v1/responses`, body)
      assert.equal(reply.status, 400, `${JSON.stringify(body)}: ${reply.text}`)
      const error = reply.json().error
      assert.equal(error.type, 'invalid_request_error')
      assert.ok(error.param === param || error.param?.startsWith(`${param}.`), `${JSON.stringify(body)}: param ${error.param}, wanted ${param}`)
      // The message names the fields as the client sent them, not the chat fields they became.
      assert.doesNotMatch(error.message, /messages\[|\.function\.|response_format|max_completion_tokens|max_tokens/, error.message)
    }
    const wellFormed = await post(`${baseUrl}/v1/responses`, {input: 'x', service_tier: 'auto', max_tool_calls: 2, reasoning: {effort: 'low', summary: 'auto'}, max_output_tokens: 2})
    assert.equal(wellFormed.status, 200, wellFormed.text)
    const reasoningOnly = await post(`${baseUrl}/v1/responses`, {input: [{type: 'reasoning', summary: [{type: 'summary_text', text: 'thinking'}]}]})
    assert.match(reasoningOnly.json().error.message, /'input' has no message: reasoning items only/)
    const notJson = await post(`${baseUrl}/v1/responses`, '{"input": ')
    assert.equal(notJson.status, 400)
  })
})

describe('/v1/responses with --reasoning-parser qwen3 (tiny qwen3 model)', () => {
  it("the reasoning item and the usage are the chat reply's reasoning and usage", async () => {
    const running = await startTinyEngineServer({reasoningParser: 'qwen3', version: 'responses-qwen3'}, await ensureTestModel('tiny', {variant: 'qwen3'}))
    try {
      const response = (await post(`${running.url}/v1/responses`, {input: 'Hi', temperature: 0, max_output_tokens: 6})).json()
      const chat = (await post(`${running.url}/v1/chat/completions`, {messages: [{role: 'user', content: 'Hi'}], temperature: 0, max_tokens: 6})).json()
      const reasoning = response.output.find((item: any) => item.type === 'reasoning')
      assert.equal(reasoning.content[0].text, chat.choices[0].message.reasoning)
      assert.equal(response.usage.output_tokens_details.reasoning_tokens, chat.usage.completion_tokens_details.reasoning_tokens)
      assert.equal(response.usage.input_tokens, chat.usage.prompt_tokens)
    } finally {
      await running.server.shutdown(1000)
    }
  })
})

describe('/v1/responses with a reasoning parser and auto tool calls (scripted engine)', () => {
  const call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}</tool_call>'
  const script = `<think>They want weather</think>Checking.${call}`

  it('the thinking is a reasoning item, the call a function_call item, streamed and not alike', async () => {
    const {url} = await start({reasoningParser: 'deepseek_r1', toolCallParser: 'hermes'}, new FakeEngine({script}))
    const body = {input: 'Weather?', tools, max_output_tokens: script.length}
    const whole = (await post(`${url}/v1/responses`, body)).json()
    assert.deepEqual(
      whole.output.map((item: any) => item.type),
      ['reasoning', 'message', 'function_call'],
    )
    assert.equal(whole.output[0].content[0].text, 'They want weather')
    assert.equal(whole.output[1].content[0].text, 'Checking.')
    assert.deepEqual(JSON.parse(whole.output[2].arguments), {city: 'Paris', days: 2})
    // One token per character: the tags' tokens are not the reasoning's (the chat route's count).
    assert.equal(whole.usage.output_tokens_details.reasoning_tokens, 'They want weather'.length)
    const streamed = await post(`${url}/v1/responses`, {...body, stream: true})
    const seen = streamed.text.split('\n\n').filter((chunk) => chunk !== '').map((chunk) => {
      const [eventLine, dataLine] = chunk.split('\n')
      const data = JSON.parse(dataLine!.slice('data: '.length))
      assert.equal(eventLine, `event: ${data.type}`)
      return data
    })
    const end = seen[seen.length - 1]
    // Cut by max_output_tokens exactly at the call's end: the call is whole, the response incomplete, as the JSON reply.
    assert.equal(end.type, `response.${whole.status}`)
    const strip = (items: any[]) => items.map(({id, call_id, ...rest}) => rest)
    assert.deepEqual(strip(end.response.output), strip(whole.output))
    assert.ok(seen.some((event) => event.type === 'response.reasoning_text.delta'))
  })

  it("with logprobs, the message carries its own tokens' entries, streamed and not alike; reasoning, the end tag and the call none", async () => {
    const {url} = await start({reasoningParser: 'deepseek_r1', toolCallParser: 'hermes'}, new FakeEngine({script}))
    const body = {input: 'Weather?', tools, max_output_tokens: script.length, top_logprobs: 1}
    const whole = (await post(`${url}/v1/responses`, body)).json()
    const part = whole.output.find((item: any) => item.type === 'message').content[0]
    // One token per character.
    assert.equal(part.logprobs.map((entry: any) => entry.token).join(''), 'Checking.')
    const streamed = await post(`${url}/v1/responses`, {...body, stream: true})
    const seen = streamed.text.split('\n\n').filter((chunk) => chunk !== '').map((chunk) => JSON.parse(chunk.split('\n')[1]!.slice('data: '.length)))
    assert.deepEqual(seen.flatMap((event) => (event.type === 'response.output_text.delta' ? event.logprobs : [])), part.logprobs)
  })

  it('a delta\'s text is split among its tokens by their texts, past a half character and a skipped special token', () => {
    assert.deepEqual(splitAmongTokens('Hello world', ['Hel', 'lo', ' world']), ['Hel', 'lo', ' world'])
    assert.deepEqual(splitAmongTokens('Hi', ['Hi', '</s>']), ['Hi', ''])
    // Two byte tokens of one character (each decodes to U+FFFD alone): the character goes with the token after them.
    assert.deepEqual(splitAmongTokens('\u00e9t\u00e9', ['\ufffd', '\ufffd', 't', '\u00e9']), ['', '', '\u00e9t', '\u00e9'])
    assert.deepEqual(splitAmongTokens('abc', ['x']), ['abc'])
  })

  it("the SDK's stream helper rebuilds the same response from the events", async () => {
    const {url} = await start({reasoningParser: 'deepseek_r1', toolCallParser: 'hermes'}, new FakeEngine({script}))
    const sdk = new OpenAI({baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0})
    const body = {input: 'Weather?', tools, max_output_tokens: script.length}
    const whole = await sdk.responses.create(body)
    const final = await sdk.responses.stream(body).finalResponse()
    // The helper adds parsed fields of its own; the items' kinds, texts and arguments must agree.
    const essentials = (response: OpenAI.Responses.Response) =>
      response.output.map((item) => {
        if (item.type === 'function_call') return [item.type, item.name, item.arguments]
        if (item.type === 'message') return [item.type, (item.content[0] as OpenAI.Responses.ResponseOutputText).text]
        return [item.type, (item as OpenAI.Responses.ResponseReasoningItem).content?.[0]?.text]
      })
    assert.deepEqual(essentials(final), essentials(whole))
    assert.equal(final.output_text, 'Checking.')
  })

  it('an engine failure after the first event is an error event ending the stream', async () => {
    const {url} = await start({}, failingAfterFirstOutput(new FakeEngine({script: 'abc'})))
    const reply = await post(`${url}/v1/responses`, {input: 'x', stream: true})
    const chunks = reply.text.split('\n\n').filter((chunk) => chunk !== '')
    assert.deepEqual(chunks.map((chunk) => chunk.split('\n')[0]).slice(0, 2), ['event: response.created', 'event: response.in_progress'])
    const last = chunks[chunks.length - 1]!
    assert.match(last, /^event: error\n/)
    const error = JSON.parse(last.split('\n')[1]!.slice('data: '.length))
    assert.deepEqual([error.type, error.code, error.sequence_number], ['error', null, chunks.length - 1])
    assert.doesNotMatch(reply.text, /engine step failed/)
  })

  it('items sent back become chat turns: reasoning rides on the next assistant turn, a call joins the message before it', () => {
    const input = [
      {role: 'user', content: 'Hi'},
      {type: 'reasoning', id: 'rs_1', summary: [], content: [{type: 'reasoning_text', text: 'be nice'}]},
      {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'Checking.', annotations: []}]},
      {type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}'},
      {type: 'function_call_output', call_id: 'call_1', output: 'sun'},
    ]
    const {chat} = translateResponsesRequest({input, instructions: 'Be brief.', tools, text: {format: {type: 'json_object'}}})
    assert.deepEqual(chat.messages, [
      {role: 'system', content: 'Be brief.'},
      {role: 'user', content: 'Hi'},
      {role: 'assistant', content: input[2]!.content, reasoning: 'be nice', tool_calls: [{id: 'call_1', type: 'function', function: {name: 'get_weather', arguments: '{}'}}]},
      {role: 'tool', tool_call_id: 'call_1', content: 'sun'},
    ])
    assert.deepEqual(chat.tools, [{type: 'function', function: {name: 'get_weather', description: 'Weather forecast', parameters: weather, strict: true}}])
    assert.deepEqual(chat.response_format, {type: 'json_object'})
  })

  // A 4 MiB body holds ~50,000 call items: copying the turn's calls for each one held the event loop for minutes.
  it('a run of 50,000 function_call items joins one assistant turn in linear time', {timeout: 30_000}, () => {
    const input = Array.from({length: 50_000}, (_, i) => ({type: 'function_call', call_id: `c${i}`, name: 'f', arguments: '{}'}))
    const {chat} = translateResponsesRequest({input})
    const [turn] = chat.messages as {role: string; tool_calls: {id: string}[]}[]
    assert.equal(turn!.role, 'assistant')
    assert.deepEqual([turn!.tool_calls.length, turn!.tool_calls[49_999]!.id], [50_000, 'c49999'])
  })

  it('a client that leaves mid-stream aborts its request and frees its blocks', async () => {
    const fake = new FakeEngine({script: 'slow and steady ', stepMs: 5})
    const {url} = await start({}, fake)
    const controller = new AbortController()
    const response = await fetch(`${url}/v1/responses`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({input: 'Go', stream: true}), signal: controller.signal})
    const reader = response.body!.getReader()
    await reader.read()
    controller.abort()
    await waitFor(() => fake.stats().numRunning === 0 && fake.stats().numWaiting === 0, 'the aborted response to leave the engine')
    assert.equal(fake.abortedRequestIds.length, 1)
  })
})
