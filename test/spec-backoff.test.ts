// Speculation back-off decisions: the break-even acceptance by batch size, the per-sequence estimate, pauses, hindsight, and the speculator's gate.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {SequenceGroup, SequenceStatus} from '../src/engine/sequence.js'
import {breakEvenAcceptance, SequenceBackOff, VERIFY_ROW_COST, type Hindsight} from '../src/engine/spec-decode/back-off.js'
import {ngramInHindsight} from '../src/engine/spec-decode/ngram-proposer.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'
import {Speculator} from '../src/engine/spec-decode/speculator.js'

/** n-gram hindsight with nothing to replay: the back-off's decisions alone. */
const noHindsight: Hindsight = () => null

const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} vs ${expected}`)

describe('break-even acceptance', () => {
  it('is r at batch 1 and grows toward 1 with the batch: B r / (1 + (B - 1) r)', () => {
    near(breakEvenAcceptance(1, 0.1), 0.1)
    near(breakEvenAcceptance(8, 0.1), 0.8 / 1.7)
    near(breakEvenAcceptance(32, 0.1), 3.2 / 4.1)
    near(breakEvenAcceptance(0, 0.1), 0.1)
    near(breakEvenAcceptance(8, 0), 0)
    for (let batch = 1; batch < 64; batch++) assert.ok(breakEvenAcceptance(batch + 1) > breakEvenAcceptance(batch))
    near(breakEvenAcceptance(8), breakEvenAcceptance(8, VERIFY_ROW_COST))
  })
})

describe('per-sequence back-off', () => {
  it('starts trusting with K tokens, then proposes two more than the last proposal had accepted', () => {
    const backOff = new SequenceBackOff(8)
    assert.equal(backOff.budget(32, noHindsight), 8)
    backOff.recordVerified(8, 3)
    assert.equal(backOff.budget(1, noHindsight), 5)
    backOff.recordVerified(5, 5)
    assert.equal(backOff.budget(1, noHindsight), 7)
  })

  it('a sequence accepting 60% of its tokens proposes at batch 1 and 8, not at 32', () => {
    const backOff = new SequenceBackOff(8)
    for (let i = 0; i < 30; i++) backOff.recordVerified(5, 3)
    near(Math.round(backOff.acceptance * 1000) / 1000, 0.6)
    assert.deepEqual([1, 8, 32].map((batch) => backOff.budget(batch, noHindsight)), [5, 5, 0])
  })

  it('two fully rejected proposals in a row pause it 1, then 2 steps; an accepted token ends the streak', () => {
    const backOff = new SequenceBackOff(8)
    backOff.recordVerified(8, 0)
    assert.equal(backOff.budget(1, noHindsight), 2, 'one miss is tolerated')
    backOff.recordVerified(2, 0)
    assert.deepEqual([backOff.budget(1, noHindsight), backOff.budget(1, noHindsight)], [0, 2])
    backOff.recordVerified(2, 0)
    assert.deepEqual([backOff.budget(1, noHindsight), backOff.budget(1, noHindsight), backOff.budget(1, noHindsight)], [0, 0, 2])
    backOff.recordVerified(2, 1)
    backOff.recordVerified(3, 0)
    assert.equal(backOff.budget(1, noHindsight), 2)
  })

  it('below break-even, hindsight moves the estimate and k but never pauses (nothing was spent)', () => {
    const backOff = new SequenceBackOff(8)
    for (let i = 0; i < 6; i++) backOff.recordVerified(8, 1)
    const before = backOff.acceptance
    assert.equal(backOff.budget(32, () => ({proposed: 3, accepted: 0})), 0)
    assert.equal(backOff.budget(32, () => ({proposed: 3, accepted: 0})), 0)
    near(backOff.acceptance, before * 0.75 ** 2)
    assert.equal(backOff.budget(1, noHindsight), 2, 'two rejected replays cost nothing, so no pause')
    let gatedSteps = 0
    while (backOff.budget(32, () => ({proposed: 2, accepted: 2})) === 0) gatedSteps++
    assert.ok(gatedSteps > 1 && gatedSteps < 20, `${gatedSteps} gated steps`)
    assert.equal(backOff.k, 4)
  })

  it('without hindsight (draft models) trust creeps back until the sequence probes again', () => {
    const backOff = new SequenceBackOff(4)
    for (let i = 0; i < 10; i++) backOff.recordVerified(4, 1)
    let gatedSteps = 0
    while (backOff.budget(8, null) === 0) gatedSteps++
    assert.ok(gatedSteps > 1 && gatedSteps < 40, `${gatedSteps} gated steps`)
    assert.equal(backOff.budget(1, null), 3)
  })
})

describe('hindsight of n-gram lookup', () => {
  it('replays the proposal lookup would have made k tokens ago against what followed', () => {
    // 2 tokens ago the text was [1, 2, 3, 9, 1, 2]: lookup proposes [3, 9]; what followed was [3, 7].
    assert.deepEqual(ngramInHindsight([1, 2, 3, 9, 1, 2, 3, 7], 1, 2, 2), {proposed: 2, accepted: 1})
    assert.deepEqual(ngramInHindsight([1, 2, 3, 9, 1, 2, 3, 9], 1, 2, 2), {proposed: 2, accepted: 2})
    assert.equal(ngramInHindsight([1, 2, 3, 4, 5, 6], 1, 2, 2), null, 'no earlier match, no proposal')
    assert.equal(ngramInHindsight([1, 2], 1, 2, 2), null)
    assert.equal(ngramInHindsight([1, 2, 1, 2], 1, 2, 0), null)
  })
})

describe('the speculator gates proposals by batch size', () => {
  /** A running sequence with one uncomputed output token whose text repeats 1 .. 10, so lookup always proposes. */
  function decodingGroup(): SequenceGroup {
    const prompt = Array.from({length: 30}, (_, i) => 1 + (i % 10))
    const group = new SequenceGroup('g', null, prompt, makeSamplingParams({temperature: 0, maxTokens: 64, ignoreEos: true}), 0)
    const seq = group.sequences[0]!
    seq.status = SequenceStatus.Running
    seq.appendToken(1, -1)
    seq.numComputedTokens = seq.length - 1
    return group
  }

  it('after poor acceptance: proposals at batch 1, none at 32 until hindsight shows the text repeats again', () => {
    const speculator = new Speculator(makeSpeculativeConfig({method: 'ngram', maxBatchSize: 64}))
    const group = decodingGroup()
    const seq = group.sequences[0]!
    assert.deepEqual(speculator.propose(group, seq, 32), [2, 3, 4, 5, 6, 7, 8, 9], 'a new sequence is trusted')
    for (let i = 0; i < 6; i++) speculator.record(group, seq, 8, 1)
    assert.deepEqual(speculator.propose(group, seq, 1), [2, 3, 4], 'above break-even at batch 1 (k = 1 accepted + 2)')
    assert.deepEqual(speculator.propose(group, seq, 32), [], 'below it at batch 32')
    // Each gated step checks in hindsight: this text keeps repeating, so the estimate climbs back over 0.78.
    let gatedSteps = 0
    while (speculator.propose(group, seq, 32).length === 0) gatedSteps++
    assert.ok(gatedSteps >= 2 && gatedSteps <= 6, `${gatedSteps} gated steps`)
  })

  it('with back-off off it proposes K at any batch size', () => {
    const speculator = new Speculator(makeSpeculativeConfig({method: 'ngram', adaptive: false}))
    const group = decodingGroup()
    for (let i = 0; i < 6; i++) speculator.record(group, group.sequences[0]!, 8, 0)
    assert.equal(speculator.propose(group, group.sequences[0]!, 32).length, 8)
  })
})
