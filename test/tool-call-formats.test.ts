// The tool-call formats real chat templates teach, read back by the parser of the same family (vLLM's names), finished and streamed.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {ToolCallDeltas} from '../src/server/tool-call-deltas.js'
import {TOOL_CALL_PARSERS, type ToolCallParserName} from '../src/server/tool-call-parsers.js'
import {parseToolOutput, parseToolRequest} from '../src/server/tool-calls.js'
import {post, sseEvents, startTinyEngineServer} from './support/server-harness.js'

const tools = [
  {type: 'function', function: {name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}, days: {type: 'integer'}}}}},
  {type: 'function', function: {name: 'get_time', parameters: {type: 'object', properties: {zone: {type: 'string'}}}}},
]
const auto = parseToolRequest({tools, tool_choice: 'auto'})!
const callsOf = (text: string, parser: ToolCallParserName) => parseToolOutput(text, auto, parser).toolCalls.map((call) => [call.function.name, JSON.parse(call.function.arguments)])

describe('what the templates write, the parsers read', () => {
  // The assistant turn each template renders for a call, cut out of the prompt and parsed as if the model wrote it
  // (from the last marker: the tool instructions before it quote the markers too).
  const cases: Array<[string, ToolCallParserName, unknown, (rendered: string) => string]> = [
    ['vllm-deepseek-v3-tools.jinja', 'deepseek_v3', {city: 'Oslo', days: 2}, (text) => text.slice(text.lastIndexOf('<｜tool▁calls▁begin｜>'))],
    ['deepseek-v3.1.jinja', 'deepseek_v31', '{"city": "Oslo", "days": 2}', (text) => text.slice(text.lastIndexOf('<｜tool▁calls▁begin｜>'))],
    ['vllm-internlm2-tool.jinja', 'internlm', '{"city": "Oslo", "days": 2}', (text) => text.slice(text.lastIndexOf('<|action_start|>')).split('<|im_end|>')[0]!],
    ['qwq-32b.jinja', 'hermes', {city: 'Oslo', days: 2}, (text) => text.slice(text.lastIndexOf('<|im_start|>assistant') + 21).split('<|im_end|>')[0]!],
    ['mistral-small-3.1.jinja', 'mistral', {city: 'Oslo', days: 2}, (text) => text.slice(text.lastIndexOf('[TOOL_CALLS]')).split('</s>')[0]!],
  ]
  for (const [file, parser, args, assistantTurn] of cases) {
    it(`${file} -> ${parser}`, () => {
      const template = new ChatTemplate(readFileSync(join(import.meta.dirname, 'fixtures', 'chat-templates', file), 'utf8'))
      const call = {id: 'call12345', type: 'function', function: {name: 'get_weather', arguments: args}}
      const rendered = template.render([{role: 'user', content: 'Weather in Oslo for 2 days?'}, {role: 'assistant', content: '', tool_calls: [call]}], {bos_token: '<s>', eos_token: '</s>'}, {tools, addGenerationPrompt: false})
      assert.deepEqual(callsOf(assistantTurn(rendered), parser), [['get_weather', {city: 'Oslo', days: 2}]], assistantTurn(rendered))
    })
  }

  it('vllm-llama-4-pythonic.jinja -> llama4_pythonic (the template quotes every value, so 2 comes back as "2")', () => {
    const template = new ChatTemplate(readFileSync(join(import.meta.dirname, 'fixtures', 'chat-templates', 'vllm-llama-4-pythonic.jinja'), 'utf8'))
    const call = {id: 'call12345', type: 'function', function: {name: 'get_weather', arguments: {city: 'Oslo', days: 2}}}
    const rendered = template.render([{role: 'user', content: 'Weather?'}, {role: 'assistant', content: '', tool_calls: [call]}], {bos_token: '<s>'}, {tools, addGenerationPrompt: false})
    const turn = rendered.slice(rendered.lastIndexOf('<|header_end|>\n\n') + 16).split('<|eot|>')[0]!
    assert.equal(turn, '[get_weather(city="Oslo", days="2")]')
    assert.deepEqual(callsOf(turn, 'llama4_pythonic'), [['get_weather', {city: 'Oslo', days: '2'}]])
  })
})

describe('pythonic calls are read as Python literals', () => {
  it('strings in either quote, numbers, True/False/None, lists, dicts and nesting become JSON arguments', () => {
    const text = `[get_weather(city='Saint-\\'Malo', days=-3, hours=1.5e1, alerts=True, units=None, tags=["a", 'b'], where={"lat": 48.6, 'lon': (1, 2)}), get_time()]`
    assert.deepEqual(callsOf(text, 'pythonic'), [
      ['get_weather', {city: "Saint-'Malo", days: -3, hours: 15, alerts: true, units: null, tags: ['a', 'b'], where: {lat: 48.6, lon: [1, 2]}}],
      ['get_time', {}],
    ])
  })

  it('text around the list, positional arguments or code that is not a literal stay content', () => {
    for (const text of ['I will call [get_time()]', '[get_time("UTC")]', '[get_time(zone=__import__("os"))]', '[get_time(zone="UTC") + 1]'])
      assert.deepEqual(parseToolOutput(text, auto, 'pythonic'), {content: text, toolCalls: []}, text)
  })
})

