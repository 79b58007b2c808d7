// Tool calling through the real server (tiny random model): forced calls' shapes streamed and not, cuts by max_tokens, logprobs, hostile tools.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {LLMEngine} from '../src/engine/llm-engine.js'
import type {ApiServer} from '../src/server/http-server.js'
import {schemaErrors} from './support/guided-check.js'
import {sseEvents, startTinyEngineServer} from './support/server-harness.js'

let engine: LLMEngine
let server: ApiServer
let baseUrl: string
const messages = [{role: 'user', content: 'What is the weather?'}]
const weather = {
  type: 'object',
  properties: {city: {type: 'string', enum: ['Paris', 'Rome']}, days: {type: 'integer', minimum: 1, maximum: 7}},
  required: ['city', 'days'],
  additionalProperties: false,
}
const tools = [
  {type: 'function', function: {name: 'get_weather', parameters: weather}},
  {type: 'function', function: {name: 'get_time', parameters: {type: 'object', properties: {zone: {enum: ['UTC', 'CET']}}, required: ['zone'], additionalProperties: false}}},
]
const named = {type: 'function', function: {name: 'get_weather'}}

async function post(body: object): Promise<{status: number; json: any; text: string}> {
  const response = await fetch(`${baseUrl}/v1/chat/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({messages, ...body})})
  const text = await response.text()
  return {status: response.status, text, json: text.startsWith('{') ? JSON.parse(text) : null}
}

/** A streamed reply's choices rebuilt from its deltas, with the tool-call deltas as they came. */
function rebuild(text: string) {
  const choices = new Map<number, {content: string; calls: Map<number, {id: string; name: string; arguments: string}>; deltas: any[]; logprobs: number; finish: string | null}>()
  for (const event of sseEvents(text)) {
    if (event === '[DONE]') continue
    for (const choice of event.choices) {
      if (!choices.has(choice.index)) choices.set(choice.index, {content: '', calls: new Map(), deltas: [], logprobs: 0, finish: null})
      const state = choices.get(choice.index)!
      state.content += choice.delta.content ?? ''
      state.logprobs += choice.logprobs?.content?.length ?? 0
      state.finish = choice.finish_reason ?? state.finish
      for (const delta of choice.delta.tool_calls ?? []) {
        state.deltas.push(delta)
        if (delta.id !== undefined) state.calls.set(delta.index, {id: delta.id, name: delta.function.name, arguments: ''})
        state.calls.get(delta.index)!.arguments += delta.function.arguments ?? ''
      }
    }
  }
  return choices
}

describe('tool calling over HTTP (tiny model)', () => {
  before(async () => {
    ;({server, engine, url: baseUrl} = await startTinyEngineServer({version: 'tools', maxBodyBytes: 4 << 20}))
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('a named call cut by max_tokens is still a call, streamed or not: finish_reason "length", its arguments a prefix', async () => {
    const whole = await post({tools, tool_choice: named, max_tokens: 60, seed: 1})
    const fullArguments = whole.json.choices[0].message.tool_calls[0].function.arguments
    // Finished, a named function's reply says "stop" (OpenAI's and vLLM's rule; "tool_calls" is for auto and required).
    assert.equal(whole.json.choices[0].finish_reason, 'stop')
    assert.equal(schemaErrors(weather, JSON.parse(fullArguments)), null)
    // Before, the cut reply was plain content while the streamed one was a tool call.
    const cut = await post({tools, tool_choice: named, max_tokens: 3, seed: 1})
    const choice = cut.json.choices[0]
    assert.equal(choice.finish_reason, 'length')
    assert.equal(choice.message.content, null)
    assert.equal(choice.message.tool_calls[0].function.name, 'get_weather')
    assert.ok(fullArguments.startsWith(choice.message.tool_calls[0].function.arguments))
    const streamed = rebuild((await post({tools, tool_choice: named, max_tokens: 3, seed: 1, stream: true})).text).get(0)!
    assert.equal(streamed.finish, 'length')
    assert.equal([...streamed.calls.values()][0]!.arguments, choice.message.tool_calls[0].function.arguments)
  })

  it('streamed calls carry every token\'s logprobs, held text included', async () => {
    for (const tool_choice of [named, 'required']) {
      const reply = await post({tools, tool_choice, max_tokens: 60, seed: 2, stream: true, logprobs: true, top_logprobs: 1, stream_options: {include_usage: true}})
      const events = sseEvents(reply.text)
      const usage = events.at(-2).usage
      // Before, a request with tools streamed no logprobs at all.
      assert.equal(rebuild(reply.text).get(0)!.logprobs, usage.completion_tokens, JSON.stringify(tool_choice))
    }
  })

  it('required, n = 2, streamed and not: OpenAI shapes, the first delta has index, id, type and name, arguments parse and validate', async () => {
    const body = {tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 80, seed: 3, n: 2}
    const plain = await post(body)
    for (const choice of plain.json.choices) {
      assert.equal(choice.finish_reason, 'tool_calls')
      assert.equal(choice.message.content, null)
      const [call] = choice.message.tool_calls
      assert.equal(call.type, 'function')
      assert.equal(typeof call.function.arguments, 'string')
      const schema = tools.find((tool) => tool.function.name === call.function.name)!.function.parameters
      assert.equal(schemaErrors(schema, JSON.parse(call.function.arguments)), null)
    }
    const streamed = rebuild((await post({...body, stream: true})).text)
    assert.equal(streamed.size, 2)
    for (const [index, choice] of streamed) {
      assert.equal(choice.finish, 'tool_calls')
      assert.deepEqual(Object.keys(choice.deltas[0]).sort(), ['function', 'id', 'index', 'type'])
      const [call] = [...choice.calls.values()]
      const expected = plain.json.choices[index].message.tool_calls[0]
      assert.equal(call!.name, expected.function.name)
      assert.deepEqual(JSON.parse(call!.arguments), JSON.parse(expected.function.arguments))
    }
  })

  it('hostile tools are 400s naming the tool: repeated names, parameters of another type, odd names, dangling $refs, unsupported keywords', async () => {
    const fn = (name: string, parameters?: unknown) => ({type: 'function', function: {name, ...(parameters === undefined ? {} : {parameters})}})
    const cases: Array<[object, string, RegExp]> = [
      // Accepted before: `required` then offered two branches of one name.
      [{tools: [tools[0], tools[0]], tool_choice: 'required'}, 'tools[1].function.name', /repeats 'get_weather'/],
      // Accepted before: a call's arguments came back as a JSON string, never an object.
      [{tools: [fn('f', {type: 'string'})], tool_choice: 'required'}, 'tools[0].function.parameters', /type "object"/],
      [{tools: [fn('f', [])]}, 'tools[0].function.parameters', /type "object"/],
      // Accepted before: a call to these came back with arguments "{}" (null or a string is no arguments object).
      [{tools: [fn('f', {const: null})], tool_choice: 'required'}, 'tools[0].function.parameters', /type "object"/],
      [{tools: [fn('f', {enum: ['a', {x: 1}]})], tool_choice: 'auto'}, 'tools[0].function.parameters', /type "object"/],
      [{tools: [fn('f', {anyOf: [{type: 'object'}, {type: 'null'}]})]}, 'tools[0].function.parameters', /type "object"/],
      // Accepted before: the call's arguments could never finish (the object requires itself).
      [{tools: [fn('f', {$defs: {a: {type: 'object', properties: {x: {$ref: '#/$defs/a'}}, required: ['x']}}, $ref: '#/$defs/a'})], tool_choice: {type: 'function', function: {name: 'f'}}}, 'tool_choice', /no output that ends/],
      [{tools: [fn('a b')]}, 'tools[0].function.name', /letters, digits/],
      [{tools: [fn('x'.repeat(65))]}, 'tools[0].function.name', /letters, digits/],
      // Before: xgrammar's internal check message about '#/$defs/tool0/$defs/nope', on 'tool_choice'.
      [{tools: [fn('f', {type: 'object', properties: {a: {$ref: '#/$defs/nope'}}})], tool_choice: 'required'}, 'tools[0].function.parameters', /'\$ref' \(at #\/properties\/a\/\$ref\) points to nothing/],
      [{tools: [tools[0], fn('f', {type: 'object', not: {}})], tool_choice: {type: 'function', function: {name: 'f'}}}, 'tools[1].function.parameters', /keyword 'not'/],
      [{guided_json: {$ref: '#/definitions/missing'}}, 'guided_json', /points to nothing/],
    ]
    for (const [fields, param, message] of cases) {
      const reply = await post({max_tokens: 4, ...fields})
      assert.equal(reply.status, 400, JSON.stringify(fields).slice(0, 200))
      assert.equal(reply.json.error.param, param)
      assert.match(reply.json.error.message, message)
    }
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })

  it('tools without parameters, or with an open schema, still get object arguments; 1,000 tools compile and answer', async () => {
    const open = [{type: 'function', function: {name: 'ping'}}, {type: 'function', function: {name: 'echo', parameters: {}}}]
    for (const name of ['ping', 'echo']) {
      const reply = await post({tools: open, tool_choice: {type: 'function', function: {name}}, max_tokens: 30, seed: 4, n: 4})
      for (const choice of reply.json.choices) {
        // A named function's reply that ends after its call says "stop", as OpenAI and vLLM do.
        if (choice.finish_reason !== 'stop') continue
        const args = JSON.parse(choice.message.tool_calls[0].function.arguments)
        assert.ok(typeof args === 'object' && args !== null && !Array.isArray(args), `${name}: ${choice.message.tool_calls[0].function.arguments}`)
      }
    }
    const many = Array.from({length: 1000}, (_, i) => ({type: 'function', function: {name: `tool_${i}`, parameters: {type: 'object', properties: {n: {type: 'integer'}}, required: ['n'], additionalProperties: false}}}))
    const reply = await post({tools: many, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 40, seed: 5})
    assert.equal(reply.status, 200, reply.text.slice(0, 300))
    const choice = reply.json.choices[0]
    if (choice.finish_reason === 'tool_calls') assert.match(choice.message.tool_calls[0].function.name, /^tool_\d+$/)
  })
})
