// What keeps a body of 10^5 list items cheap to refuse and to serve: a list past its limit is refused by its count,
// before any item is walked, object ids come from a pool of random bytes (one draw per 1,024 ids), and a body parsed
// in a tokenizer worker comes back in the form cheaper to rebuild on the event loop.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {newObjectId} from '../src/server/api-context.js'
import {parseCompletionRequest} from '../src/server/openai-schema.js'
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

describe('big bodies parsed in a tokenizer worker', () => {
  it('come back whole both ways the worker sends them: as text (object-heavy) or as the parsed value (string-heavy)', async () => {
    const workers = new TokenizerWorkers(BUILTIN_MODEL_DIR, 2048, 1, Tokenizer.load(BUILTIN_MODEL_DIR))
    try {
      const messages = {messages: Array.from({length: 5000}, (_, i) => ({role: i % 2 ? 'assistant' : 'user', content: `m${i}`})), n: 1}
      const stops = {prompt: 'hi', stop: Array.from({length: 20_000}, (_, i) => `s${i}`)}
      for (const body of [messages, stops]) {
        const bytes = Buffer.from(JSON.stringify(body))
        assert.ok(bytes.length > 64 * 1024, 'big enough to be parsed in the worker')
        assert.deepEqual(await workers.parseBody(bytes, 'messages' in body ? 'messages' : 'prompt'), body)
      }
    } finally {
      await workers.close()
    }
  })
})
