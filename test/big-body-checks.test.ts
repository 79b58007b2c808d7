// What keeps a body of 10^5 list items cheap to refuse and to serve: a list past its limit is refused by its count,
// before any item is walked, object ids come from a pool of random bytes (one draw per 1,024 ids), and a big body is
// checked in a tokenizer worker, which sends back what the event loop would have made of it, or its error.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {newObjectId} from '../src/server/api-context.js'
import {parseCompletionRequest} from '../src/server/openai-schema.js'
import {InlinePromptTokenizer} from '../src/server/prompt-tokenizer.js'
import type {RouteName} from '../src/server/request-checks.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'

const refuses = (body: Record<string, unknown>, param: string, message: RegExp) =>
  assert.throws(() => parseCompletionRequest({prompt: 'a', ...body}), (error: unknown) => error instanceof InvalidRequestError && error.param === param && message.test(error.message))

describe('lists past their limits', () => {
  it('are refused by their count, whatever their items (before, every item was checked first)', () => {
    const many = (count: number, bad: unknown) => [bad, ...Array.from({length: count - 1}, (_, i) => `w${i}`)]
    refuses({stop: many(100_000, '')}, 'stop', /at most 16 stop strings/)
    refuses({bad_words: many(100_000, ' ')}, 'bad_words', /at most 256 bad_words/)
    refuses({stop_token_ids: [-1, ...Array.from({length: 100_000}, (_, i) => i)]}, 'stop_token_ids', /at most 1024 stop_token_ids/)
    // Within the limit the items are still checked.
    refuses({stop: ['a', '']}, 'stop', /non-empty strings/)
  })
})

describe('object ids', () => {
  it('are distinct and shaped as OpenAI shapes them across many refills of the random pool', () => {
    const ids = Array.from({length: 3000}, () => newObjectId('msg'))
    assert.equal(new Set(ids).size, ids.length)
    for (const id of ids) assert.match(id, /^msg_[0-9a-f]{24}$/)
    assert.match(newObjectId('chatcmpl'), /^chatcmpl-[0-9a-f]{24}$/)
  })
})

/** What the route checks need to know of the server. */
const CHECKS = {modelName: 'served', contentFormat: 'auto', storeOn: false} as const

/** A checked request with what the worker packs as text read back, the Responses input items left out (ids are random). */
function unpacked(checked: unknown): unknown {
  return JSON.parse(JSON.stringify(checked, (key, value) => {
    if (key === 'inputItems') return undefined
    if ((key === 'messages' || key === 'sources' || key === 'tools') && typeof value === 'string') return JSON.parse(value)
    if (key === 'lastMessage') return {role: value.role, content: value.content}
    if (value instanceof Int32Array || value instanceof Float64Array) return [...value]
    return value
  }))
}

/** The error a promise rejects with, as the client sees it. */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    const {message, param, code, httpStatus} = error as InvalidRequestError
    return {message, param, code, httpStatus}
  }
  return assert.fail('expected a refusal')
}

