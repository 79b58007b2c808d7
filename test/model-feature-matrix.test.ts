// Every serving feature on every kind of model (SPM and byte-level BPE vocabularies, HF and GGUF, quantized): chat
// templates, streaming, stop strings, structured output, tool calls with the family's parser, logprobs, /tokenize, echo,
// incremental detokenization and the grammar's view of each vocabulary. One engine and server per kind.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {GrammarCompiler, vocabInfoOf} from '../src/engine/guided/grammar-compiler.js'
import {guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {schemaErrors} from './support/guided-check.js'
import {type ModelKind, prepareModelKinds, QWEN3_TEXT_TOKENS} from './support/model-kinds.js'
import {post, sseEvents} from './support/server-harness.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-matrix-'))
after(() => rmSync(scratch, {recursive: true, force: true}))
const kinds = await prepareModelKinds(scratch)

const messages = [{role: 'user', content: 'Say é 世界 🙂 twice'}]
const weather = {type: 'object', properties: {city: {enum: ['Paris', 'Rome']}}, required: ['city'], additionalProperties: false}
const tools = [{type: 'function', function: {name: 'get_weather', parameters: weather}}]
/** The text each parser reads as one get_weather call. */
const CALL_TEXT: Record<string, string> = {hermes: 'Sure \n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', llama3_json: '{"name": "get_weather", "parameters": {"city": "Paris"}}', mistral: 'Sure [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]'}
const escapeRegex = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')

/** A choice's content (or tool-call arguments) and logprob tokens, rebuilt from a stream. */
function streamed(text: string): Map<number, {content: string; tokens: string[]; finish: string | null; stop: unknown}> {
  const choices = new Map<number, {content: string; tokens: string[]; finish: string | null; stop: unknown}>()
  for (const event of sseEvents(text)) {
    if (event === '[DONE]') continue
    for (const choice of event.choices) {
      const state = choices.get(choice.index) ?? {content: '', tokens: [], finish: null, stop: null}
      choices.set(choice.index, state)
      state.content += choice.delta?.content ?? choice.text ?? ''
      state.tokens.push(...(choice.logprobs?.content ?? []).map((entry: {token: string}) => entry.token), ...(choice.logprobs?.tokens ?? []))
      state.finish = choice.finish_reason ?? state.finish
      state.stop = choice.stop_reason ?? state.stop
    }
  }
  return choices
}

