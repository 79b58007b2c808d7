// What keeps a body of 10^5 list items cheap to refuse and to serve: a list past its limit is refused by its count,
// before any item is walked, and object ids come from a pool of random bytes (one draw per 1,024 ids).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {newObjectId} from '../src/server/api-context.js'
import {parseCompletionRequest} from '../src/server/openai-schema.js'

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
