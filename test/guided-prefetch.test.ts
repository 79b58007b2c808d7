// Grammar masks are asked for when a step is scheduled (before the forward pass) and taken after it, one worker call.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {GrammarService, StepRequest} from '../src/engine/guided/grammar-service.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {SequenceGuides} from '../src/engine/guided/sequence-guides.js'
import type {Tokenizer} from '../src/engine/model/tokenizer.js'
import {Sequence, type SequenceGroup} from '../src/engine/sequence.js'

const VOCAB = 64
const spec: GuidedSpec = {kind: 'regex', pattern: '[a-z]+', param: 'guided_regex'}

/** A grammar service that records its step calls and answers each sequence with a mask allowing only its id. */
function fakeService(): {service: GrammarService; calls: StepRequest[][]; fail: {next: boolean; losing?: number}} {
  const calls: StepRequest[][] = []
  const fail: {next: boolean; losing?: number} = {next: false}
  const known = new Set<number>()
  const service = {
    step: async (items: StepRequest[]) => {
      calls.push(items)
      for (const item of items) known.add(item.matcherId)
      if (fail.next) {
        fail.next = false
        // The worker holding this matcher stopped under the step (as a compile past its time limit stops it).
        if (fail.losing !== undefined) known.delete(fail.losing)
        throw new Error('worker lost')
      }
      return items.map((item) => Int32Array.from({length: VOCAB / 32}, (_, w) => (w === item.matcherId >>> 5 ? 1 << (item.matcherId & 31) : 0)))
    },
    hasMatcher: (id: number) => known.has(id),
    takeOverBudget: () => false,
    forget: () => {},
  }
  return {service: service as unknown as GrammarService, calls, fail}
}

const group = {params: {guided: spec, allowedTokenIds: null, badWords: [], guidedAfterTokenId: null}} as unknown as SequenceGroup
/** A sequence with the id its matcher is keyed by, holding `outputTokenIds` after a one-token prompt. */
const sequence = (seqId: number, outputTokenIds: number[]) => Object.defineProperty(new Sequence([0, ...outputTokenIds], 1), 'seqId', {value: seqId})

