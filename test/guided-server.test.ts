// Structured outputs and tool calling through the real server and engine (tiny random model), driven by the openai client.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {zodResponseFormat} from 'openai/helpers/zod'
import {z} from 'zod'
import {LLMEngine} from '../src/engine/llm-engine.js'
import type {ApiServer} from '../src/server/http-server.js'
import {parseToolOutput, parseToolRequest} from '../src/server/tool-calls.js'
import {schemaErrors} from './support/guided-check.js'
import {startTinyEngineServer} from './support/server-harness.js'

let engine: LLMEngine
let server: ApiServer
let client: OpenAI
let baseUrl: string
let model: string
/** Compact JSON: a random model otherwise spends its tokens on whitespace. */
const compact = {guided_whitespace_pattern: ''}

const weatherParameters = {
  type: 'object',
  properties: {city: {type: 'string', enum: ['Paris', 'Rome']}, days: {type: 'integer', minimum: 1, maximum: 7}},
  required: ['city', 'days'],
  additionalProperties: false,
}
const tools: OpenAI.ChatCompletionFunctionTool[] = [
  {type: 'function', function: {name: 'get_weather', description: 'Weather forecast', parameters: weatherParameters}},
  {type: 'function', function: {name: 'get_time', parameters: {type: 'object', properties: {zone: {enum: ['UTC', 'CET']}}, required: ['zone'], additionalProperties: false}}},
]
const parametersOf = (name: string) => tools.find((tool) => tool.function.name === name)!.function.parameters!
const messages: OpenAI.ChatCompletionMessageParam[] = [{role: 'user', content: 'What is the weather?'}]