describe('big bodies checked in a tokenizer worker', () => {
  const many = <T>(count: number, item: (i: number) => T): T[] => Array.from({length: count}, (_, i) => item(i))
  const messages = many(5000, (i) => ({role: i % 2 ? 'assistant' : 'user', content: `m${i}`}))
  const bodies: [RouteName, Record<string, unknown>][] = [
    ['chat', {messages, n: 2, stop: ['x'], extra_field: 1}],
    ['chat', {messages: [{role: 'user', content: many(6000, (i) => ({type: 'text', text: `p${i}`}))}], max_tokens: 3}],
    ['chat', {messages, tools: many(1000, (i) => ({type: 'function', function: {name: `f${i}`, parameters: {type: 'object', properties: {a: {type: 'string'}}}}})), tool_choice: 'required'}],
    ['completions', {prompt: 'hi', logit_bias: Object.fromEntries(many(20_000, (i) => [String(20_000 - i), (i % 7) - 3]))}],
    ['completions', {prompt: many(600, () => many(60, (i) => i + 1))}],
    ['responses', {input: many(5000, (i) => ({role: 'user', content: `m${i}`})), max_output_tokens: 2}],
    ['tokenize', {messages}],
  ]
  const refused: [RouteName, Record<string, unknown>][] = [
    ['chat', {messages: [...messages, {role: 'robot', content: 'x'}]}],
    ['chat', {messages, temperature: -1}],
    ['completions', {prompt: 'hi', stop: many(20_000, (i) => `s${i}`)}],
    ['completions', {prompt: 'hi', logit_bias: {...Object.fromEntries(many(20_000, (i) => [String(i), 1])), x: 2}}],
    ['responses', {input: [...many(5000, (i) => ({role: 'user', content: `m${i}`})), {role: 'user', content: [{type: 'input_image'}]}]}],
    ['responses', {input: many(5000, (i) => ({role: 'user', content: `m${i}`})), max_output_tokens: -1}],
    ['tokenize', {messages, model: 'another'}],
  ]

  it('come back as the same checked request the event loop would make, packed (messages as text, logit_bias as typed arrays)', async () => {
    const workers = new TokenizerWorkers(BUILTIN_MODEL_DIR, 2048, 1, Tokenizer.load(BUILTIN_MODEL_DIR))
    const inline = new InlinePromptTokenizer(Tokenizer.load(BUILTIN_MODEL_DIR), 2048)
    try {
      for (const [route, body] of bodies) {
        // Fresh bytes for each: the worker takes over the buffer it is sent.
        const bytes = () => Buffer.from(JSON.stringify(body))
        assert.ok(bytes().length > 64 * 1024, 'big enough to be checked in the worker')
        const checked = await workers.checkBody(bytes(), route, CHECKS)
        assert.deepEqual(unpacked(checked), unpacked(await inline.checkBody(bytes(), route, CHECKS)), route)
        if (route === 'chat') assert.equal(typeof (checked as {request: {messages: unknown}}).request.messages, 'string', 'the messages come back as their text')
      }
      for (const [route, body] of refused) {
        const bytes = () => Buffer.from(JSON.stringify(body))
        assert.deepEqual(await refusal(workers.checkBody(bytes(), route, CHECKS)), await refusal(inline.checkBody(bytes(), route, CHECKS)), route)
      }
      // The Responses error names the input item, as on the event loop.
      assert.equal(((await refusal(workers.checkBody(Buffer.from(JSON.stringify(refused[4]![1])), 'responses', CHECKS))) as {param: string}).param, 'input[5000].content')
    } finally {
      await workers.close()
    }
  })

  it('leave a body continuing a stored response (as its text, for a second pass with the conversation), and /detokenize, to their handlers', async () => {
    const workers = new TokenizerWorkers(BUILTIN_MODEL_DIR, 2048, 1, Tokenizer.load(BUILTIN_MODEL_DIR))
    try {
      const continuing = {previous_response_id: 'resp_1', input: many(5000, (i) => ({role: 'user', content: `m${i}`}))}
      const bodyText = JSON.stringify(continuing)
      assert.deepEqual(await workers.checkBody(Buffer.from(bodyText), 'responses', {...CHECKS, storeOn: true}), {continues: 'resp_1', bodyText})
      const stops = {tokens: [1], stop: many(20_000, (i) => `s${i}`)}
      assert.deepEqual(await workers.checkBody(Buffer.from(JSON.stringify(stops)), 'detokenize', CHECKS), {body: stops})
    } finally {
      await workers.close()
    }
  })

  it('check a body continuing a stored response with its conversation in the worker, as the event loop would (it was checked on the event loop)', async () => {
    const workers = new TokenizerWorkers(BUILTIN_MODEL_DIR, 2048, 1, Tokenizer.load(BUILTIN_MODEL_DIR))
    const inline = new InlinePromptTokenizer(Tokenizer.load(BUILTIN_MODEL_DIR), 2048)
    try {
      const stored = JSON.stringify(many(5000, (i) => ({id: `msg_${i}`, type: 'message', role: i % 2 ? 'assistant' : 'user', content: `m${i}`})))
      const output = JSON.stringify([{id: 'msg_out', type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'ok'}]}])
      const body = JSON.stringify({previous_response_id: 'resp_1', input: 'next', store: false, max_output_tokens: 2})
      const checked = await workers.checkContinuation(body, [stored, output])
      assert.equal(typeof checked.request.messages, 'string', 'packed by the worker')
      assert.deepEqual(unpacked(checked), unpacked(await inline.checkContinuation(body, [stored, output])))
      assert.equal(JSON.parse(checked.request.messages as string).length, 5002)
      // An error names the Responses field, as on the event loop.
      const refused = JSON.stringify({previous_response_id: 'resp_1', input: [{role: 'robot', content: 'x'}]})
      assert.deepEqual(await refusal(workers.checkContinuation(refused, [stored, output])), await refusal(inline.checkContinuation(refused, [stored, output])))
      assert.equal(((await refusal(workers.checkContinuation(refused, [stored, output]))) as {param: string}).param, 'input[0].role')
    } finally {
      await workers.close()
    }
  })
})