describe('prefetched grammar masks', () => {
  it('the step starts at prefetch; masksFor takes its masks without another call, and asks only for forks', async () => {
    const {service, calls} = fakeService()
    const guides = new SequenceGuides(service, {} as Tokenizer, VOCAB, [0])
    const a = sequence(3, [5, 6])
    guides.prefetch([{group, seq: a}])
    assert.equal(calls.length, 1, 'the worker was asked before the forward pass')
    assert.deepEqual(calls[0]![0]!.accept, [5, 6])
    const [mask] = await guides.masksFor([{group, seq: a}])
    assert.equal(calls.length, 1)
    assert.equal(mask![0], 1 << 3)
    // Next step: only the new token is sent; a best_of fork made during processing gets its own call, replaying all.
    a.appendToken(7, 0)
    guides.prefetch([{group, seq: a}])
    const fork = sequence(4, [5, 6, 7])
    const masks = await guides.masksFor([{group, seq: a}, {group, seq: fork}])
    assert.deepEqual(calls.map((items) => items.map(({matcherId, accept}) => [matcherId, accept])), [[[3, [5, 6]]], [[3, [7]]], [[4, [5, 6, 7]]]])
    assert.equal(masks[1]![0], 1 << 4)
    // Each item names its grammar by one ref, made once: its key's text is shared memory, never copied per step.
    const grammars = calls.flat().map((item) => item.grammar)
    assert.ok(grammars.every((grammar) => grammar === grammars[0]))
    assert.ok(grammars[0]!.text instanceof SharedArrayBuffer)
    assert.ok(!calls.flat().some((item) => 'key' in item), 'no key string in the items')
  })

  it('a prefetch abandoned with its step (the forward pass failed) is replaced by the next one, no unhandled rejection', async () => {
    const {service, calls, fail} = fakeService()
    const guides = new SequenceGuides(service, {} as Tokenizer, VOCAB, [0])
    const a = sequence(1, [])
    fail.next = true
    guides.prefetch([{group, seq: a}])
    await new Promise((resolve) => setImmediate(resolve))
    guides.prefetch([{group, seq: a}])
    const [mask] = await guides.masksFor([{group, seq: a}])
    assert.equal(mask![0], 1 << 1)
    assert.equal(calls.length, 2)
  })

  it('a step whose worker was lost under it replays the lost sequences into a fresh worker instead of failing the step', async () => {
    // Before, the error reached the engine, which failed every request in the step (another client's compile error).
    const {service, calls, fail} = fakeService()
    const guides = new SequenceGuides(service, {} as Tokenizer, VOCAB, [0])
    const kept = sequence(2, [9])
    const lost = sequence(5, [7, 8])
    await guides.masksFor([{group, seq: kept}, {group, seq: lost}])
    kept.appendToken(10, 0)
    lost.appendToken(11, 0)
    Object.assign(fail, {next: true, losing: 5})
    guides.prefetch([{group, seq: kept}, {group, seq: lost}])
    const masks = await guides.masksFor([{group, seq: kept}, {group, seq: lost}])
    assert.deepEqual([masks[0]![0], masks[1]![0]], [1 << 2, 1 << 5])
    // The lost sequence sends all its tokens again; the kept one, whose matcher took its token, sends none.
    assert.deepEqual(calls.at(-1)!.map(({matcherId, accept}) => [matcherId, accept]), [[2, []], [5, [7, 8, 11]]])
  })

  it('with guidedAfterTokenId the output is free until that token; the matcher then takes only the tokens after it', async () => {
    // A reasoning parser's end tag (9 here): the grammar holds the answer, not the thinking before it.
    const thinking = {params: {...group.params, guidedAfterTokenId: 9}} as unknown as SequenceGroup
    const {service, calls} = fakeService()
    const guides = new SequenceGuides(service, {} as Tokenizer, VOCAB, [0])
    const a = sequence(7, [5, 6])
    guides.prefetch([{group: thinking, seq: a}])
    assert.deepEqual(await guides.masksFor([{group: thinking, seq: a}]), [null])
    assert.equal(calls.length, 0, 'no grammar step while the reasoning goes on')
    a.appendToken(9, 0)
    a.appendToken(7, 0)
    guides.prefetch([{group: thinking, seq: a}])
    const fork = sequence(8, [9, 8, 9, 4])
    const [mask] = await guides.masksFor([{group: thinking, seq: a}, {group: thinking, seq: fork}])
    assert.equal(mask![0], 1 << 7)
    // Only the first end tag starts the grammar: a later 9 is the answer's own token.
    assert.deepEqual(calls.map((items) => items.map(({matcherId, accept}) => [matcherId, accept])), [[[7, [7]]], [[8, [8, 9, 4]]]])
  })

  it('a step that fails with every matcher still in place is an error', async () => {
    const {service, fail} = fakeService()
    const guides = new SequenceGuides(service, {} as Tokenizer, VOCAB, [0])
    const a = sequence(6, [])
    await guides.masksFor([{group, seq: a}])
    fail.next = true
    await assert.rejects(guides.masksFor([{group, seq: a}]), /worker lost/)
  })
})

describe('bad_words', () => {
  const groupBanning = (badWordTokenIds: number[][] | null) => ({params: {guided: null, allowedTokenIds: null, badWords: ['ab'], badWordTokenIds, guidedAfterTokenId: null}}) as unknown as SequenceGroup
  const oneTokenPerChar = {encode: (text: string) => [...text].map((char) => char.charCodeAt(0) % VOCAB)} as unknown as Tokenizer

  it('bans with the sequences tokenized before the engine (serve), never tokenizing on its thread', () => {
    const untouchable = {
      encode: () => {
        throw new Error('tokenized on the engine thread')
      },
    } as unknown as Tokenizer
    const guides = new SequenceGuides(fakeService().service, untouchable, VOCAB, [0])
    assert.deepEqual(guides.bannedTokens(groupBanning([[5, 6], [7]]), sequence(1, [9, 5])), [6, 7])
  })

  it('tokenizes the words itself when nothing did before (offline generate)', () => {
    const guides = new SequenceGuides(fakeService().service, oneTokenPerChar, VOCAB, [0])
    // 'ab' is [33, 34] (char codes mod 64), ' ab' [32, 33, 34]: after [33] only the first can end.
    assert.deepEqual(guides.bannedTokens(groupBanning(null), sequence(1, [33])), [34])
  })
})
