// Message content as a template wants it (vLLM's --chat-template-content-format): detected on the template's AST, text parts passed as a list to templates that loop over them.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {parseChatCompletionRequest} from '../src/server/chat-request.js'
import {runCommand} from './support/run-command.js'
import {post, startTinyEngineServer} from './support/server-harness.js'

// Written from the published formats: each branches on `content is string` and otherwise loops over the parts.
const LLAMA_32_VISION =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}" +
  "{%- if message['content'] is string %}{{- message['content'] }}{%- else %}{%- for content in message['content'] %}" +
  "{%- if content['type'] == 'image' %}{{- '<|image|>' }}{%- elif content['type'] == 'text' %}{{- content['text'] }}{%- endif %}" +
  "{%- endfor %}{%- endif %}{{- '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
const QWEN2_VL =
  "{% set image_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}" +
  "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}" +
  "{% if content['type'] == 'image' or 'image' in content %}{% set image_count.value = image_count.value + 1 %}<|vision_start|><|image_pad|><|vision_end|>" +
  "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
const MISTRAL_SMALL_31 =
  "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}" +
  "{%- else %}{%- set loop_messages = messages %}{%- endif %}{{- '[SYSTEM_PROMPT]' + (system_message if system_message is defined else '') + '[/SYSTEM_PROMPT]' }}" +
  "{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{%- if message['content'] is string %}{{- '[INST]' + message['content'] + '[/INST]' }}" +
  "{%- else %}{{- '[INST]' }}{%- for block in message['content'] %}{%- if block['type'] == 'text' %}{{- block['text'] }}{%- elif block['type'] == 'image' %}{{- '[IMG]' }}" +
  "{%- endif %}{%- endfor %}{{- '[/INST]' }}{%- endif %}{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}"
const LLAMA_3 =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"

const TOKENS = {bos_token: '<s>', eos_token: '</s>'}
const PARTS = [{type: 'text' as const, text: 'Describe'}, {type: 'text' as const, text: 'briefly.'}]

describe('detecting the content format on the template (vLLM\'s rule)', () => {
  for (const [name, source] of [['Llama 3.2 Vision', LLAMA_32_VISION], ['Qwen2-VL', QWEN2_VL], ['Mistral-Small-3.1 (messages[1:] under another name)', MISTRAL_SMALL_31]]) {
    it(`${name} loops over content parts: openai`, () => assert.equal(new ChatTemplate(source).contentFormat, 'openai'))
  }

  const cases: [string, string, 'string' | 'openai'][] = [
    ['Llama 3 prints the content', LLAMA_3, 'string'],
    ['a loop with an inline if over messages, content read as an attribute', "{% for m in messages if m.role != 'system' %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endfor %}", 'openai'],
    ['content filtered before the loop', "{% for m in messages %}{% for p in m['content'] | selectattr('type', 'equalto', 'text') %}{{ p.text }}{% endfor %}{% endfor %}", 'openai'],
    ['content sliced before the loop', "{% for m in messages %}{% for p in m['content'][1:] %}{{ p.text }}{% endfor %}{% endfor %}", 'openai'],
    ['a list filtered, then aliased twice', "{% set a = messages | list %}{% set b = a %}{% for m in b %}{% for p in m.content %}{{ p }}{% endfor %}{% endfor %}", 'openai'],
    // vLLM reads loops only: indexing the parts without looping is the string format.
    ['content[0] indexed, never looped', "{% for m in messages %}{{ m['content'][0]['text'] }}{% endfor %}", 'string'],
    ['a loop over another field', "{% for m in messages %}{% for c in m['tool_calls'] %}{{ c }}{% endfor %}{% endfor %}", 'string'],
    ['a loop over a variable that is not a message', "{% for x in tools %}{% for p in x.content %}{{ p }}{% endfor %}{% endfor %}", 'string'],
  ]
  for (const [label, source, format] of cases) {
    it(`${label}: ${format}`, () => assert.equal(new ChatTemplate(source).contentFormat, format))
  }
})

describe('rendering content in each format', () => {
  it('an openai-format template gets the parts as a list, each part on its own', () => {
    const rendered = new ChatTemplate(QWEN2_VL).render([{role: 'user', content: 'Describe\nbriefly.', contentParts: PARTS}], TOKENS)
    assert.match(rendered, /<\|im_start\|>user\nDescribebriefly\.<\|im_end\|>/)
  })

  it('a string content is one text part for an openai-format template (as vLLM wraps it), and the joined text for a string one', () => {
    assert.match(new ChatTemplate(MISTRAL_SMALL_31).render([{role: 'user', content: 'hi'}], TOKENS), /\[INST\]hi\[\/INST\]/)
    const loopsOnly = new ChatTemplate("{% for m in messages %}{% for p in m.content %}[{{ p.type }}:{{ p.text }}]{% endfor %}{% endfor %}")
    assert.equal(loopsOnly.render([{role: 'user', content: 'hi'}], TOKENS), '[text:hi]')
    assert.equal(new ChatTemplate(LLAMA_3).render([{role: 'user', content: 'Describe\nbriefly.', contentParts: PARTS}], TOKENS), '<s><|start_header_id|>user<|end_header_id|>\n\nDescribe\nbriefly.<|eot_id|>')
  })

  it('the flag overrides the detection both ways', () => {
    const messages = [{role: 'user', content: 'Describe\nbriefly.', contentParts: PARTS}]
    assert.match(new ChatTemplate(LLAMA_32_VISION).render(messages, TOKENS, {contentFormat: 'string'}), /<\|end_header_id\|>\n\nDescribe\nbriefly\.<\|eot_id\|>/)
    const listPrinted = new ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}").render(messages, TOKENS, {contentFormat: 'openai'})
    assert.equal(listPrinted, "[{'type': 'text', 'text': 'Describe'}, {'type': 'text', 'text': 'briefly.'}]")
  })

  it('an assistant turn with content null and tool_calls is an empty list to an openai-format template, "" to a string one', () => {
    const messages = [{role: 'assistant', content: '', contentParts: [], tool_calls: [{type: 'function', function: {name: 'f', arguments: {}}}]}]
    const template = new ChatTemplate("{% for m in messages %}{% for p in m.content %}x{% endfor %}{{ m.content is string }}:{{ m.content | length }}/{{ m.tool_calls | length }}{% endfor %}")
    assert.equal(template.render(messages, TOKENS), 'False:0/1')
    assert.equal(template.render(messages, TOKENS, {contentFormat: 'string'}), 'True:0/1')
  })
})

