// Property-based fuzzing of the HTTP API on the tiny model: 2,000 generated requests, valid and not; never a 5xx, never a leaked block.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import fc from 'fast-check'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'

const API_KEY = 'fuzz-key'
const BATCH = 8
const BATCHES = 250 // 2,000 requests

/** A value of any JSON type, to put where a field expects another. */
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({min: -5, max: 5}), fc.double(), fc.string({maxLength: 8}), fc.constant([]), fc.constant({}))
const maybeJunk = <T>(valid: fc.Arbitrary<T>) => fc.oneof({weight: 6, arbitrary: valid}, {weight: 1, arbitrary: junk})
const text = fc.string({unit: fc.constantFrom('grapheme', 'grapheme-ascii', 'binary'), maxLength: 40})
const tokenIds = fc.array(fc.integer({min: -2, max: 600}), {minLength: 0, maxLength: 12})

const sampling = {
  model: fc.constantFrom('tiny-0-f32', 'no-such-model'),
  max_tokens: maybeJunk(fc.oneof(fc.integer({min: 1, max: 4}), fc.constantFrom(0, -1, 100_000))),
  n: maybeJunk(fc.integer({min: 0, max: 4})),
  best_of: maybeJunk(fc.integer({min: 0, max: 5})),
  temperature: maybeJunk(fc.double({min: -1, max: 3, noNaN: true})),
  top_p: maybeJunk(fc.double({min: -0.5, max: 1.5, noNaN: true})),
  top_k: maybeJunk(fc.integer({min: -2, max: 50})),
  min_p: maybeJunk(fc.double({min: -0.5, max: 1.5, noNaN: true})),
  presence_penalty: maybeJunk(fc.double({min: -3, max: 3, noNaN: true})),
  repetition_penalty: maybeJunk(fc.double({min: -1, max: 3, noNaN: true})),
  seed: maybeJunk(fc.integer()),
  stop: maybeJunk(fc.oneof(text, fc.array(text, {maxLength: 3}))),
  stop_token_ids: maybeJunk(tokenIds),
  ignore_eos: maybeJunk(fc.boolean()),
  min_tokens: maybeJunk(fc.integer({min: -1, max: 3})),
  use_beam_search: maybeJunk(fc.boolean()),
  stream: maybeJunk(fc.boolean()),
  stream_options: maybeJunk(fc.record({include_usage: maybeJunk(fc.boolean()), continuous_usage_stats: maybeJunk(fc.boolean())})),
  // vLLM's fields: prompts cut to their last k tokens, ids in the reply, special tokens added or not.
  truncate_prompt_tokens: maybeJunk(fc.integer({min: -1, max: 600})),
  return_token_ids: maybeJunk(fc.boolean()),
  return_tokens_as_token_ids: maybeJunk(fc.boolean()),
  add_special_tokens: maybeJunk(fc.boolean()),
  logit_bias: junk,
  unknown_field: junk,
  // Grammars, Lark or EBNF, assembled from pieces of both, and structural tags with good and bad parts.
  guided_grammar: fc.oneof(
    {weight: 1, arbitrary: junk},
    {weight: 3, arbitrary: fc.array(fc.constantFrom('start:', 'root ::=', 'x:', 'X: "y"', '"a"', '"b"i', '/[0-9]+/', '/(/', 'NUMBER', 'x', 'X', '|', '(', ')', '[', ']', '*', '+', '~ 2..3', '->', '\n', '%import common.NUMBER', '%ignore " "', '%declare Q', '{', '"a".."z"'), {maxLength: 10}).map((parts) => parts.join(' '))},
  ),
  response_format: maybeJunk(
    fc.record({
      type: fc.constantFrom('structural_tag', 'json_object', 'text'),
      structures: maybeJunk(
        fc.array(fc.record({begin: maybeJunk(fc.constantFrom('<a>', '<b>', '')), schema: maybeJunk(fc.constantFrom({}, {type: 'integer'}, {type: 'object', patternProperties: {}})), end: maybeJunk(fc.constantFrom('</a>', ''))}), {maxLength: 2}),
      ),
      triggers: maybeJunk(fc.array(fc.constantFrom('<', '<a', 'x', ''), {maxLength: 2})),
    }),
  ),
}

