// Reasoning parsers (serve --reasoning-parser): the split at </think> whole and streamed, and the chat replies built on it.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {parseMessages} from '../src/server/chat-request.js'
import {ReasoningSplitter} from '../src/server/reasoning-deltas.js'
import type {TokenizerLike} from '../src/server/engine-like.js'
import {reasoningTagsFor, reasoningTokenCount, splitReasoning, tagsAreSpecialTokens} from '../src/server/reasoning-parsers.js'
import {FakeEngine, FakeTokenizer} from './support/fake-engine.js'
import {runCommand} from './support/run-command.js'
import {post, sseEvents, start, startTinyEngineServer} from './support/server-harness.js'

const tags = reasoningTagsFor('deepseek_r1', undefined)!

/** [output, reasoning, content] as vLLM's deepseek_r1 / qwen3 (thinking on) parsers split them. */
const CASES: Array<[string, string | null, string]> = [
  ['<think>plan</think>answer', 'plan', 'answer'],
  ['plan</think>answer', 'plan', 'answer'], // R1's template put <think> in the prompt
  ['\n<think>\nplan\n</think>\n\nanswer', '\nplan\n', '\n\nanswer'],
  ['plan cut short', 'plan cut short', ''], // no </think>: all reasoning
  ['<think>plan</think>', 'plan', ''],
  ['</think>answer', null, 'answer'],
  ['r</think>a</think>b</think>', 'r', 'a</think>b</think>'], // only the first end tag ends the reasoning
  ['a <think> b</think>c', 'a <think> b', 'c'],
  ['</thin', '</thin', ''],
  ['<thi', '<thi', ''],
  ['', null, ''],
]

/** Streams `pieces` through one splitter and joins what each field got. */
function streamed(pieces: string[]): {reasoning: string; content: string} {
  const splitter = new ReasoningSplitter(tags)
  let reasoning = ''
  let content = ''
  pieces.forEach((piece, index) => {
    const out = splitter.push(piece, index === pieces.length - 1)
    reasoning += out.reasoning
    content += out.content
  })
  return {reasoning, content}
}

describe('reasoning split', () => {
  it('whole outputs split as vLLM splits them', () => {
    for (const [text, reasoning, content] of CASES) assert.deepEqual(splitReasoning(text, tags), {reasoning, content}, JSON.stringify(text))
  })

  it('streamed in two or three pieces cut anywhere, or one character at a time, the fields join to the whole split', () => {
    for (const [text, reasoning, content] of CASES) {
      const whole = {reasoning: reasoning ?? '', content}
      assert.deepEqual(streamed([...text]), whole, `char by char: ${JSON.stringify(text)}`)
      for (let i = 0; i <= text.length; i++) {
        assert.deepEqual(streamed([text.slice(0, i), text.slice(i)]), whole, `cut at ${i}: ${JSON.stringify(text)}`)
        for (let j = i; j <= text.length; j++) assert.deepEqual(streamed([text.slice(0, i), text.slice(i, j), text.slice(j)]), whole)
      }
    }
  })

  it('a stream that opens with a long whitespace run keeps the whitespace', () => {
    // The opening phase trimmed all it held on every delta: 8 s for 160,000 spaces in 4-character deltas (timing is
    // measured by scripts/fuzz-tool-call-parsers.ts, not asserted here).
    const pieces = [...Array.from({length: 40_000}, () => '    '), '<think>r</think>a']
    assert.deepEqual(streamed(pieces), {reasoning: 'r', content: 'a'})
    assert.deepEqual(streamed([...pieces.slice(0, 40_000), 'x']), {reasoning: '    '.repeat(40_000) + 'x', content: ''})
  })

  it('a tag split across pieces is held until whole: no part of it reaches a field', () => {
    const splitter = new ReasoningSplitter(tags)
    assert.deepEqual(splitter.push('<thi', false), {reasoning: '', content: ''})
    assert.deepEqual(splitter.push('nk>plan</th', false), {reasoning: 'plan', content: ''})
    assert.equal(splitter.reasoningEnded, false)
    assert.deepEqual(splitter.push('ink>ans', false), {reasoning: '', content: 'ans'})
    assert.equal(splitter.reasoningEnded, true)
  })

  it('reasoning tokens are those whose text lies wholly inside the reasoning, tags spanning tokens included', () => {
    const pieces = ['\n<th', 'ink>', 'ab', 'c</', 'think>', 'x']
    const tokenizer = {decode: (ids: number[]) => ids.map((id) => pieces[id]).join('')} as unknown as TokenizerLike
    const ids = pieces.map((_, id) => id)
    assert.equal(reasoningTokenCount(tokenizer, ids, pieces.join(''), tags, true), 1) // 'ab'; 'c</' is half tag
    assert.equal(reasoningTokenCount(tokenizer, ids.slice(0, 3), pieces.slice(0, 3).join(''), tags, true), 1) // no end tag yet
    assert.equal(reasoningTokenCount(tokenizer, [4, 5], '</think>x'.slice(2), tags, true), 2) // 'think>x': no tags, all reasoning
  })

  it('qwen3 with enable_thinking false is plain content; deepseek_r1 ignores the switch; no parser, no split', () => {
    assert.equal(reasoningTagsFor('qwen3', {enable_thinking: false}), null)
    assert.notEqual(reasoningTagsFor('qwen3', {}), null)
    assert.notEqual(reasoningTagsFor('deepseek_r1', {enable_thinking: false}), null)
    assert.equal(reasoningTagsFor(null, undefined), null)
  })
})