describe('content parts in a chat request', () => {
  const parse = (content: unknown, role = 'user') => parseChatCompletionRequest({messages: [{role, content}]}).lastMessage

  it('keeps text parts (text, input_text, output_text, refusal, bare strings) and joins them with newlines; a null text is skipped as vLLM skips it', () => {
    const message = parse([{type: 'text', text: 'a'}, {type: 'input_text', text: 'b'}, {type: 'output_text', text: 'c'}, {type: 'text', text: null}, 'd'])
    assert.equal(message.content, 'a\nb\nc\nd')
    assert.deepEqual(message.contentParts?.map((part) => part.text), ['a', 'b', 'c', 'd'])
    assert.deepEqual(parse([{type: 'refusal', refusal: 'no'}], 'assistant').contentParts, [{type: 'text', text: 'no'}])
    assert.deepEqual(parse('plain'), {role: 'user', content: 'plain'})
  })

  for (const [type, part] of [['image_url', {image_url: {url: 'data:image/png;base64,AA=='}}], ['input_audio', {input_audio: {data: '', format: 'wav'}}], ['video_url', {video_url: {url: 'x'}}], ['file', {file: {file_id: 'f'}}]] as const) {
    it(`refuses a '${type}' part with a 400 that names it and says the model is text-only`, () => {
      assert.throws(() => parse([{type: 'text', text: 'x'}, {type, ...part}]), (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError)
        assert.equal(error.httpStatus, 400)
        assert.equal(error.message, `'messages[0].content[1]' is a '${type}' part, but this model is text-only: only text parts ({"type":"text","text":...}) are accepted`)
        return true
      })
    })
  }
})

describe('serve --chat-template-content-format, end to end', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-content-format-'))
  after(() => rmSync(scratch, {recursive: true, force: true}))

  it('auto passes parts to a template that loops over them; string joins them; both as /tokenize and the chat prompt', async () => {
    const dir = join(scratch, 'qwen2-vl-template')
    cpSync(await ensureTestModel('tiny', {variant: 'qwen2'}), dir, {recursive: true})
    writeFileSync(join(dir, 'chat_template.jinja'), QWEN2_VL)
    const body = {messages: [{role: 'user', content: [{type: 'text', text: 'ab'}, {type: 'text', text: 'cd'}]}]}
    const rendered: Record<string, string> = {}
    for (const format of ['auto', 'string', 'openai'] as const) {
      const {server, engine, url} = await startTinyEngineServer({chatTemplateContentFormat: format}, dir)
      try {
        const reply = await post(`${url}/tokenize`, body)
        assert.equal(reply.status, 200, reply.text)
        rendered[format] = engine.tokenizer.decode(reply.json().tokens)
        const chat = await post(`${url}/v1/chat/completions`, {...body, max_tokens: 1})
        assert.equal(chat.status, 200, chat.text)
        assert.equal(chat.json().usage.prompt_tokens, reply.json().count)
        // continue_final_message ends the prompt at the last text part, as transformers looks for it.
        const continued = await post(`${url}/tokenize`, {messages: [...body.messages, {role: 'assistant', content: body.messages[0]!.content}], add_generation_prompt: false, continue_final_message: true})
        assert.equal(continued.status, 200, continued.text)
        rendered[`${format} continued`] = engine.tokenizer.decode(continued.json().tokens)
      } finally {
        await server.shutdown(0)
        await engine.shutdown()
      }
    }
    assert.match(rendered.auto!, /<\|im_start\|>user\nabcd<\|im_end\|>/)
    assert.equal(rendered.openai, rendered.auto)
    assert.match(rendered.string!, /<\|im_start\|>user\nab\ncd<\|im_end\|>/)
    assert.match(rendered['auto continued']!, /<\|im_start\|>assistant\nabcd$/)
    assert.match(rendered['string continued']!, /<\|im_start\|>assistant\nab\ncd$/)
  })
})

describe('serve --chat-template-content-format', () => {
  it('an unknown format stops the start with the ones it takes', async () => {
    const {code, stderr} = await runCommand('serve', ['--chat-template-content-format', 'openai-ish', '--port', '0'])
    assert.notEqual(code, 0)
    assert.match(stderr, /--chat-template-content-format=openai-ish to be one of: auto, string, openai/)
  })
})