function describeKind(kind: ModelKind): void {
  describe(kind.name, () => {
    let engine: LLMEngine
    let server: ApiServer
    let url: string
    before(async () => {
      engine = await LLMEngine.create(makeEngineConfig({modelPath: kind.path, threads: 1, numBlocks: 128, blockSize: 16, ...kind.config}))
      server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, maxBodyBytes: 1 << 20, version: 'matrix', log: () => {}, toolCallParser: kind.toolParser})
      url = (await server.listen()).url
      server.attachEngine(engine)
    })
    after(async () => {
      await server.shutdown(1000)
      await engine.shutdown()
    })
    const chat = (body: object) => post(`${url}/v1/chat/completions`, {messages, max_tokens: 16, temperature: 1, ...body})
    const completion = (body: object) => post(`${url}/v1/completions`, {prompt: 'é 世界 hi', max_tokens: 16, temperature: 1, ...body})
    const idOf = (token: string) => engine.tokenizer.encode(token, {addSpecialTokens: false})

    it('/tokenize and /detokenize round-trip text with special tokens, each special one id', async () => {
      const text = `${kind.specials.join('x')} é世🙂\n${kind.reasoning ? QWEN3_TEXT_TOKENS.join('') : ''} end`
      const {tokens} = (await post(`${url}/tokenize`, {prompt: text, add_special_tokens: false})).json()
      for (const special of kind.specials) assert.equal(tokens.filter((id: number) => idOf(special).length === 1 && id === idOf(special)[0]).length, 1, special)
      // A GGUF SentencePiece vocabulary puts its dummy-prefix space after every special token, as llama.cpp and transformers do.
      const expected = kind.spaceAfterSpecials ? kind.specials.reduce((spaced, special) => spaced.replaceAll(special, `${special} `), text) : text
      assert.equal((await post(`${url}/detokenize`, {tokens})).json().prompt, expected)
      const withBos = (await post(`${url}/tokenize`, {prompt: text})).json().tokens
      assert.ok(withBos.length >= tokens.length, 'BOS at most added')
      assert.ok((await post(`${url}/detokenize`, {tokens: withBos})).json().prompt.endsWith(expected))
    })

    it('chat uses the model\'s template: /tokenize of the messages is the prompt the completion counts', async () => {
      const rendered = engine.tokenizer.applyChatTemplate(messages, {addGenerationPrompt: true})
      assert.ok(rendered.includes(messages[0]!.content))
      const {tokens, count} = (await post(`${url}/tokenize`, {messages})).json()
      assert.deepEqual(tokens, engine.tokenizer.encode(rendered, {addSpecialTokens: false}))
      // The template's markers are single special tokens, not their spelling in pieces.
      const markers = kind.specials.filter((special) => rendered.includes(special))
      // (Mistral's [INST] is text in this vocabulary; its <s> is the special one.)
      assert.ok(markers.length >= (kind.toolParser === 'mistral' ? 1 : 2), `template markers in ${JSON.stringify(rendered)}`)
      for (const marker of markers) assert.ok(tokens.includes(idOf(marker)[0]) && idOf(marker).length === 1, marker)
      const reply = (await chat({seed: 1})).json()
      assert.equal(reply.usage.prompt_tokens, count)
      if (!kind.reasoning) return
      // Qwen3's template drops past reasoning and, without thinking, opens an empty <think></think>: one token each.
      const history = [...messages, {role: 'assistant', content: '<think>\nhmm\n</think>\n\nHello'}, {role: 'user', content: 'again'}]
      const thinking = (await post(`${url}/tokenize`, {messages: history, chat_template_kwargs: {enable_thinking: false}})).json().tokens
      assert.deepEqual(thinking.filter((id: number) => engine.tokenizer.addedTokenIds.has(id) && !engine.tokenizer.specialTokenIds.has(id)), [idOf('<think>')[0], idOf('</think>')[0]])
      assert.ok((await post(`${url}/detokenize`, {tokens: thinking})).json().prompt.endsWith('assistant\nHello<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n'))
    })

    it('streamed chat equals the whole reply for the same seed (n = 2, logprobs)', async () => {
      const body = {seed: 7, n: 2, logprobs: true, top_logprobs: 2, max_tokens: 24}
      const whole = (await chat(body)).json()
      const stream = streamed((await chat({...body, stream: true})).text)
      for (const choice of whole.choices) {
        const got = stream.get(choice.index)!
        assert.equal(got.content, choice.message.content)
        assert.deepEqual(got.tokens, choice.logprobs.content.map((entry: {token: string}) => entry.token))
        assert.equal(got.finish, choice.finish_reason)
      }
    })

    it('logprobs bytes are each token\'s own bytes: together they are the text, half characters included', async () => {
      const reply = (await chat({seed: 3, logprobs: true, top_logprobs: 3, max_tokens: 32, skip_special_tokens: false})).json()
      const choice = reply.choices[0]
      // A stop token (EOS) has its logprob but no text.
      const entries = choice.logprobs.content.slice(0, choice.logprobs.content.length - (choice.finish_reason === 'stop' ? 1 : 0))
      const text = (bytes: number[]) => new TextDecoder().decode(Uint8Array.from(bytes))
      assert.equal(text(entries.flatMap((entry: {bytes: number[]}) => entry.bytes)), choice.message.content)
      // Each token's text is its bytes decoded alone (a SentencePiece token alone loses its leading space, as vLLM shows it).
      const alone = (token: string) => (kind.spm ? token.replace(/^ /, '') : token)
      for (const entry of choice.logprobs.content) for (const top of [entry, ...entry.top_logprobs]) assert.equal(alone(text(top.bytes)), alone(top.token))
    })

    it('a stop string cut anywhere in the text (inside multi-byte characters, across tokens) ends it there, streamed or not', async () => {
      const body = {seed: 11, max_tokens: 24, ignore_eos: true}
      const text: string = (await completion(body)).json().choices[0].text
      const chars = Array.from(text)
      let checked = 0
      for (let at = 1; at + 2 <= chars.length && checked < 4; at += 5) {
        const stop = chars.slice(at, at + 2).join('')
        if (stop.includes('\uFFFD')) continue // an incomplete character is not text the model wrote
        checked++
        const expected = text.slice(0, text.indexOf(stop))
        const cut = (await completion({...body, stop: [stop]})).json().choices[0]
        assert.deepEqual([cut.text, cut.finish_reason, cut.stop_reason], [expected, 'stop', stop], `stop ${JSON.stringify(stop)}`)
        const stream = streamed((await completion({...body, stop: [stop], stream: true})).text).get(0)!
        assert.deepEqual([stream.content, stream.finish, stream.stop], [expected, 'stop', stop])
      }
      assert.ok(checked >= 2, `stop strings tried in ${JSON.stringify(text)}`)
    })

    it('echo returns the prompt and a logprob entry per prompt and output token', async () => {
      const reply = (await completion({echo: true, logprobs: 1, max_tokens: 4, seed: 2})).json()
      const choice = reply.choices[0]
      assert.ok(choice.text.startsWith('é 世界 hi'), choice.text)
      assert.equal(choice.logprobs.tokens.length, reply.usage.prompt_tokens + reply.usage.completion_tokens)
      assert.equal(choice.logprobs.token_logprobs[0], null)
    })

    it('response_format json_schema: valid JSON of the schema, no special token inside', async () => {
      const schema = {type: 'object', properties: {name: {type: 'string', maxLength: 6}, ok: {type: 'boolean'}}, required: ['name', 'ok'], additionalProperties: false}
      for (const seed of [1, 2]) {
        const choice = (await chat({seed, max_tokens: 120, response_format: {type: 'json_schema', json_schema: {name: 'x', schema}}})).json().choices[0]
        assert.equal(choice.finish_reason, 'stop', choice.message.content)
        assert.equal(schemaErrors(schema, JSON.parse(choice.message.content)), null)
        assert.ok(!choice.message.content.includes('\uFFFD'), `valid UTF-8: ${choice.message.content}`)
        for (const special of kind.specials) assert.ok(!choice.message.content.includes(special), special)
      }
    })

    it(`tools with the ${kind.toolParser} parser: auto reads the family's call text, required and named give valid calls`, async () => {
      const forced = {tools, tool_choice: 'auto', max_tokens: 200, seed: 1, structured_outputs: {regex: escapeRegex(CALL_TEXT[kind.toolParser])}}
      const auto = (await chat(forced)).json().choices[0]
      assert.equal(auto.finish_reason, 'tool_calls', JSON.stringify(auto.message))
      assert.deepEqual(auto.message.tool_calls.map((call: any) => [call.function.name, JSON.parse(call.function.arguments)]), [['get_weather', {city: 'Paris'}]])
      // Streamed: the same content (the text before the call, as written) and the same call.
      const events = sseEvents((await chat({...forced, stream: true})).text).filter((event) => event !== '[DONE]')
      const deltas = events.map((event) => event.choices[0]?.delta ?? {})
      assert.equal(deltas.map((delta) => delta.content ?? '').join(''), auto.message.content ?? '')
      const calls = deltas.flatMap((delta) => delta.tool_calls ?? [])
      assert.deepEqual([calls[0].function.name, calls.map((call) => call.function.arguments).join('')], [auto.message.tool_calls[0].function.name, auto.message.tool_calls[0].function.arguments])
      for (const tool_choice of ['required', {type: 'function', function: {name: 'get_weather'}}]) {
        const choice = (await chat({tools, tool_choice, parallel_tool_calls: false, max_tokens: 80, seed: 2})).json().choices[0]
        assert.equal(choice.finish_reason, tool_choice === 'required' ? 'tool_calls' : 'stop', JSON.stringify(choice.message))
        const [call] = choice.message.tool_calls
        assert.equal(call.function.name, 'get_weather')
        assert.equal(schemaErrors(weather, JSON.parse(call.function.arguments)), null)
      }
    })

    it('incremental text equals decoding the ids (after the prompt), special tokens skipped or kept', async () => {
      const prompt = engine.tokenizer.encode('é 世界 hi')
      // Biased toward special tokens (and Qwen3's <think>), which must show or vanish as skip_special_tokens says.
      const favoured = [...kind.specials, ...(kind.reasoning ? ['<think>'] : [])].map((token) => idOf(token)[0]!)
      const logitBias = Object.fromEntries(favoured.filter((id) => !engine.tokenizer.eosTokenIds.includes(id)).map((id) => [id, 3]))
      for (const skipSpecialTokens of [true, false]) {
        const requests = [1, 2, 3, 4].map((seed) => ({prompt, params: makeSamplingParams({temperature: 1.5, seed, maxTokens: 40, ignoreEos: true, skipSpecialTokens, logitBias})}))
        for (const result of await engine.generate(requests)) {
          const {tokenIds, text} = result.outputs[0]!
          const decode = (ids: number[]) => engine.tokenizer.decode(ids, {skipSpecialTokens, cleanUpSpaces: false})
          const context = prompt.slice(-5)
          assert.equal(text, decode([...context, ...tokenIds]).slice(decode(context).length), `ids ${tokenIds}`)
          if (kind.reasoning && tokenIds.includes(idOf('<think>')[0]!)) assert.ok(text.includes('<think>'), '<think> is text, kept either way')
          const special = tokenIds.find((id) => engine.tokenizer.specialTokenIds.has(id))
          if (special !== undefined) assert.equal(text.includes(engine.tokenizer.idToToken(special)!), !skipSpecialTokens)
        }
      }
    })

    it('EOS right after half a character: the held byte is U+FFFD in the text, special tokens shown or skipped', async () => {
      const halfCharacter = Array.from({length: engine.tokenizer.vocabSize}, (_, id) => id).find((id) => engine.tokenizer.tokenBytes(id).join() === '228')!
      const eos = engine.tokenizer.eosTokenIds[0]!
      // min_tokens keeps EOS out of the first place, the bias puts it in the second.
      const base = {temperature: 0, maxTokens: 4, minTokens: 1, allowedTokenIds: [halfCharacter, eos], logitBias: {[eos]: 100}}
      for (const skipSpecialTokens of [true, false]) {
        const [result] = await engine.generate([{prompt: 'hi', params: makeSamplingParams({...base, skipSpecialTokens})}])
        const output = result!.outputs[0]!
        assert.deepEqual([output.tokenIds, output.text, output.finishReason], [[halfCharacter, eos], '\uFFFD', 'stop'], `skip_special_tokens ${skipSpecialTokens}`)
      }
    })

    it('guided output is valid UTF-8 even when the model favours bytes that are no text (overlong, surrogate, past U+10FFFF)', async () => {
      const risky = new Set([0xc0, 0xc1, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x80, 0x8f, 0x9f, 0xa0, 0xbf])
      const logitBias = Object.fromEntries(
        Array.from({length: engine.tokenizer.vocabSize}, (_, id) => id).filter((id) => risky.has(engine.tokenizer.tokenBytes(id)[0]!)).map((id) => [id, 4]),
      )
      const guided: GuidedSpec = {kind: 'json', schema: {type: 'object', properties: {s: {type: 'string', maxLength: 4}}, required: ['s']}, anyWhitespace: false, param: 'x'}
      const requests = [1, 2, 3, 4].map((seed) => ({prompt: 'hi', params: makeSamplingParams({temperature: 1, seed, maxTokens: 40, logitBias, guided})}))
      for (const result of await engine.generate(requests)) {
        const output = result.outputs[0]!
        const bytes = Buffer.concat(output.tokenIds.filter((id) => !engine.tokenizer.specialTokenIds.has(id)).map((id) => engine.tokenizer.tokenBytes(id)))
        assert.doesNotThrow(() => new TextDecoder('utf-8', {fatal: true}).decode(bytes), `invalid UTF-8 in ${JSON.stringify(output.text)}`)
        if (output.finishReason === 'stop') assert.ok([...JSON.parse(output.text).s].length <= 4, output.text)
      }
    })

    it('the grammar never allows a special token inside a JSON string', async () => {
      const compiler = new GrammarCompiler(vocabInfoOf(engine.tokenizer, engine.model.config.vocabSize, engine.model.generationConfig.eosTokenIds))
      const spec: GuidedSpec = {kind: 'json', schema: {type: 'string'}, anyWhitespace: false, param: 'response_format'}
      await compiler.compile(spec)
      const matcher = await compiler.newMatcher(guidedKey(spec))
      assert.ok(matcher.acceptToken(idOf('"').at(-1)!))
      const mask = await matcher.getNextTokenBitmask()
      const allowed = [...engine.tokenizer.specialTokenIds].filter((id) => (mask[id >> 5]! >>> (id & 31)) & 1)
      assert.deepEqual(allowed.map((id) => engine.tokenizer.idToToken(id)), [])
      matcher.dispose()
    })
  })
}

for (const kind of kinds) describeKind(kind)
