// Tool calls read from free text (tool_choice "auto") per family (vLLM's parser names); malformed text is content, never an error.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ToolCallDeltas} from '../src/server/tool-call-deltas.js'
import {CALL_START, TOOL_CALL_PARSERS} from '../src/server/tool-call-parsers.js'
import {parseToolOutput, parseToolRequest} from '../src/server/tool-calls.js'
import {post, start} from './support/server-harness.js'

const tools = [
  {type: 'function', function: {name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}}}}},
  {type: 'function', function: {name: 'get_time', parameters: {type: 'object', properties: {zone: {type: 'string'}}}}},
]
const auto = parseToolRequest({tools, tool_choice: 'auto'})!
const single = parseToolRequest({tools, tool_choice: 'auto', parallel_tool_calls: false})!
const namesOf = (parsed: ReturnType<typeof parseToolOutput>) => parsed.toolCalls.map((call) => call.function.name)
const argsOf = (parsed: ReturnType<typeof parseToolOutput>) => parsed.toolCalls.map((call) => JSON.parse(call.function.arguments))

/** Well-formed outputs of each family, each with two calls. */
const samples = {
  hermes: 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>',
  llama3_json: '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Rome"}}; {"name": "get_time", "parameters": {"zone": "CET"}}',
  mistral: 'Checking.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
  // As the Llama 3.2 / 4 and Gemma 3 pythonic templates (test/fixtures/chat-templates/vllm-*-pythonic.jinja) ask.
  pythonic: '[get_weather(city="Rome"), get_time(zone=\'CET\')]',
  llama4_pythonic: '<|python_start|>[get_weather(city="Rome"), get_time(zone="CET")]<|python_end|>',
  // vllm-deepseek-v3-tools.jinja and deepseek-v3.1.jinja write these.
  deepseek_v3: 'Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Rome"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{"zone": "CET"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
  deepseek_v31: 'Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Rome"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"zone": "CET"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
  granite: '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
  phi4_mini_json: 'Checking.functools[{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
  // InternLM writes one call per turn.
  internlm: 'Checking.<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Rome"}}<|action_end|>',
} as const
const CONTENT_BEFORE: Record<string, string | null> = {llama3_json: null, hermes: 'Checking.\n', mistral: 'Checking.', pythonic: null, llama4_pythonic: null, deepseek_v3: 'Checking.', deepseek_v31: 'Checking.', granite: null, phi4_mini_json: 'Checking.', internlm: 'Checking.'}
const CALLS = (parser: string) => (parser === 'internlm' ? 1 : 2)

