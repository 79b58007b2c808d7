// Output text in pieces: OutputText against a plain string, piecewise stop checking against a whole-text reference on
// random outputs and stop strings, and the characters a step reads staying the same however long the output is.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {OutputText} from '../src/engine/output-text.js'
import {outputTextFrom, snapshotGroup, type CompletionOutput} from '../src/engine/request-output.js'
import {ChoiceDeltas} from '../src/server/choice-deltas.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {SequenceGroup} from '../src/engine/sequence.js'
import {checkStop, longestStop} from '../src/engine/stop-checker.js'

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Few letters, so stop strings match often; a surrogate pair and its halves, so matches that would split one occur.
const LETTERS = ['a', 'b', 'c', '<', '>', '\u{1F600}', '\ud83d', '\ude00']

function randomString(next: () => number, maxLength: number): string {
  let text = ''
  const length = Math.floor(next() * (maxLength + 1))
  for (let i = 0; i < length; i++) text += LETTERS[Math.floor(next() * LETTERS.length)]
  return text
}

const splits = (text: string, index: number) =>
  index > 0 && index < text.length && /[\ud800-\udbff]/.test(text[index - 1]!) && /[\udc00-\udfff]/.test(text[index]!)

/** The stop check written plainly on the whole text: every stop string at every position. */
function referenceVerdict(params: SamplingParams, tokenId: number, outputLength: number, text: string, delta: string) {
  const keep = params.includeStopStrInOutput
  const holdback = () => {
    let longest = 0
    for (const stop of params.stop)
      for (let k = 1; k < stop.length && k <= text.length; k++) if (text.endsWith(stop.slice(0, k)) && !splits(text, text.length - k)) longest = Math.max(longest, k)
    return longest
  }
  const running = {finished: null, stopReason: null, text: keep ? text : text.slice(0, text.length - holdback())}
  if (outputLength < params.minTokens) return running
  const withoutDelta = keep ? text : text.slice(0, text.length - delta.length)
  if (!params.ignoreEos && tokenId === EOS) return {finished: 'stop', stopReason: null, text: withoutDelta}
  if (params.stopTokenIds.includes(tokenId)) return {finished: 'stop', stopReason: tokenId, text: withoutDelta}
  let best: {stop: string; index: number} | null = null
  for (const stop of params.stop)
    for (let index = 0; index + stop.length <= text.length; index++) {
      const endsInNewText = index + stop.length > text.length - delta.length
      if (endsInNewText && text.startsWith(stop, index) && !splits(text, index) && !splits(text, index + stop.length)) {
        if (best === null || index < best.index) best = {stop, index}
        break
      }
    }
  if (best !== null) return {finished: 'stop', stopReason: best.stop, text: text.slice(0, keep ? best.index + best.stop.length : best.index)}
  if (outputLength >= params.maxTokens) return {finished: 'length', stopReason: null, text}
  return running
}

const EOS = 2
const STOP_TOKEN = 3

/** Counts the characters stop checks and stream deltas read from the text (tail() reads through from()). */
class CountingText extends OutputText {
  read = 0
  constructor() {
    super(Infinity)
  }
  override from(start: number): string {
    const text = super.from(start)
    this.read += text.length
    return text
  }
  /** Joining the whole text reads all of it (prefix() joins too). */
  override toString(): string {
    this.read += this.length
    return super.toString()
  }
}

describe('OutputText', () => {
  it('reads like the plain string it stands for: tail, from, prefix, clone, tail-only', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed)
      const whole = OutputText.whole()
      const keep = 1 + Math.floor(next() * 6)
      const tailOnly = OutputText.tailOnly(keep)
      let plain = ''
      let copy: {text: OutputText; plain: string} | null = null
      for (let step = 0; step < 40; step++) {
        const piece = randomString(next, 4)
        whole.append(piece)
        tailOnly.append(piece)
        plain += piece
        const n = Math.floor(next() * 12)
        assert.equal(whole.length, plain.length, `seed ${seed}`)
        assert.equal(tailOnly.length, plain.length, `seed ${seed}`)
        assert.equal(whole.tail(n), plain.slice(Math.max(0, plain.length - n)), `seed ${seed}`)
        // A tail-only text holds the newest piece and `keep` characters before it.
        const reachable = Math.min(n, piece.length + keep)
        assert.equal(tailOnly.tail(reachable), plain.slice(Math.max(0, plain.length - reachable)), `seed ${seed}`)
        const start = Math.floor(next() * (plain.length + 2))
        assert.equal(whole.from(start), plain.slice(start), `seed ${seed}`)
        if (next() < 0.2) assert.equal(whole.toString(), plain, `seed ${seed}`)
        assert.equal(whole.prefix(start), plain.slice(0, start), `seed ${seed}`)
        if (copy === null && next() < 0.1) copy = {text: whole.clone(), plain}
        if (copy !== null) {
          const more = randomString(next, 3)
          copy.text.append(more)
          copy.plain += more
        }
      }
      if (copy !== null) assert.equal(copy.text.toString(), copy.plain, `seed ${seed}: a clone goes its own way`)
      assert.equal(whole.toString(), plain, `seed ${seed}: the original is untouched by its clone`)
    }
  })

  it('a tail-only text refuses what it forgot', () => {
    const text = OutputText.tailOnly(2)
    for (const piece of ['abc', 'de', 'f', 'gh']) text.append(piece)
    assert.equal(text.tail(4), 'efgh')
    assert.throws(() => text.from(0), RangeError)
    assert.throws(() => text.toString(), RangeError)
  })
})

