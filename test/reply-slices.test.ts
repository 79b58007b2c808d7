// ReplySlicer: a big reply is built and serialized in slices with turns of the event loop between them (so other
// clients' replies and /health go out meanwhile), with the same result as the whole build, and stops when its client leaves.
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {chatLogprobs, completionLogprobs, promptLogprobsField, tokenNamer, tokenText} from '../src/server/logprobs-format.js'
import {ReplySlicer} from '../src/server/reply-slices.js'
import {chatLogprobsInSlices, completionLogprobsInSlices, promptLogprobsInSlices} from '../src/server/sliced-logprobs.js'
import {FakeTokenizer} from './support/fake-engine.js'

const live = () => new AbortController().signal

/** Runs `work` and tells whether a callback queued for the loop's next turn ran before it was done. */
async function interleaves<T>(work: () => Promise<T>): Promise<{result: T; otherRan: boolean}> {
  let otherRan = false
  setImmediate(() => (otherRan = true))
  const result = await work()
  return {result, otherRan}
}

test('json() writes JSON.stringify text, in pieces with the loop turning between them', async () => {
  const values: unknown[] = [
    null,
    'a \ud800 lone surrogate, \ufffd, "quotes", \u2028',
    {skipped: undefined, fn: () => 1, list: [undefined, Number.NaN, -Infinity, 1e-7, -0], date: new Date(0)},
    Array.from({length: 3000}, (_, i) => ({[`k${i}`]: i / 3, nested: {[String(i)]: [i, 'é', {deep: [i]}]}})),
  ]
  for (const value of values) {
    const slicer = new ReplySlicer(live(), 100)
    const {result, otherRan} = await interleaves(() => slicer.json(value))
    assert.equal(result.join(''), JSON.stringify(value))
    if (value instanceof Array) assert.ok(result.length > 10 && slicer.slices > 10 && otherRan, `pieces ${result.length}, slices ${slicer.slices}`)
  }
})

test('the logprobs shapes built in slices equal the whole build, and give the loop turns', async () => {
  const tokenizer = new FakeTokenizer()
  const tokenIds = Array.from({length: 2500}, (_, i) => 32 + ((i * 7) % 200))
  const logprobs = tokenIds.map((id, i) => new Map([[id, -0.25 - i / 1e4], [95, -1.5], [233, -Infinity]]))
  const withNull = [null, ...logprobs.slice(1)]
  const ranks = tokenIds.map((_, i) => (i % 3 === 0 ? null : i % 5))
  const name = tokenNamer(tokenizer, false)
  const textOf = tokenText(tokenizer)
  const decoded = (id: number) => tokenizer.decode([id])

  const completion = await interleaves(() => completionLogprobsInSlices(new ReplySlicer(live()), name, textOf, tokenIds, withNull, 2, 7))
  assert.deepEqual(completion.result, completionLogprobs(name, textOf, tokenIds, withNull, 2, 7))
  assert.ok(completion.otherRan)
  const chat = await interleaves(() => chatLogprobsInSlices(new ReplySlicer(live()), tokenizer, name, tokenIds, logprobs, 2))
  assert.deepEqual(chat.result, chatLogprobs(tokenizer, name, tokenIds, logprobs, 2))
  assert.ok(chat.otherRan)
  const prompt = await interleaves(() => promptLogprobsInSlices(new ReplySlicer(live()), decoded, tokenIds, withNull, ranks, 2))
  assert.equal(JSON.stringify(prompt.result), JSON.stringify(promptLogprobsField(decoded, tokenIds, withNull, ranks, 2)))
  assert.ok(prompt.otherRan)
})

test('a client that leaves stops the work at the next slice', async () => {
  const controller = new AbortController()
  const slicer = new ReplySlicer(controller.signal, 10)
  let built = 0
  const work = slicer.inRanges(10_000, 1, (start, end) => {
    built += end - start
    if (built >= 50) controller.abort(new Error('client gone'))
    return []
  })
  await assert.rejects(work, /client gone/)
  assert.equal(built, 50)
})