describe('reasoning sent back in a conversation', () => {
  it("an assistant turn's reasoning_content (or reasoning) reaches the template, which Qwen3's renders", () => {
    const template = new ChatTemplate(readFileSync(join(import.meta.dirname, 'fixtures', 'chat-templates', 'qwen3.jinja'), 'utf8'))
    for (const key of ['reasoning_content', 'reasoning']) {
      const messages = parseMessages({messages: [{role: 'user', content: 'Hi'}, {role: 'assistant', content: 'Hello', [key]: 'greet back'}]})
      const rendered = template.render(messages, {eos_token: '<|im_end|>'}, {addGenerationPrompt: false})
      assert.ok(rendered.includes('<|im_start|>assistant\n<think>\ngreet back\n</think>\n\nHello'), rendered)
    }
  })

  it('a reasoning field that is not a string is a 400 naming it', async () => {
    const {url} = await start({reasoningParser: 'deepseek_r1'})
    for (const key of ['reasoning_content', 'reasoning']) {
      const reply = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'Hi'}, {role: 'assistant', content: 'x', [key]: 42}]})
      assert.equal(reply.status, 400)
      assert.equal(reply.json().error.param, `messages[1].${key}`)
    }
  })
})

/** A streamed reply's choices rebuilt from its deltas. */
function rebuild(text: string) {
  const choices = new Map<number, {reasoning: string; reasoningContent: string; content: string; calls: string[]; logprobs: number; finish: string | null}>()
  let usage: any = null
  for (const event of sseEvents(text)) {
    if (event === '[DONE]') continue
    usage = event.usage ?? usage
    for (const choice of event.choices) {
      if (!choices.has(choice.index)) choices.set(choice.index, {reasoning: '', reasoningContent: '', content: '', calls: [], logprobs: 0, finish: null})
      const state = choices.get(choice.index)!
      state.reasoning += choice.delta.reasoning ?? ''
      state.reasoningContent += choice.delta.reasoning_content ?? ''
      state.content += choice.delta.content ?? ''
      for (const call of choice.delta.tool_calls ?? []) if (call.function?.name) state.calls.push(call.function.name)
      state.logprobs += choice.logprobs?.content?.length ?? 0
      state.finish = choice.finish_reason ?? state.finish
    }
  }
  return {choices, usage}
}

const user = [{role: 'user', content: 'Which is larger, 9.11 or 9.8?'}]

