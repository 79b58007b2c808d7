// Streaming deltas from cumulative outputs: each chunk carries only what a choice gained, and nothing after it finished.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ChoiceDeltas} from '../src/server/choice-deltas.js'
import type {CompletionOutput} from '../src/server/engine-like.js'

function output(text: string, tokenIds: number[], finishReason: CompletionOutput['finishReason'] = null): CompletionOutput {
  return {index: 0, text, tokenIds, cumulativeLogprob: 0, logprobs: tokenIds.map((id) => new Map([[id, -1]])), finishReason, stopReason: null}
}

describe('ChoiceDeltas', () => {
  it('sends the new text, tokens and logprobs of each choice once', () => {
    const deltas = new ChoiceDeltas()
    const first = deltas.next(0, output('He', [1, 2]))!
    assert.deepEqual([first.text, first.tokenIds, first.isFirst, first.logprobs.length], ['He', [1, 2], true, 2])
    assert.equal(deltas.next(0, output('He', [1, 2])), null, 'an unchanged output sends nothing')
    const second = deltas.next(0, output('Hello', [1, 2, 3]))!
    assert.deepEqual([second.text, second.tokenIds, second.isFirst], ['llo', [3], false])
    assert.deepEqual([...second.logprobs[0]!.keys()], [3])
    // Choices are tracked apart.
    assert.equal(deltas.next(1, output('X', [9]))!.isFirst, true)
  })

  it('sends a token whose text is still held back, and the finish once', () => {
    const deltas = new ChoiceDeltas()
    deltas.next(0, output('a', [1]))
    const held = deltas.next(0, output('a', [1, 2]))!
    assert.deepEqual([held.text, held.tokenIds], ['', [2]])
    const finished = deltas.next(0, output('a', [1, 2], 'length'))!
    assert.deepEqual([finished.text, finished.tokenIds, finished.finishReason], ['', [], 'length'])
    assert.equal(deltas.next(0, output('a', [1, 2], 'length')), null)
  })

  it('never resends text when the cumulative text shrinks (a stop string trimmed late)', () => {
    const deltas = new ChoiceDeltas()
    deltas.next(0, output('abcST', [1, 2]))
    const final = deltas.next(0, output('abc', [1, 2, 3], 'stop'))!
    assert.equal(final.text, '')
    assert.equal(final.finishReason, 'stop')
  })
})