describe('auto tool calls streamed, every family', () => {
  // One call each, written as the family writes it, with content first where the family allows it.
  const outputs: Record<ToolCallParserName, [string, string]> = {
    hermes: ['Sure. ', '<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'],
    llama3_json: ['', '{"name": "get_time", "parameters": {"zone": "UTC"}}'],
    mistral: ['Sure. ', '[TOOL_CALLS][{"name": "get_time", "arguments": {"zone": "UTC"}}]'],
    pythonic: ['', '[get_time(zone="UTC")]'],
    llama4_pythonic: ['', '<|python_start|>[get_time(zone="UTC")]<|python_end|>'],
    deepseek_v3: ['Sure. ', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{"zone": "UTC"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'],
    deepseek_v31: ['Sure. ', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"zone": "UTC"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>'],
    granite: ['', '<|tool_call|>[{"name": "get_time", "arguments": {"zone": "UTC"}}]'],
    phi4_mini_json: ['Sure. ', 'functools[{"name": "get_time", "arguments": {"zone": "UTC"}}]'],
    internlm: ['Sure. ', '<|action_start|><|plugin|>\n{"name": "get_time", "parameters": {"zone": "UTC"}}<|action_end|>'],
  }

  for (const parser of TOOL_CALL_PARSERS) {
    it(`${parser}: content streams before the call, then the call's header and its arguments`, () => {
      const [content, call] = outputs[parser]
      const text = content + call
      const deltas = new ToolCallDeltas(auto, parser)
      const sent: object[] = []
      for (let at = 0; at < text.length; at += 3) sent.push(...deltas.next(0, text.slice(at, at + 3), at + 3 >= text.length))
      const streamed = sent.flatMap((delta) => ('content' in delta ? [delta.content] : [])).join('')
      assert.equal(streamed, content)
      const fragments = sent.flatMap((delta) => ('tool_calls' in delta ? (delta.tool_calls as Array<{function: {name?: string; arguments: string}}>) : []))
      assert.equal(fragments[0]!.function.name, 'get_time')
      assert.deepEqual(JSON.parse(fragments.map((fragment) => fragment.function.arguments).join('')), {zone: 'UTC'})
      assert.ok(deltas.madeCalls(0))
    })
  }

  it('plain text streams as it comes when it cannot be a call (pythonic: not opening with "[")', () => {
    const deltas = new ToolCallDeltas(auto, 'pythonic')
    assert.deepEqual(deltas.next(0, 'Hello', false), [{content: 'Hello'}])
    assert.deepEqual(deltas.next(0, ' [x]', true), [{content: ' [x]'}])
    assert.equal(deltas.madeCalls(0), false)
  })
})

describe('serve --tool-call-parser pythonic on a real engine', () => {
  // The tiny model is held to the call text by a regex, so the server's whole path runs: template, parser, reply, stream.
  let running: Awaited<ReturnType<typeof startTinyEngineServer>>
  before(async () => {
    running = await startTinyEngineServer({toolCallParser: 'pythonic'})
  })
  after(async () => {
    await running.server.shutdown(1000)
  })

  it('auto: the output [get_weather(...)] comes back as a tool call, and streamed as the same call', async () => {
    const body = {messages: [{role: 'user', content: 'Weather in Paris?'}], tools, tool_choice: 'auto', max_tokens: 60, seed: 1, structured_outputs: {regex: String.raw`\[get_weather\(city="Paris", days=2\)\]`}}
    const reply = await post(`${running.url}/v1/chat/completions`, body)
    assert.equal(reply.status, 200, reply.text)
    const choice = reply.json().choices[0]
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice))
    assert.equal(choice.message.content, null)
    assert.deepEqual(choice.message.tool_calls.map((call: {function: {name: string; arguments: string}}) => [call.function.name, JSON.parse(call.function.arguments)]), [['get_weather', {city: 'Paris', days: 2}]])
    const events = sseEvents((await post(`${running.url}/v1/chat/completions`, {...body, stream: true})).text).filter((event) => event !== '[DONE]')
    const calls = events.flatMap((event) => event.choices[0]?.delta?.tool_calls ?? [])
    assert.equal(calls[0].function.name, 'get_weather')
    assert.deepEqual(JSON.parse(calls.map((call: {function: {arguments: string}}) => call.function.arguments).join('')), {city: 'Paris', days: 2})
    assert.equal(events.at(-1).choices[0].finish_reason, 'tool_calls')
  })
})
