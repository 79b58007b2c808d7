// OpenAI request validation and field mapping: types, ranges, prompt shapes, max_tokens against the context.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ContextLengthError, InvalidRequestError, NotFoundError} from '../src/engine/errors.js'
import {parseChatCompletionRequest} from '../src/server/chat-request.js'
import {checkModel, parseCompletionRequest, resolveMaxTokens, samplingParamsFor} from '../src/server/openai-schema.js'

function rejects(parse: () => unknown, param: string | null, type: new (...args: any[]) => Error = InvalidRequestError) {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`)
    assert.equal((error as InvalidRequestError).param, param)
    return true
  })
}

describe('parseCompletionRequest', () => {
  it('maps OpenAI and vLLM fields onto SamplingParams', () => {
    const request = parseCompletionRequest({
      model: 'm',
      prompt: 'hello',
      max_tokens: 7,
      temperature: 0.5,
      top_p: 0.9,
      n: 2,
      best_of: 3,
      stop: 'x',
      seed: 42,
      logprobs: 2,
      presence_penalty: 0.1,
      frequency_penalty: -0.2,
      top_k: 5,
      min_p: 0.05,
      repetition_penalty: 1.1,
      ignore_eos: true,
      min_tokens: 2,
      stop_token_ids: [3, 4],
      length_penalty: 0.7,
      user: 'someone',
    })
    assert.deepEqual(request.prompts, [{text: 'hello'}])
    const params = samplingParamsFor(request, request.maxTokens!)
    assert.equal(params.maxTokens, 7)
    assert.equal(params.temperature, 0.5)
    assert.equal(params.topP, 0.9)
    assert.equal(params.n, 2)
    assert.equal(params.bestOf, 3)
    assert.deepEqual(params.stop, ['x'])
    assert.equal(params.seed, 42)
    assert.equal(params.logprobs, 2)
    assert.equal(params.promptLogprobs, null)
    assert.equal(params.presencePenalty, 0.1)
    assert.equal(params.frequencyPenalty, -0.2)
    assert.equal(params.topK, 5)
    assert.equal(params.minP, 0.05)
    assert.equal(params.repetitionPenalty, 1.1)
    assert.equal(params.ignoreEos, true)
    assert.equal(params.minTokens, 2)
    assert.deepEqual(params.stopTokenIds, [3, 4])
    assert.equal(params.lengthPenalty, 0.7)
  })

  it('accepts every prompt shape: string, strings, token ids, lists of token ids', () => {
    assert.deepEqual(parseCompletionRequest({prompt: ['a', 'b']}).prompts, [{text: 'a'}, {text: 'b'}])
    assert.deepEqual(parseCompletionRequest({prompt: [1, 2, 3]}).prompts, [{tokenIds: [1, 2, 3]}])
    assert.deepEqual(parseCompletionRequest({prompt: [[1], [2, 3]]}).prompts, [{tokenIds: [1]}, {tokenIds: [2, 3]}])
  })

  it('rejects malformed prompts naming the field', () => {
    rejects(() => parseCompletionRequest({}), 'prompt')
    rejects(() => parseCompletionRequest({prompt: []}), 'prompt')
    rejects(() => parseCompletionRequest({prompt: [1, 'a']}), 'prompt')
    rejects(() => parseCompletionRequest({prompt: [[1], []]}), 'prompt')
    rejects(() => parseCompletionRequest({prompt: [-1]}), 'prompt')
    rejects(() => parseCompletionRequest({prompt: 5}), 'prompt')
  })

  it('rejects wrong types and out-of-range values with the OpenAI field name', () => {
    rejects(() => parseCompletionRequest({prompt: 'a', temperature: 'hot'}), 'temperature')
    rejects(() => parseCompletionRequest({prompt: 'a', temperature: -1}), 'temperature')
    rejects(() => parseCompletionRequest({prompt: 'a', max_tokens: 1.5}), 'max_tokens')
    rejects(() => parseCompletionRequest({prompt: 'a', max_tokens: 0}), 'max_tokens')
    rejects(() => parseCompletionRequest({prompt: 'a', n: 0}), 'n')
    rejects(() => parseCompletionRequest({prompt: 'a', n: 2, best_of: 1}), 'best_of')
    rejects(() => parseCompletionRequest({prompt: 'a', top_p: 0}), 'top_p')
    rejects(() => parseCompletionRequest({prompt: 'a', stop: [1]}), 'stop')
    rejects(() => parseCompletionRequest({prompt: 'a', stream: 'yes'}), 'stream')
    rejects(() => parseCompletionRequest({prompt: 'a', logprobs: 21}), 'logprobs')
    rejects(() => parseCompletionRequest({prompt: 'a', suffix: 'tail'}), 'suffix')
    rejects(() => parseCompletionRequest('a string'), null)
    rejects(() => parseCompletionRequest([1, 2]), null)
  })

  it('says what was wrong with a value: out-of-range numbers (1e400), fractions, and the bad item of a list', () => {
    const messageOf = (body: unknown) => {
      try {
        parseCompletionRequest(JSON.parse(body as string))
      } catch (error) {
        return [(error as InvalidRequestError).message, (error as InvalidRequestError).param]
      }
      return assert.fail('accepted')
    }
    assert.deepEqual(messageOf('{"prompt":"a","temperature":1e400}'), ["'temperature' must be a number, got a number out of range", 'temperature'])
    assert.deepEqual(messageOf('{"prompt":"a","max_tokens":2.5}'), ["'max_tokens' must be an integer, got 2.5", 'max_tokens'])
    assert.deepEqual(messageOf('{"prompt":"a","stop_token_ids":[1,2,-1e400]}'), ["'stop_token_ids[2]' must be an integer, got a number out of range", 'stop_token_ids'])
    assert.deepEqual(messageOf('{"prompt":"a","stop":["x",null]}'), ["'stop[1]' must be a string, got null", 'stop'])
    assert.deepEqual(messageOf('{"prompt":"a","stream":true,"stream_options":{"include_usage":"yes"}}'), [
      "'stream_options.include_usage' must be a boolean, got string",
      'stream_options.include_usage',
    ])
  })

  it('bounds the lists that set the engine work of every token: stop_token_ids, bad_words and their length', () => {
    // 500,000 stop_token_ids with min_tokens, or one 2.8 MB bad word, slowed a 100-token request beside them from 0.4 s to 22-55 s.
    const ids = (count: number) => Array.from({length: count}, (_, i) => i)
    assert.equal(samplingParamsFor(parseCompletionRequest({prompt: 'a', stop_token_ids: ids(1024)}), 4).stopTokenIds.length, 1024)
    rejects(() => parseCompletionRequest({prompt: 'a', stop_token_ids: ids(1025), min_tokens: 2}), 'stop_token_ids')
    const words = (count: number, length = 3) => Array.from({length: count}, (_, i) => `w${i}`.padEnd(length, 'x'))
    assert.equal(samplingParamsFor(parseCompletionRequest({prompt: 'a', bad_words: words(256, 256)}), 4).badWords.length, 256)
    rejects(() => parseCompletionRequest({prompt: 'a', bad_words: words(257)}), 'bad_words')
    rejects(() => parseCompletionRequest({prompt: 'a', bad_words: words(1, 257)}), 'bad_words')
  })

  it('treats null like an absent field', () => {
    const params = samplingParamsFor(parseCompletionRequest({prompt: 'a', temperature: null, stop: null, seed: null}), 16)
    assert.equal(params.temperature, 1)
    assert.deepEqual(params.stop, [])
    assert.equal(params.seed, null)
  })

  it('asks for prompt logprobs when echo and logprobs are both set', () => {
    const request = parseCompletionRequest({prompt: 'a', echo: true, logprobs: 1})
    assert.equal(request.echo, true)
    assert.equal(samplingParamsFor(request, 4).promptLogprobs, 1)
  })

  it('reads stream options and refuses them without stream', () => {
    assert.equal(parseCompletionRequest({prompt: 'a', stream: true, stream_options: {include_usage: true}}).usage.final, true)
    assert.equal(parseCompletionRequest({prompt: 'a', stream: true}).usage.final, false)
    rejects(() => parseCompletionRequest({prompt: 'a', stream_options: {include_usage: true}}), 'stream_options')
  })

  it('takes streaming requests whose sequences are picked only at the end (the reply waits for them)', () => {
    assert.equal(parseCompletionRequest({prompt: 'a', stream: true, n: 1, best_of: 2}).stream, true)
    assert.equal(parseCompletionRequest({prompt: 'a', stream: true, use_beam_search: true, n: 2}).stream, true)
  })

  it('gives beam search its width from n when best_of is absent', () => {
    const params = samplingParamsFor(parseCompletionRequest({prompt: 'a', use_beam_search: true, n: 3, temperature: 0}), 8)
    assert.equal(params.useBeamSearch, true)
    assert.equal(params.bestOf, 3)
  })
})

describe('parseChatCompletionRequest', () => {
  it('reads messages, text parts (joined by newlines, as vLLM joins them, and kept for templates that loop over them) and null content', () => {
    const request = parseChatCompletionRequest({
      messages: [
        {role: 'system', content: 'be brief'},
        {role: 'user', content: [{type: 'text', text: 'hi '}, {type: 'text', text: 'there'}]},
        {role: 'assistant', content: null},
      ],
      max_completion_tokens: 9,
    })
    assert.deepEqual(request.messages, [
      {role: 'system', content: 'be brief'},
      {role: 'user', content: 'hi \nthere', contentParts: [{type: 'text', text: 'hi '}, {type: 'text', text: 'there'}]},
      {role: 'assistant', content: '', contentParts: []},
    ])
    assert.equal(request.maxTokens, 9)
    assert.equal(request.addGenerationPrompt, true)
    assert.equal(request.chatTemplateKwargs, undefined)
    assert.deepEqual(parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], chat_template_kwargs: {enable_thinking: false}}).chatTemplateKwargs, {enable_thinking: false})
    rejects(() => parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], chat_template_kwargs: 'x'}), 'chat_template_kwargs')
  })

  it('maps logprobs (bool) and top_logprobs (count)', () => {
    assert.equal(samplingParamsFor(parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], logprobs: true, top_logprobs: 3}), 4).logprobs, 3)
    assert.equal(samplingParamsFor(parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], logprobs: true}), 4).logprobs, 0)
    assert.equal(samplingParamsFor(parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}]}), 4).logprobs, null)
    rejects(() => parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], top_logprobs: 3}), 'top_logprobs')
  })

  it('rejects malformed messages', () => {
    rejects(() => parseChatCompletionRequest({messages: []}), 'messages')
    rejects(() => parseChatCompletionRequest({messages: 'hi'}), 'messages')
    rejects(() => parseChatCompletionRequest({messages: [{content: 'x'}]}), 'messages[0].role')
    rejects(() => parseChatCompletionRequest({messages: [{role: 'user', content: 3}]}), 'messages[0].content')
    rejects(() => parseChatCompletionRequest({messages: [{role: 'user', content: [{type: 'image_url'}]}]}), 'messages[0].content')
    rejects(() => parseChatCompletionRequest({messages: [{role: 'user', content: 'x'}], tools: [{}]}), 'tools[0]')
  })
})

describe('checkModel', () => {
  it('accepts the served name or no name, and 404s any other', () => {
    checkModel(undefined, 'served')
    checkModel('served', 'served')
    assert.throws(() => checkModel('other', 'served'), (error: unknown) => error instanceof NotFoundError && error.code === 'model_not_found')
  })
})

describe('resolveMaxTokens', () => {
  it('defaults to 16 (completions) or the room left (chat), capped at the room left', () => {
    assert.equal(resolveMaxTokens(undefined, 10, 100, 16, 'prompt'), 16)
    assert.equal(resolveMaxTokens(undefined, 90, 100, 16, 'prompt'), 10)
    assert.equal(resolveMaxTokens(undefined, 10, 100, 'remaining', 'messages'), 90)
    assert.equal(resolveMaxTokens(90, 10, 100, 16, 'prompt'), 90)
  })

  it('refuses prompt + max_tokens beyond the context, and prompts that leave no room', () => {
    assert.throws(
      () => resolveMaxTokens(91, 10, 100, 16, 'prompt'),
      (error: unknown) => error instanceof ContextLengthError && error.param === 'max_tokens' && /101 tokens \(10 in the prompt, 91/.test(error.message),
    )
    rejects(() => resolveMaxTokens(undefined, 100, 100, 16, 'prompt'), 'prompt', ContextLengthError)
    rejects(() => resolveMaxTokens(undefined, 0, 100, 16, 'prompt'), 'prompt')
  })
})