const completionBody = fc.record(
  {
    ...sampling,
    prompt: maybeJunk(fc.oneof(text, fc.array(text, {maxLength: 4}), tokenIds, fc.array(tokenIds, {maxLength: 3}))),
    echo: maybeJunk(fc.boolean()),
    logprobs: maybeJunk(fc.integer({min: -1, max: 25})),
    prompt_logprobs: maybeJunk(fc.integer({min: -1, max: 3})),
  },
  {requiredKeys: ['max_tokens']},
)

const message = fc.record({role: maybeJunk(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 'wizard', '')), content: maybeJunk(fc.oneof(text, fc.array(fc.record({type: fc.constantFrom('text', 'image_url'), text}), {maxLength: 2})))})
const chatBody = fc.record(
  {
    ...sampling,
    messages: maybeJunk(fc.array(maybeJunk(message), {maxLength: 4})),
    logprobs: maybeJunk(fc.boolean()),
    top_logprobs: maybeJunk(fc.integer({min: -1, max: 25})),
    add_generation_prompt: maybeJunk(fc.boolean()),
    continue_final_message: maybeJunk(fc.boolean()),
    echo: maybeJunk(fc.boolean()),
    prompt_logprobs: maybeJunk(fc.integer({min: -1, max: 3})),
  },
  {requiredKeys: ['max_tokens', 'messages']},
)

/** Mostly well-formed requests, so generation paths (streaming, n, logprobs, stops) run as often as refusals. */
const validSampling = {
  max_tokens: fc.integer({min: 1, max: 4}),
  n: fc.integer({min: 1, max: 3}),
  temperature: fc.double({min: 0, max: 2, noNaN: true}),
  seed: fc.integer(),
  stop: fc.array(text, {maxLength: 2}),
  stream: fc.boolean(),
}
const validCompletionBody = fc.record(
  {...validSampling, prompt: fc.oneof(text.filter((value) => value !== ''), fc.array(text.filter((value) => value !== ''), {minLength: 1, maxLength: 3})), echo: fc.boolean(), logprobs: fc.integer({min: 0, max: 3})},
  {requiredKeys: ['max_tokens', 'prompt']},
)
const validChatBody = fc.record(
  {...validSampling, messages: fc.array(fc.record({role: fc.constantFrom('system', 'user', 'assistant'), content: text}), {minLength: 1, maxLength: 3}), logprobs: fc.boolean()},
  {requiredKeys: ['max_tokens', 'messages']},
)

/** A body as bytes: JSON of a generated object, or broken JSON, or bytes that are not UTF-8. */
const bodyBytes = (object: fc.Arbitrary<unknown>) =>
  fc.oneof(
    {weight: 8, arbitrary: object.map((value) => Buffer.from(JSON.stringify(value)))},
    {weight: 1, arbitrary: object.map((value) => Buffer.from(JSON.stringify(value)).subarray(0, 7))},
    {weight: 1, arbitrary: fc.uint8Array({maxLength: 64}).map((bytes) => Buffer.from(bytes))},
  )

