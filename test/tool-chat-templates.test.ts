// Tools and tool messages reach chat templates as transformers passes them: the OpenAI tool objects, arguments as objects for `tojson`.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {parseMessages} from '../src/server/chat-request.js'
import {parseToolRequest} from '../src/server/tool-calls.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-tool-templates-')

// Written for this test in the three families' styles (not their templates): Hermes/Qwen dumps each call's
// arguments with tojson, Llama 3.1 tests `'tool_calls' in message`, Mistral demands 9-character call ids.
const TEMPLATES = {
  hermes:
    '{% for tool in tools %}<tool>{{ tool | tojson }}</tool>{% endfor %}' +
    '{% for message in messages %}<{{ message.role }}>{% if message.content %}{{ message.content }}{% endif %}' +
    '{% for call in message.tool_calls or [] %}{% set fn = call.function %}<tool_call>{"name": "{{ fn.name }}", "arguments": {{ fn.arguments | tojson }}}</tool_call>{% endfor %}' +
    '{% if message.role == "tool" %}[{{ message.tool_call_id }}]{% endif %}{% endfor %}',
  llama3:
    '{% for message in messages %}{% if "tool_calls" in message %}{% set fn = message.tool_calls[0].function %}' +
    '{"name": "{{ fn.name }}", "parameters": {{ fn.arguments | tojson }}}{% else %}{{ message.role }}: {{ message.content }}{% endif %}|{% endfor %}',
  mistral:
    '{% for message in messages %}{% for call in message.tool_calls or [] %}{% if call.id | length != 9 %}' +
    '{{ raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}{% endif %}[TOOL_CALLS]{{ call.id }}{% endfor %}{% endfor %}',
}

function tokenizerWith(template: string, name: string): Tokenizer {
  const dir = scratch.copy(name)
  writeFileSync(join(dir, 'chat_template.jinja'), template)
  return Tokenizer.load(dir)
}

const tools = [{type: 'function', function: {name: 'get_weather', description: 'Forecast', parameters: {type: 'object', properties: {city: {type: 'string'}}}}}]
const conversation = (id: string) => ({
  tools,
  messages: [
    {role: 'user', content: 'Weather in Rome?'},
    {role: 'assistant', content: null, tool_calls: [{id, type: 'function', function: {name: 'get_weather', arguments: '{"city": "Rome", "days": [1, 2]}'}}]},
    {role: 'tool', tool_call_id: id, content: '{"sky": "clear"}'},
  ],
})

describe('tool calls in chat templates', () => {
  it('hermes-style: tools as OpenAI objects, each call\'s arguments an object for tojson, tool results with their call id', () => {
    const body = conversation('call_1')
    const text = tokenizerWith(TEMPLATES.hermes, 'hermes').applyChatTemplate(parseMessages(body), {tools: parseToolRequest(body)!.tools as object[], addGenerationPrompt: false})
    assert.ok(text.startsWith(`<tool>${JSON.stringify(tools[0]).replace(/":/g, '": ').replace(/,"/g, ', "')}</tool>`), text)
    assert.ok(text.includes('<assistant><tool_call>{"name": "get_weather", "arguments": {"city": "Rome", "days": [1, 2]}}</tool_call>'), text)
    assert.ok(text.includes('<tool>{"sky": "clear"}[call_1]'), text)
  })

  it('llama3-style: an assistant turn with tool_calls has the key, turns without have none', () => {
    const body = conversation('call_1')
    const text = tokenizerWith(TEMPLATES.llama3, 'llama3').applyChatTemplate(parseMessages(body), {addGenerationPrompt: false})
    assert.equal(text, 'user: Weather in Rome?|{"name": "get_weather", "parameters": {"city": "Rome", "days": [1, 2]}}|tool: {"sky": "clear"}|')
    // An empty list (clients send one on turns without calls) is no calls: before, the template read call 0 of it (a 400).
    const empty = parseMessages({messages: [{role: 'assistant', content: 'Hi.', tool_calls: []}]})
    assert.equal(tokenizerWith(TEMPLATES.llama3, 'llama3-empty').applyChatTemplate(empty, {addGenerationPrompt: false}), 'assistant: Hi.|')
  })

  it('mistral-style: a template that refuses an id is a 400 on messages, not a 500', () => {
    const tokenizer = tokenizerWith(TEMPLATES.mistral, 'mistral')
    assert.equal(tokenizer.applyChatTemplate(parseMessages(conversation('a1b2c3d4e')), {addGenerationPrompt: false}), '[TOOL_CALLS]a1b2c3d4e')
    assert.throws(
      () => tokenizer.applyChatTemplate(parseMessages(conversation('call_1')), {addGenerationPrompt: false}),
      (error: unknown) => error instanceof InvalidRequestError && error.param === 'messages' && /length 9/.test(error.message),
    )
  })
})