describe('stop checking on output text in pieces', () => {
  it('matches a whole-text reference on random outputs and stop strings', () => {
    let stops = 0
    for (let seed = 1; seed <= 400; seed++) {
      const next = random(seed)
      const stop = Array.from({length: Math.floor(next() * 4)}, () => randomString(next, 4)).filter((s) => s !== '')
      const params = makeSamplingParams({
        stop,
        maxTokens: 5 + Math.floor(next() * 40),
        minTokens: next() < 0.3 ? Math.floor(next() * 5) : 0,
        includeStopStrInOutput: next() < 0.3,
        ignoreEos: next() < 0.3,
        stopTokenIds: [STOP_TOKEN],
      })
      const whole = OutputText.whole()
      const tail = OutputText.tailOnly(longestStop(stop) + 1)
      let plain = ''
      for (let outputLength = 1; ; outputLength++) {
        const roll = next()
        const tokenId = roll < 0.03 ? EOS : roll < 0.05 ? STOP_TOKEN : 100
        const delta = randomString(next, 3)
        whole.append(delta)
        tail.append(delta)
        plain += delta
        const context = `seed ${seed}, token ${outputLength}, stop ${JSON.stringify(stop)}, text ${JSON.stringify(plain)}`
        const expected = referenceVerdict(params, tokenId, outputLength, plain, delta)
        const verdict = checkStop({params, tokenId, eosTokenIds: [EOS], outputLength, text: whole, delta})
        assert.deepEqual({finished: verdict.finished, stopReason: verdict.stopReason, text: whole.prefix(verdict.textLength)}, expected, context)
        assert.deepEqual(checkStop({params, tokenId, eosTokenIds: [EOS], outputLength, text: tail, delta}), verdict, `${context} (tail-only text)`)
        if (verdict.finished !== null) {
          if (typeof verdict.stopReason === 'string') stops++
          break
        }
      }
    }
    assert.ok(stops > 50, `the random cases must stop on stop strings often (${stops})`)
  })

  it('reads the same number of characters per token whatever the length of the output', () => {
    const params = makeSamplingParams({stop: ['<END>', 'never'], maxTokens: 1_000_000})
    const text = new CountingText()
    const readPerToken: number[] = []
    for (let outputLength = 1; outputLength <= 21_000; outputLength++) {
      const delta = outputLength % 7 === 0 ? ' <EN' : 'word '
      text.append(delta)
      text.read = 0
      checkStop({params, tokenId: 100, eosTokenIds: [EOS], outputLength, text, delta})
      readPerToken.push(text.read)
    }
    const most = Math.max(...readPerToken)
    // The new text plus the longest stop string before it (the match search), the longest stop string (the holdback).
    assert.ok(most <= 2 * longestStop(params.stop) + 'word '.length, `at most the window per token, read ${most}`)
    assert.deepEqual(readPerToken.slice(-70), readPerToken.slice(70, 140), 'a token late in the output reads what one early in it read')
  })

  it('a stream reads only the text a step added, not the whole output', () => {
    const group = new SequenceGroup('r', null, [1, 2, 3], makeSamplingParams({maxTokens: 1_000_000}), 0)
    const seq = group.sequences[0]!
    const text = new CountingText()
    seq.text = text
    let sent = 0
    let streamed = ''
    for (let step = 0; step < 5_000; step++) {
      const piece = `piece ${step} `
      text.append(piece)
      seq.shownTextLength = text.length
      text.read = 0
      const output = snapshotGroup(group).outputs[0]!
      const delta = outputTextFrom(output, sent)
      assert.equal(text.read, piece.length, `step ${step}: the snapshot and the delta read only the new piece`)
      sent += delta.length
      streamed += delta
    }
    assert.equal(streamed, text.toString())
  })

  it('a snapshot keeps what it saw while the sequence goes on, and streams as a plain output would', () => {
    const group = new SequenceGroup('r', null, [1, 2, 3], makeSamplingParams({maxTokens: 1_000_000, logprobs: 1}), 0)
    const seq = group.sequences[0]!
    const next = random(7)
    const live = new ChoiceDeltas()
    const plain = new ChoiceDeltas()
    const snapshots: Array<{output: CompletionOutput; text: string; tokenIds: number[]}> = []
    for (let step = 0; step < 300; step++) {
      const tokenId = 10 + Math.floor(next() * 50)
      seq.appendToken(tokenId, -0.5, new Map([[tokenId, -0.5]]))
      seq.text.append(randomString(next, 3))
      // A tail held back now and then (a possible stop string): shown text lags the text.
      seq.shownTextLength = Math.max(seq.shownTextLength, seq.text.length - Math.floor(next() * 3))
      const output = snapshotGroup(group).outputs[0]!
      const copy: CompletionOutput = {...output}
      assert.deepEqual(live.next(0, output), plain.next(0, copy), `step ${step}`)
      // Another snapshot of this step, left unread until the sequence has gone on.
      if (step % 37 === 0) snapshots.push({output: snapshotGroup(group).outputs[0]!, text: seq.outputText, tokenIds: seq.outputTokenIds})
    }
    for (const {output, text, tokenIds} of snapshots) {
      assert.equal(output.text, text)
      assert.deepEqual(output.tokenIds, tokenIds)
      assert.equal(output.logprobs!.length, tokenIds.length)
    }
  })
})