interface FuzzRequest {
  method: string
  path: string
  body: Buffer | null
  auth: string | null
}

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {weight: 3, arbitrary: fc.record({method: fc.constant('POST'), path: fc.constant('/v1/completions'), body: bodyBytes(completionBody), auth: fc.constant(`Bearer ${API_KEY}`)})},
  {weight: 3, arbitrary: fc.record({method: fc.constant('POST'), path: fc.constant('/v1/chat/completions'), body: bodyBytes(chatBody), auth: fc.constant(`Bearer ${API_KEY}`)})},
  {weight: 3, arbitrary: fc.record({method: fc.constant('POST'), path: fc.constant('/v1/completions'), body: validCompletionBody.map((body) => Buffer.from(JSON.stringify(body))), auth: fc.constant(`Bearer ${API_KEY}`)})},
  {weight: 3, arbitrary: fc.record({method: fc.constant('POST'), path: fc.constant('/v1/chat/completions'), body: validChatBody.map((body) => Buffer.from(JSON.stringify(body))), auth: fc.constant(`Bearer ${API_KEY}`)})},
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE'),
      path: fc.constantFrom('/health', '/version', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions', '/nope', '/v1/../health'),
      body: fc.option(fc.uint8Array({maxLength: 16}).map((bytes) => Buffer.from(bytes)), {nil: null}),
      auth: fc.constantFrom(`Bearer ${API_KEY}`, `bearer ${API_KEY}`, 'Bearer wrong', 'Basic x', null),
    }),
  },
)

describe('fuzzing the HTTP API (tiny model)', () => {
  let engine: LLMEngine
  let server: ApiServer
  let baseUrl: string
  let idleUsedBlocks: number
  const serverLog: string[] = []
  const statuses = new Map<number, number>()

  before(async () => {
    const modelPath = await ensureTestModel('tiny')
    engine = await LLMEngine.create(makeEngineConfig({modelPath, threads: 1, numBlocks: 256, blockSize: 16}))
    server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, apiKey: API_KEY, maxBodyBytes: 64 * 1024, maxSequencesPerRequest: 16, version: 'fuzz', log: (line) => serverLog.push(line)})
    baseUrl = (await server.listen()).url
    server.attachEngine(engine, new TokenizerWorkers(modelPath, engine.maxModelLen, 1, engine.tokenizer))
    idleUsedBlocks = engine.stats().kv.usedBlocks
  })
  after(() => server.shutdown(1000))

  async function send(request: FuzzRequest): Promise<void> {
    const headers: Record<string, string> = {'content-type': 'application/json'}
    if (request.auth !== null) headers.authorization = request.auth
    const withBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD'
    const response = await fetch(`${baseUrl}${request.path}`, {method: request.method, headers, body: withBody ? request.body : undefined})
    const reply = await response.text()
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    const shown = `${request.method} ${request.path} ${request.body?.toString('utf8').slice(0, 300)} -> ${response.status} ${reply.slice(0, 300)}`
    assert.ok(response.status < 500, shown)
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
      assert.ok(reply.endsWith('data: [DONE]\n\n'), shown)
      assert.ok(!reply.includes('"server_error"'), shown)
    } else if (response.status >= 400 && request.method !== 'HEAD') {
      const error = JSON.parse(reply).error
      assert.equal(typeof error.message, 'string', shown)
      assert.equal(typeof error.type, 'string', shown)
    }
  }

  it('answers 2,000 generated requests without a 5xx, then is healthy with no KV block in use', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzRequest, {minLength: BATCH, maxLength: BATCH}), async (batch) => {
        await Promise.all(batch.map(send))
      }),
      {numRuns: BATCHES, seed: 20261130, endOnFailure: true},
    )
    const sent = [...statuses.values()].reduce((sum, count) => sum + count, 0)
    assert.ok(sent >= 2000, `sent ${sent}`)
    // Both outcomes were exercised: generation and refusals.
    assert.ok((statuses.get(200) ?? 0) > 200 && (statuses.get(400) ?? 0) > 200, JSON.stringify([...statuses]))
    assert.equal((await fetch(`${baseUrl}/health`)).status, 200)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const stats = engine.stats()
    assert.deepEqual([stats.numRunning, stats.numWaiting, stats.kv.usedBlocks], [0, 0, idleUsedBlocks])
    assert.deepEqual(serverLog.filter((line) => /internal error/.test(line)), [])
  })
})
