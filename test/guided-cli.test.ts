// generate's constraint flags as a user runs them (--choice, --json-schema), and their errors, plus the
// tool-call pieces that need no model: the forcing grammar and the streamed deltas of held-back calls.
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ToolCallDeltas} from '../src/server/tool-call-deltas.js'
import {parseToolRequest, toolGrammar} from '../src/server/tool-calls.js'
import {runCommand} from './support/run-command.js'

const generate = (args: string[]) => runCommand('generate', args)

// {concurrency: 2}: each case spawns its own commands and shares nothing with the others, so two run at once.
describe('pagedllm generate with constraints', {concurrency: 2}, () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('--choice and --json-schema shape the output', async () => {
    const common = ['--model', modelDir, '--json', '--threads', '1', '--temperature', '1', '--seed', '3']
    const choice = await generate([...common, '--choice', 'yes', '--choice', 'no way', '--n', '3', 'Answer:'])
    assert.equal(choice.code, 0, choice.stderr)
    for (const output of JSON.parse(choice.stdout)[0].outputs) assert.ok(['yes', 'no way'].includes(output.text), output.text)
    const schema = JSON.stringify({type: 'object', properties: {ok: {type: 'boolean'}}, required: ['ok'], additionalProperties: false})
    const json = await generate([...common, '--json-schema', schema, '--max-tokens', '200', 'JSON:'])
    assert.equal(json.code, 0, json.stderr)
    const output = JSON.parse(json.stdout)[0].outputs[0]
    if (output.finish_reason === 'stop') assert.equal(typeof JSON.parse(output.text).ok, 'boolean')
  })

  it('--grammar takes Lark or EBNF, as text or a file', async () => {
    const common = ['--model', modelDir, '--json', '--threads', '1', '--temperature', '1', '--seed', '5', '--n', '2', '--max-tokens', '20']
    const lark = await generate([...common, '--grammar', 'start: ("yes" | "no") "!"', 'Answer:'])
    assert.equal(lark.code, 0, lark.stderr)
    for (const output of JSON.parse(lark.stdout)[0].outputs) assert.match(output.text, /^(yes|no)!$/)
    const file = join(mkdtempSync(join(tmpdir(), 'pagedllm-grammar-')), 'digits.ebnf')
    writeFileSync(file, 'root ::= [0-9] [0-9] "."')
    const ebnf = await generate([...common, '--grammar', file, 'Number:'])
    assert.equal(ebnf.code, 0, ebnf.stderr)
    for (const output of JSON.parse(ebnf.stdout)[0].outputs) assert.match(output.text, /^[0-9]{2}\.$/)
    const bad = await generate(['--model', modelDir, '--grammar', 'start: "a" nowhere', 'x'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /'nowhere' is used but never defined/)
  })

  it('a schema with an unsupported keyword exits 2 naming it', async () => {
    const result = await generate(['--model', modelDir, '--json-schema', '{"type": "array", "uniqueItems": true}', 'x'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /uniqueItems/)
  })
})

describe('tool-call grammar and held-back deltas', () => {
  const tools = [
    {type: 'function', function: {name: 'a', parameters: {type: 'object', properties: {x: {type: 'integer'}}, required: ['x']}}},
    {type: 'function', function: {name: 'b'}},
  ]

  it('required forces a list of known calls; one call only without parallel_tool_calls', () => {
    const spec = toolGrammar(parseToolRequest({tools, tool_choice: 'required', parallel_tool_calls: false})!)!
    assert.equal(spec.kind, 'json')
    const schema = (spec as unknown as {schema: {minItems: number; maxItems?: number; items: {anyOf: {properties: {name: {enum: string[]}}}[]}}}).schema
    assert.equal(schema.minItems, 1)
    assert.equal(schema.maxItems, 1)
    assert.deepEqual(schema.items.anyOf.map((call) => call.properties.name.enum[0]), ['a', 'b'])
    assert.equal(toolGrammar(parseToolRequest({tools, tool_choice: 'auto'})!), null)
  })

  it('required calls are sent at the end as header then arguments, per call index', () => {
    const deltas = new ToolCallDeltas(parseToolRequest({tools, tool_choice: 'required'})!, null)
    assert.deepEqual(deltas.next(0, '[{"name":"a","parameters":{"x":1}},', false), [])
    const sent = deltas.next(0, '{"name":"b","parameters":{}}]', true) as {tool_calls: {index: number; id?: string; function: {name?: string; arguments: string}}[]}[]
    assert.deepEqual(
      sent.map((delta) => [delta.tool_calls[0]!.index, delta.tool_calls[0]!.function.name ?? null, delta.tool_calls[0]!.function.arguments]),
      [[0, 'a', ''], [0, null, '{"x":1}'], [1, 'b', ''], [1, null, '{}']],
    )
    assert.ok(deltas.madeCalls(0))
  })
})

describe('auto tool calls while streaming', () => {
  const tools = [{type: 'function', function: {name: 'lookup', parameters: {type: 'object', properties: {q: {type: 'string'}}}}}]
  const contentOf = (deltas: object[]) => deltas.map((delta) => (delta as {content?: string}).content ?? '').join('')

  it('hermes: content streams up to <tool_call>, the call is sent at the end', () => {
    const deltas = new ToolCallDeltas(parseToolRequest({tools})!, 'hermes')
    assert.equal(contentOf(deltas.next(0, 'Let me look. <tool', false)), 'Let me look. ')
    assert.deepEqual(deltas.next(0, '_call>{"name": "lookup", ', false), [])
    const end = deltas.next(0, '"arguments": {"q": "x"}}</tool_call>', true)
    assert.equal(contentOf(end), '')
    assert.equal((end[0] as {tool_calls: {function: {name: string}}[]}).tool_calls[0]!.function.name, 'lookup')
    assert.ok(deltas.madeCalls(0))
    const plain = new ToolCallDeltas(parseToolRequest({tools})!, 'hermes')
    assert.equal(contentOf([...plain.next(1, 'a <to', false), ...plain.next(1, 'p> b', true)]), 'a <top> b')
    assert.ok(!plain.madeCalls(1))
  })

  it('llama3_json: an output opening with { is held; plain text streams', () => {
    const call = new ToolCallDeltas(parseToolRequest({tools})!, 'llama3_json')
    assert.deepEqual(call.next(0, ' {"name": "lookup", ', false), [])
    assert.equal(call.next(0, '"parameters": {"q": "y"}}', true).length, 2)
    const text = new ToolCallDeltas(parseToolRequest({tools})!, 'llama3_json')
    assert.equal(contentOf(text.next(0, 'Hello', false)), 'Hello')
  })
})