describe('structured outputs and tools over HTTP (tiny model)', () => {
  before(async () => {
    ;({server, engine, url: baseUrl} = await startTinyEngineServer({version: 'guided'}))
    model = engine.modelName
    client = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0})
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('response_format json_schema: the content validates', async () => {
    const schema = {type: 'object', properties: {ok: {type: 'boolean'}, n: {type: 'integer', minimum: 0, maximum: 9}}, required: ['ok', 'n'], additionalProperties: false}
    const reply = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 40,
      seed: 1,
      n: 3,
      response_format: {type: 'json_schema', json_schema: {name: 'flags', schema, strict: true}},
      ...compact,
    })
    for (const choice of reply.choices) {
      assert.equal(choice.finish_reason, 'stop')
      assert.equal(schemaErrors(schema, JSON.parse(choice.message.content!)), null)
    }
  })

  it('zodResponseFormat: the client parses our reply', async () => {
    const Forecast = z.object({city: z.enum(['Paris', 'Rome']), rain: z.boolean(), level: z.enum(['low', 'high'])})
    const reply = await client.chat.completions.parse({model, messages, max_tokens: 150, seed: 2, response_format: zodResponseFormat(Forecast, 'forecast'), ...compact})
    const message = reply.choices[0]!.message
    assert.deepEqual(message.parsed, Forecast.parse(JSON.parse(message.content!)))
  })

  it('tool_choice "required": calls parse, name real tools and validate their parameters', async () => {
    const reply = await client.chat.completions.create({model, messages, tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 80, seed: 3, n: 2})
    for (const choice of reply.choices) {
      assert.equal(choice.finish_reason, 'tool_calls')
      assert.equal(choice.message.content, null)
      // One call: a random-weight model given a list of parallel calls may keep adding to it until max_tokens.
      assert.equal(choice.message.tool_calls!.length, 1)
      for (const call of choice.message.tool_calls!) {
        assert.equal(call.type, 'function')
        assert.match(call.id, /^call_/)
        if (call.type !== 'function') continue
        assert.equal(schemaErrors(parametersOf(call.function.name), JSON.parse(call.function.arguments)), null)
      }
    }
  })

  it('tool_choice "required" keeps tools whose parameters use local $refs ($defs, as pydantic writes them)', async () => {
    // Nested in the list-of-calls wrapper, "#/$defs/Place" pointed at the wrapper: the request was a 400.
    const place = {type: 'object', properties: {city: {type: 'string', enum: ['Paris', 'Rome']}}, required: ['city'], additionalProperties: false}
    const parameters = {type: 'object', properties: {where: {$ref: '#/$defs/Place'}}, required: ['where'], additionalProperties: false, $defs: {Place: place}}
    const refTools: OpenAI.ChatCompletionFunctionTool[] = [{type: 'function', function: {name: 'travel', parameters}}, tools[1]!]
    const reply = await client.chat.completions.create({model, messages, tools: refTools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 80, seed: 4, n: 3})
    for (const choice of reply.choices) {
      assert.equal(choice.finish_reason, 'tool_calls')
      for (const call of choice.message.tool_calls!) {
        if (call.type !== 'function') continue
        const schema = refTools.find((tool) => tool.function.name === call.function.name)!.function.parameters!
        assert.equal(schemaErrors(schema, JSON.parse(call.function.arguments)), null)
      }
    }
  })

  it('a named function, streamed: the client reassembles the tool-call deltas', async () => {
    const request = {model, messages, tools, tool_choice: {type: 'function', function: {name: 'get_weather'}}, max_tokens: 40, seed: 4} as const
    const stream = client.chat.completions.stream({...request, stream: true})
    const shapes: object[] = []
    stream.on('chunk', (chunk) => {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) shapes.push(call)
    })
    const final = await stream.finalChatCompletion()
    const choice = final.choices[0]!
    // OpenAI (and vLLM) end a named function's reply with "stop"; "tool_calls" is for auto and required.
    assert.equal(choice.finish_reason, 'stop')
    const call = choice.message.tool_calls![0]!
    assert.ok(call.type === 'function' && call.function.name === 'get_weather')
    assert.equal(schemaErrors(weatherParameters, JSON.parse(call.function.arguments)), null)
    // OpenAI's shape: a header delta (index, id, type, name, empty arguments), then argument fragments by index only.
    assert.deepEqual(Object.keys(shapes[0]!).sort(), ['function', 'id', 'index', 'type'])
    assert.ok(shapes.length > 2 && shapes.slice(1).every((delta) => Object.keys(delta).join() === 'index,function'))
  })

  it('accepts assistant tool_calls and role "tool" results in the conversation', async () => {
    const reply = await client.chat.completions.create({
      model,
      max_tokens: 4,
      tools,
      tool_choice: 'none',
      messages: [
        ...messages,
        {role: 'assistant', content: null, tool_calls: [{id: 'call_1', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Rome","days":2}'}}]},
        {role: 'tool', tool_call_id: 'call_1', content: '{"sky":"clear"}'},
      ],
    })
    assert.equal(typeof reply.choices[0]!.message.content, 'string')
    const missingId = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({model, messages: [{role: 'tool', content: 'x'}]}),
    })
    assert.equal(missingId.status, 400)
    assert.equal(((await missingId.json()) as {error: {param: string}}).error.param, 'messages[0].tool_call_id')
  })

  it('completions take guided_regex, guided_choice and guided_grammar', async () => {
    const regex = await client.completions.create({model, prompt: 'Code:', max_tokens: 12, seed: 5, guided_regex: '[A-Z]{2}-[0-9]{2}'} as never)
    assert.match((regex as OpenAI.Completion).choices[0]!.text, /^[A-Z]{2}-[0-9]{2}$/)
    const choice = await client.completions.create({model, prompt: 'Pick:', max_tokens: 8, n: 3, seed: 6, guided_choice: ['left', 'right']} as never)
    for (const c of (choice as OpenAI.Completion).choices) assert.ok(['left', 'right'].includes(c.text))
    const grammar = await client.completions.create({model, prompt: 'Sum:', max_tokens: 12, seed: 7, guided_grammar: 'root ::= [1-9] ("+" [1-9])? "="'} as never)
    assert.match((grammar as OpenAI.Completion).choices[0]!.text, /^[1-9](\+[1-9])?=$/)
    // vLLM also takes Lark grammars in guided_grammar.
    const lark = await client.completions.create({model, prompt: 'Sum:', max_tokens: 12, seed: 7, guided_grammar: 'start: DIGIT ("+" DIGIT)? "="\n%import common.DIGIT'} as never)
    assert.match((lark as OpenAI.Completion).choices[0]!.text, /^[0-9](\+[0-9])?=$/)
  })

  it('response_format structural_tag: free text, and each tag the model opens holds valid JSON', async () => {
    const schema = {type: 'object', properties: {n: {type: 'integer', minimum: 0, maximum: 9}}, required: ['n'], additionalProperties: false}
    const response_format = {type: 'structural_tag', structures: [{begin: '<n>', schema, end: '</n>'}], triggers: ['<n>']}
    const reply = await client.chat.completions.create({model, messages, max_tokens: 40, seed: 3, response_format, ...compact} as never)
    const text = (reply as OpenAI.ChatCompletion).choices[0]!.message.content!
    for (const match of text.matchAll(/<n>(.*?)<\/n>/gs)) assert.equal(schemaErrors(schema, JSON.parse(match[1]!)), null, text)
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })

  it('bad constraints are 400s naming the field, and nothing is queued', async () => {
    const cases: Array<[object, string]> = [
      [{response_format: {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'object', patternProperties: {}}}}}, 'response_format'],
      [{guided_grammar: 'root ::= "a" |'}, 'guided_grammar'],
      [{guided_grammar: 'start: "a" undefined_rule'}, 'guided_grammar'],
      [{response_format: {type: 'structural_tag', structures: [{begin: '<a>', schema: {}, end: '</a>'}], triggers: ['<b']}}, 'response_format'],
      [{guided_regex: '[a-'}, 'guided_regex'],
      [{guided_json: {type: 'string'}, guided_regex: 'a'}, 'guided_regex'],
      [{tools, tool_choice: {type: 'function', function: {name: 'nope'}}}, 'tool_choice'],
      [{tools, tool_choice: 'required', response_format: {type: 'json_object'}}, 'tool_choice'],
      [{guided_json: {type: 'string'}, use_beam_search: true, n: 2}, 'guided_json'],
    ]
    for (const [fields, param] of cases) {
      const response = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({model, messages, max_tokens: 4, ...fields}),
      })
      assert.equal(response.status, 400, JSON.stringify(fields))
      assert.equal(((await response.json()) as {error: {param: string}}).error.param, param)
    }
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })

  it('hostile schemas are 400s before any token: grammars nothing can start, remote $refs, counts past 32 bits', async () => {
    const schema = (body: object) => ({response_format: {type: 'json_schema', json_schema: {name: 'x', schema: body}}})
    const cases: Array<[object, RegExp]> = [
      // Each would compile to a grammar with no first token: the sampler then had to emit one outside it (<unk>).
      [schema({$ref: '#/$defs/a', $defs: {a: {$ref: '#/$defs/a'}}}), /admits no output/],
      [schema({$ref: '#/$defs/a', $defs: {a: {$ref: '#/$defs/b'}, b: {anyOf: [{$ref: '#/$defs/a'}]}}}), /admits no output/],
      [schema({$ref: '#'}), /admits no output/],
      // Found before compiling, anywhere in the schema (the compile's first-token check sees only the start).
      [schema({type: 'object', properties: {a: {$ref: '#/$defs/x'}}, required: ['a'], $defs: {x: {$ref: '#/$defs/y'}, y: {$ref: '#/$defs/x'}}}), /admits no output: the \$ref at #\/properties\/a\/\$ref leads back to itself/],
      // Left unenforced before: the output could be any JSON.
      [schema({$ref: 'https://example.com/schema.json'}), /must point into this schema/],
      // Wrapped to negative 32-bit ints before: maxLength 2^32 + 1 meant "unbounded", 3e9 gave a garbled parse error.
      [schema({type: 'string', maxLength: 2 ** 32 + 1}), /'maxLength' .* must be an integer in \[0, 2147483647\]/],
      [schema({type: 'string', minLength: 3e9}), /'minLength'/],
      [schema({type: 'array', items: {type: 'integer'}, maxItems: -1}), /'maxItems'/],
      [{guided_regex: ''}, /'guided_regex' is empty/],
    ]
    for (const [fields, message] of cases) {
      const response = await fetch(`${baseUrl}/v1/completions`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({model, prompt: 'x', max_tokens: 4, ...fields}),
      })
      const {error} = (await response.json()) as {error: {message: string; param: string}}
      assert.equal(response.status, 400, JSON.stringify(fields))
      assert.match(error.message, message)
      assert.equal(error.param, 'guided_regex' in fields ? 'guided_regex' : 'response_format')
    }
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
    // A recursive schema that does make progress still compiles and is enforced.
    const tree = {$ref: '#/$defs/n', $defs: {n: {type: 'object', properties: {k: {type: 'array', items: {$ref: '#/$defs/n'}, maxItems: 1}}, required: ['k'], additionalProperties: false}}}
    const reply = await client.completions.create({model, prompt: 'x', max_tokens: 40, seed: 3, ...compact, ...schema(tree)} as never)
    assert.match((reply as OpenAI.Completion).choices[0]!.text, /^\{"k":\[/)
  })

  it('round 11: regex-looking enum text is literal, long runs compile and hold, a run past the limit is a 400', async () => {
    const schema = (body: object) => ({response_format: {type: 'json_schema', json_schema: {name: 'x', schema: body}}})
    const complete = async (fields: object, maxTokens = 40) => {
      const response = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({model, messages, max_tokens: maxTokens, seed: 2, ...compact, ...fields}),
      })
      return {status: response.status, body: (await response.json()) as {choices: {message: {content: string}}[]; error: {message: string; param: string}}}
    }
    // Written as "([ab] [ab] [ab])" before: the model could not write the enum's only value.
    const literal = await complete(schema({enum: ['[ab]{3}']}))
    assert.equal(literal.status, 200)
    assert.equal(JSON.parse(literal.body.choices[0]!.message.content), '[ab]{3}')
    // Two patterns with long runs: both converters' rules were named root_repeat_1 (a 400 naming a duplicate rule).
    const patterns = {type: 'object', properties: {a: {type: 'string', pattern: '^x{20,300}$'}, b: {type: 'string', pattern: '^y{20,300}$'}}, required: ['a', 'b'], additionalProperties: false}
    const twoRuns = await complete(schema(patterns), 120)
    assert.equal(twoRuns.status, 200, JSON.stringify(twoRuns.body.error))
    assert.match(twoRuns.body.choices[0]!.message.content, /^\{"a":"x{20,}/)
    const long = await complete(schema({type: 'string', minLength: 30, maxLength: 400}))
    assert.equal(long.status, 200, JSON.stringify(long.body.error))
    assert.match(long.body.choices[0]!.message.content, /^"[^"]{30,}/)
    // A bound far past any output (a schema's "no real limit") compiles as a chain of ~log n rules, not a 400.
    const huge = await complete(schema({type: 'string', minLength: 5, maxLength: 2 ** 31 - 1}))
    assert.equal(huge.status, 200, JSON.stringify(huge.body.error))
    assert.match(huge.body.choices[0]!.message.content, /^"[^"]{5,}/)
    // The schema checks stop a length past 32 bits; a pattern's count reaches the runs' own cap.
    const tooLong = await complete(schema({type: 'string', pattern: '^x{0,2147483648}$'}))
    assert.equal(tooLong.status, 400)
    assert.match(tooLong.body.error.message, /2147483648/)
    assert.equal(tooLong.body.error.param, 'response_format')
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })
})