describe('chat replies with --reasoning-parser (scripted engine: one character per token)', () => {
  const script = '<think>9.8 is 9.80</think>9.8'
  const chat = (url: string, body: object) => post(`${url}/v1/chat/completions`, {messages: user, max_tokens: script.length, ...body})

  it('the reply has reasoning and reasoning_content, content without the thinking, usage unchanged; streamed alike, each of n choices on its own', async () => {
    const {url} = await start({reasoningParser: 'deepseek_r1'}, new FakeEngine({script}))
    const whole = (await chat(url, {n: 2})).json()
    const [first, second] = whole.choices
    assert.deepEqual(first.message, {role: 'assistant', content: '9.8', reasoning: '9.8 is 9.80', reasoning_content: '9.8 is 9.80'})
    // The second sample starts one character later: "think>9.8 is 9.80</think>9.8<" (no start tag, same split).
    assert.equal(second.message.reasoning, 'think>9.8 is 9.80')
    assert.equal(second.message.content, '9.8<')
    assert.equal(whole.usage.completion_tokens, 2 * script.length)
    // One token per character: "9.8 is 9.80" and "think>9.8 is 9.80".
    assert.deepEqual(whole.usage.completion_tokens_details, {reasoning_tokens: 11 + 17})
    const stream = rebuild((await chat(url, {n: 2, stream: true, logprobs: true, stream_options: {include_usage: true}})).text)
    for (const choice of whole.choices) {
      const got = stream.choices.get(choice.index)!
      assert.equal(got.reasoning, choice.message.reasoning)
      assert.equal(got.reasoningContent, choice.message.reasoning)
      assert.equal(got.content, choice.message.content)
      assert.equal(got.logprobs, script.length, 'every token, held tag characters included, gets its logprobs')
      assert.equal(got.finish, 'length')
    }
    assert.equal(stream.usage.completion_tokens, 2 * script.length)
    assert.deepEqual(stream.usage.completion_tokens_details, {reasoning_tokens: 11 + 17})
  })

  it('reasoning deltas come first, then content; no delta carries a piece of a tag', async () => {
    const {url} = await start({reasoningParser: 'qwen3'}, new FakeEngine({script}))
    const events = sseEvents((await chat(url, {stream: true})).text).filter((event) => event !== '[DONE]')
    const deltas = events.map((event) => event.choices[0].delta)
    const firstContent = deltas.findIndex((delta) => (delta.content ?? '') !== '')
    assert.ok(firstContent > 0 && deltas.slice(firstContent).every((delta) => delta.reasoning === undefined))
    for (const delta of deltas) for (const text of [delta.reasoning, delta.content]) assert.ok(!/[<>]/.test(text ?? ''), JSON.stringify(delta))
  })

  it('qwen3 with enable_thinking false, /v1/completions, and no parser: the text is untouched', async () => {
    const qwen = await start({reasoningParser: 'qwen3'}, new FakeEngine({script}))
    const off = (await chat(qwen.url, {chat_template_kwargs: {enable_thinking: false}})).json().choices[0].message
    assert.deepEqual(off, {role: 'assistant', content: script})
    const completion = (await post(`${qwen.url}/v1/completions`, {prompt: 'x', max_tokens: script.length})).json()
    assert.equal(completion.choices[0].text, script)
    const plain = await start({}, new FakeEngine({script}))
    const plainReply = (await chat(plain.url, {})).json()
    assert.deepEqual(plainReply.choices[0].message, {role: 'assistant', content: script})
    assert.equal(plainReply.usage.completion_tokens_details, undefined)
  })

  it('a grammar (response_format, structured_outputs, forced tools) with a reasoning parser whose end tag is not one token of the vocabulary is a 400 naming both; with thinking off it runs', async () => {
    // The scripted engine's vocabulary is one token per character; test/reasoning-grammar.test.ts runs a real </think> token.
    const {url} = await start({reasoningParser: 'deepseek_r1'}, new FakeEngine({script}))
    const refused = await chat(url, {response_format: {type: 'json_object'}})
    assert.equal(refused.status, 400)
    assert.equal(refused.json().error.param, 'response_format')
    assert.match(refused.json().error.message, /--reasoning-parser deepseek_r1/)
    const tools = [{type: 'function', function: {name: 'get_time', parameters: {type: 'object', properties: {}}}}]
    const forced = await chat(url, {tools, tool_choice: 'required'})
    assert.equal(forced.status, 400)
    assert.equal(forced.json().error.param, 'tool_choice')
    const qwen = await start({reasoningParser: 'qwen3'}, new FakeEngine({script}))
    const off = await chat(qwen.url, {structured_outputs: {regex: 'a+'}, chat_template_kwargs: {enable_thinking: false}})
    assert.doesNotMatch(off.text, /reasoning/)
  })

  it('tool calls are read from the answer only: a call the model only thinks about stays reasoning', async () => {
    const tools = [{type: 'function', function: {name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}}}}}]
    const call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    const calling = `<think>I need the weather</think>${call}`
    const a = await start({reasoningParser: 'deepseek_r1', toolCallParser: 'hermes'}, new FakeEngine({script: calling}))
    const body = {messages: user, tools, max_tokens: calling.length}
    const whole = (await post(`${a.url}/v1/chat/completions`, body)).json().choices[0]
    assert.equal(whole.finish_reason, 'length') // cut by max_tokens: a call, but not finished by the model
    assert.equal(whole.message.reasoning, 'I need the weather')
    assert.equal(whole.message.content, null)
    assert.deepEqual(JSON.parse(whole.message.tool_calls[0].function.arguments), {city: 'Paris'})
    const stream = rebuild((await post(`${a.url}/v1/chat/completions`, {...body, stream: true})).text).choices.get(0)!
    assert.deepEqual([stream.reasoning, stream.content, stream.calls, stream.finish], ['I need the weather', '', ['get_weather'], 'length'])

    const thinking = `<think>maybe ${call}</think>no call needed`
    const b = await start({reasoningParser: 'deepseek_r1', toolCallParser: 'hermes'}, new FakeEngine({script: thinking}))
    const thought = (await post(`${b.url}/v1/chat/completions`, {...body, max_tokens: thinking.length})).json().choices[0]
    assert.equal(thought.finish_reason, 'length')
    assert.equal(thought.message.tool_calls, undefined)
    assert.deepEqual([thought.message.reasoning, thought.message.content], [`maybe ${call}`, 'no call needed'])
  })

  it('where the tokenizer makes the tags special tokens, they are kept in the text (skip_special_tokens off)', async () => {
    // Ids 200 and 201 stand for <think> and </think> as special tokens, dropped by skip_special_tokens.
    class SpecialTags extends FakeTokenizer {
      override encode(text: string, opts: {addSpecialTokens?: boolean} = {}): number[] {
        return text === '<think>' ? [200] : text === '</think>' ? [201] : super.encode(text, opts)
      }
      override decode(ids: number[], opts: {skipSpecialTokens?: boolean} = {}): string {
        return ids.map((id) => (id === 200 || id === 201 ? (opts.skipSpecialTokens ? '' : ['<think>', '</think>'][id - 200]) : super.decode([id]))).join('')
      }
    }
    assert.equal(tagsAreSpecialTokens(new SpecialTags(), tags), true)
    assert.equal(tagsAreSpecialTokens(new FakeTokenizer(), tags), false)
    for (const [reasoningParser, skip] of [['deepseek_r1', false], [undefined, true]] as const) {
      const engine = new FakeEngine({script})
      Object.defineProperty(engine, 'tokenizer', {value: new SpecialTags()})
      const {url} = await start({reasoningParser}, engine)
      assert.equal((await chat(url, {})).status, 200)
      assert.equal(engine.receivedParams[0]!.skipSpecialTokens, skip)
    }
  })

  it('hostile: long reasoning with no end tag is all reasoning; </think> twice in the answer stays content', async () => {
    const long = `<think>${'why '.repeat(150)}`
    const {url} = await start({reasoningParser: 'deepseek_r1'}, new FakeEngine({script: long, maxModelLen: 2048}))
    const whole = (await chat(url, {max_tokens: long.length})).json().choices[0].message
    assert.deepEqual([whole.reasoning, whole.content], ['why '.repeat(150), null])
    const stream = rebuild((await chat(url, {max_tokens: long.length, stream: true})).text).choices.get(0)!
    assert.deepEqual([stream.reasoning, stream.content], ['why '.repeat(150), ''])

    const twice = 'r</think>a</think>b</think>'
    const again = await start({reasoningParser: 'deepseek_r1'}, new FakeEngine({script: twice}))
    const reply = (await chat(again.url, {max_tokens: twice.length})).json().choices[0].message
    assert.deepEqual([reply.reasoning, reply.content], ['r', 'a</think>b</think>'])
    const streamedTwice = rebuild((await chat(again.url, {max_tokens: twice.length, stream: true})).text).choices.get(0)!
    assert.deepEqual([streamedTwice.reasoning, streamedTwice.content], ['r', 'a</think>b</think>'])
  })
})