describe('tool-call parsers', () => {
  it('each family reads its two calls, arguments as JSON strings', () => {
    for (const parser of TOOL_CALL_PARSERS) {
      const parsed = parseToolOutput(samples[parser], auto, parser)
      assert.deepEqual(namesOf(parsed), ['get_weather', 'get_time'].slice(0, CALLS(parser)), parser)
      assert.deepEqual(argsOf(parsed), [{city: 'Rome'}, {zone: 'CET'}].slice(0, CALLS(parser)), parser)
      // The text before the first call as written (a stream sends it so): hermes' newline stays.
      assert.equal(parsed.content, CONTENT_BEFORE[parser], parser)
    }
  })

  it('parallel_tool_calls false keeps only the first call of free text (vLLM)', () => {
    for (const parser of TOOL_CALL_PARSERS) assert.deepEqual(namesOf(parseToolOutput(samples[parser], single, parser)), ['get_weather'], parser)
  })

  it('hermes: a last <tool_call> left unclosed (EOS or a stop string at </tool_call>) is still a call', () => {
    const parsed = parseToolOutput('<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n', auto, 'hermes')
    assert.deepEqual(namesOf(parsed), ['get_time'])
    assert.equal(parsed.content, null)
  })

  it('mistral: v11 tokenizers write [TOOL_CALLS]name[ARGS]{...} per call; ids are 9 letters or digits (its templates refuse others)', () => {
    const parsed = parseToolOutput('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{"zone": "UTC"}', auto, 'mistral')
    assert.deepEqual(namesOf(parsed), ['get_weather', 'get_time'])
    assert.deepEqual(argsOf(parsed), [{city: 'Paris'}, {zone: 'UTC'}])
    for (const call of parsed.toolCalls) assert.match(call.id, /^[a-zA-Z0-9]{9}$/)
    assert.match(parseToolOutput(samples.hermes, auto, 'hermes').toolCalls[0]!.id, /^call_/)
  })

  it('pythonic: arguments and dict keys named __proto__ are kept as arguments, not taken as a prototype', () => {
    const [call] = parseToolOutput('[f(__proto__={"__proto__": 1, "b": 2}, x=1)]', auto, 'pythonic').toolCalls
    assert.equal(call!.function.arguments, '{"__proto__":{"__proto__":1,"b":2},"x":1}')
  })

  it('arguments the model wrote as a string still come back as a JSON string', () => {
    const quoted = parseToolOutput('<tool_call>{"name": "get_time", "arguments": "{\\"zone\\": \\"UTC\\"}"}</tool_call>', auto, 'hermes')
    assert.deepEqual(argsOf(quoted), [{zone: 'UTC'}])
    // Not JSON inside: before, the bare text was returned as the arguments, which no client can parse.
    const bare = parseToolOutput('<tool_call>{"name": "get_time", "arguments": "now"}</tool_call>', auto, 'hermes')
    assert.deepEqual(argsOf(bare), ['now'])
  })

  // The three tests below time nothing (timing is measured by scripts/fuzz-tool-call-parsers.ts, not asserted): they hold
  // the results on outputs long enough that the quadratic code they replace ran for seconds to minutes here.
  it('a long whitespace run (a model looping on spaces) parses in every parser', () => {
    // deepseek_v3 cut its closing fence with /\s*```\s*$/, quadratic in the run: 24 s for 10^5 spaces, on the event loop.
    const spaces = ' '.repeat(100_000)
    const fenced = `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n\`\`\`json\n{"zone": "UTC"}${spaces}\`\`\`${spaces}<｜tool▁call▁end｜>`
    assert.deepEqual(argsOf(parseToolOutput(fenced, auto, 'deepseek_v3')), [{zone: 'UTC'}])
    const unclosed = `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n\`\`\`json\n{}${spaces}x`
    for (const parser of TOOL_CALL_PARSERS)
      for (const text of [`${samples[parser]}${spaces}x`, `${CALL_START[parser] ?? '['}${spaces}x`, unclosed]) assert.doesNotThrow(() => parseToolOutput(text, auto, parser), parser)
  })

  it('a stream of whitespace leaves the families whose calls are the whole output undecided', () => {
    // The start of the output was found by a trimStart of all of it on every delta: 4 s for 160,000 spaces.
    const calls = {llama3_json: '{"name": "f", "parameters": {}}', pythonic: '[f(a=1)]', llama4_pythonic: '[f(a=1)]', granite: '[{"name": "f", "arguments": {}}]'}
    for (const [parser, call] of Object.entries(calls) as [keyof typeof calls, string][]) {
      const deltas = new ToolCallDeltas(auto, parser)
      for (let sent = 0; sent < 160_000; sent += 4) assert.deepEqual(deltas.next(0, '    ', false), [], parser)
      // Still undecided until the first visible character: an opener after the spaces is held as a call.
      assert.deepEqual(deltas.next(0, call, true).length, 2, parser)
      assert.ok(deltas.madeCalls(0), parser)
    }
  })

  it('a long content stream reaches the client whole in the families whose calls follow content', () => {
    // Each delta sliced and searched the whole output so far (a string grown by += is copied flat to be searched):
    // seconds of event loop, spread over the deltas, for 400,000 characters.
    for (const parser of ['hermes', 'mistral', 'deepseek_v3', 'phi4_mini_json', 'internlm'] as const) {
      const deltas = new ToolCallDeltas(auto, parser)
      let content = ''
      for (let sent = 0; sent < 400_000; sent += 4) for (const delta of deltas.next(0, 'ab <', false)) content += (delta as {content: string}).content
      for (const delta of deltas.next(0, 'x', true)) content += (delta as {content: string}).content
      assert.equal(content, 'ab <'.repeat(100_000) + 'x', parser)
    }
  })

  it('malformed, partial and hostile text stays content and never throws', () => {
    const deep = `{"name": "get_time", "arguments": ${'['.repeat(6000)}${']'.repeat(6000)}}`
    const hostile: Record<string, string[]> = {
      hermes: ['<tool_call>{"name": "get_time", "argu', '<tool_call>{"name": 5}</tool_call>', '<tool_call></tool_call>', '<tool_call>null</tool_call>', `<tool_call>${deep}</tool_call>`],
      llama3_json: ['{"name": "get_time", "parameters": {', '{"name": "get_time"}; {"oops"', '<|python_tag|>', '[1, 2]', deep],
      mistral: ['[TOOL_CALLS]', '[TOOL_CALLS][{"name": "get_time"', '[TOOL_CALLS]{"name": "x"}', '[TOOL_CALLS]get_time[ARGS]{', '[TOOL_CALLS][]', `[TOOL_CALLS][${deep}]`],
      pythonic: ['[get_time(zone="UTC")', '[get_time("UTC")]', '[os.system(cmd="x")]', '[]', '[get_time(zone=now)]', 'Sure: [get_time()]', `[f(a=${'['.repeat(6000)}${']'.repeat(6000)})]`, '[f(a="unclosed)]'],
      llama4_pythonic: ['<|python_start|>[get_time(zone=', '[1, 2]'],
      deepseek_v3: ['<｜tool▁calls▁begin｜>', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{"zone": ', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time'],
      deepseek_v31: ['<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"zone"', `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>${deep}<｜tool▁call▁end｜>`],
      granite: ['<|tool_call|>', '<|tool_call|>[{"name": "get_time"', '<|tool_call|>{"name": "get_time"}', 'text <|tool_call|>[]'],
      phi4_mini_json: ['functools[', 'functools[{"name": "get_time", "arguments": {"zone": "UTC"}', 'functools[{"arguments": {}}]', `functools[${deep}]`],
      internlm: ['<|action_start|><|plugin|>\n{"name": ', '<|action_start|><|plugin|>\n[]<|action_end|>'],
    }
    for (const parser of TOOL_CALL_PARSERS) {
      for (const text of hostile[parser] ?? []) {
        const parsed = parseToolOutput(text, auto, parser)
        assert.deepEqual(parsed, {content: text, toolCalls: []}, `${parser}: ${text.slice(0, 60)}`)
      }
      // Every prefix of a good output (a stream cut anywhere) parses to content or to calls whose arguments parse.
      const sample = samples[parser]
      for (let end = 0; end <= sample.length; end++) {
        const parsed = parseToolOutput(sample.slice(0, end), auto, parser)
        for (const call of parsed.toolCalls) JSON.parse(call.function.arguments)
        if (parsed.toolCalls.length === 0) assert.equal(parsed.content, sample.slice(0, end))
      }
    }
  })
})

describe('tool-call parsers on long output', () => {
  // Before, hermes' regex (a lazy group, then \s*) took quadratic time on a whitespace run: 8 s for 50,000 spaces
  // on the event loop, so a model looping on spaces after a call held the whole server; at a million this test did
  // not finish (no timing is asserted: the old code hangs here, the new takes milliseconds).
  it('a call followed by a million spaces parses in linear time', () => {
    const text = `<tool_call>{"name": "get_time", "arguments": {}}${' '.repeat(1_000_000)}x`
    for (const parser of TOOL_CALL_PARSERS) parseToolOutput(text, auto, parser)
    const spaced = parseToolOutput(`<tool_call>{"name": "get_time", "arguments": {}}</tool_call>${' '.repeat(1_000_000)}`, auto, 'hermes')
    assert.deepEqual(namesOf(spaced), ['get_time'])
  })
})

describe('auto tool calls streamed (mistral)', () => {
  it('content streams up to [TOOL_CALLS]; the calls follow at the end with their ids and names first', () => {
    const deltas = new ToolCallDeltas(auto, 'mistral')
    const sent = [...deltas.next(0, 'Checking.[TOOL', false), ...deltas.next(0, '_CALLS][{"name": "get_weather", ', false)]
    assert.deepEqual(sent, [{content: 'Checking.'}])
    const end = deltas.next(0, '"arguments": {"city": "Rome"}}]', true) as Array<{tool_calls: Array<{index: number; id?: string; function: {name?: string; arguments: string}}>}>
    assert.equal(end[0]!.tool_calls[0]!.function.name, 'get_weather')
    assert.match(end[0]!.tool_calls[0]!.id!, /^[a-zA-Z0-9]{9}$/)
    assert.deepEqual(JSON.parse(end.map((delta) => delta.tool_calls[0]!.function.arguments).join('')), {city: 'Rome'})
    assert.ok(deltas.madeCalls(0))
  })
})

describe('auto tool calls keep the markers in the text', () => {
  it('hermes, mistral, deepseek, granite and internlm turn skip_special_tokens off for auto (their markers are special tokens), as vLLM does', async () => {
    const cases: Array<[Parameters<typeof start>[0], object, boolean]> = [
      [{toolCallParser: 'mistral'}, {tools}, false],
      [{toolCallParser: 'hermes'}, {tools, tool_choice: 'auto', skip_special_tokens: true}, false],
      [{toolCallParser: 'mistral'}, {tools, tool_choice: 'none'}, true],
      [{toolCallParser: 'llama3_json'}, {tools}, true],
      [{toolCallParser: 'deepseek_v3'}, {tools}, false],
      [{toolCallParser: 'pythonic'}, {tools}, true],
    ]
    for (const [options, fields, skip] of cases) {
      const {url, engine} = await start(options)
      const reply = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], max_tokens: 2, ...fields})
      assert.equal(reply.status, 200, reply.text)
      assert.equal(engine.receivedParams.at(-1)!.skipSpecialTokens, skip, JSON.stringify({options, fields}))
    }
  })
})