describe('tool-call parsers', () => {
  const request = parseToolRequest({tools, tool_choice: 'auto'})!
  it('hermes reads <tool_call> blocks and keeps the rest as content', () => {
    const text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome", "days": 2}}\n</tool_call>'
    const parsed = parseToolOutput(text, request, 'hermes')
    // The text before the call as written, as a stream sends it (and vLLM returns it).
    assert.equal(parsed.content, 'Let me check.\n')
    assert.equal(parsed.toolCalls[0]!.function.name, 'get_weather')
    assert.deepEqual(JSON.parse(parsed.toolCalls[0]!.function.arguments), {city: 'Rome', days: 2})
    assert.deepEqual(parseToolOutput('no calls here', request, 'hermes'), {content: 'no calls here', toolCalls: []})
  })
  it('llama3_json reads {"name", "parameters"} objects', () => {
    const parsed = parseToolOutput('<|python_tag|>{"name": "get_time", "parameters": {"zone": "UTC"}}; {"name": "get_weather", "parameters": {"city": "Paris", "days": 1}}', request, 'llama3_json')
    assert.equal(parsed.content, null)
    assert.deepEqual(parsed.toolCalls.map((call) => call.function.name), ['get_time', 'get_weather'])
    assert.equal(parseToolOutput('Plain answer.', request, 'llama3_json').toolCalls.length, 0)
  })
})