describe('reasoning parser on the tiny model', () => {
  it('random text never closes its thinking: all of it is reasoning, streamed or not, and the counts are the tokens', async () => {
    const {server, url} = await startTinyEngineServer({reasoningParser: 'deepseek_r1'})
    try {
      const body = {messages: user, max_tokens: 12, seed: 3, temperature: 1, ignore_eos: true}
      const whole = (await post(`${url}/v1/chat/completions`, body)).json()
      const message = whole.choices[0].message
      assert.equal(message.content, null)
      assert.ok(typeof message.reasoning === 'string' && message.reasoning.length > 0)
      assert.equal(whole.usage.completion_tokens, 12)
      assert.deepEqual(whole.usage.completion_tokens_details, {reasoning_tokens: 12})
      const stream = rebuild((await post(`${url}/v1/chat/completions`, {...body, stream: true})).text).choices.get(0)!
      assert.deepEqual([stream.reasoning, stream.content], [message.reasoning, ''])
    } finally {
      await server.shutdown(1000)
    }
  })
})

describe('serve --reasoning-parser', () => {
  it('an unknown name stops the start with the names it takes', async () => {
    const {code, stderr} = await runCommand('serve', ['--reasoning-parser', 'deepseek-r1', '--port', '0'])
    assert.notEqual(code, 0)
    assert.match(stderr, /--reasoning-parser=deepseek-r1 to be one of: deepseek_r1, qwen3/)
  })
})
