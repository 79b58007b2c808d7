// Stop conditions: EOS, ignore_eos, stop tokens, stop strings across token boundaries, min/max tokens, streaming hold-back.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {OutputText} from '../src/engine/output-text.js'
import {checkStop, findStopString, stopStringHoldback, type StopVerdict} from '../src/engine/stop-checker.js'

const EOS = 2

type ShownVerdict = Omit<StopVerdict, 'textLength'> & {text: string}

/** Feeds text deltas (one per token) through checkStop until it finishes; returns every verdict, with the text it shows. */
function run(params: Partial<SamplingParams>, deltas: string[], tokenIds: number[] = deltas.map(() => 100)): ShownVerdict[] {
  const full = makeSamplingParams({maxTokens: 50, ...params})
  const verdicts: ShownVerdict[] = []
  const text = OutputText.whole()
  for (let i = 0; i < deltas.length; i++) {
    text.append(deltas[i]!)
    const {textLength, ...verdict} = checkStop({params: full, tokenId: tokenIds[i]!, eosTokenIds: [EOS], outputLength: i + 1, text, delta: deltas[i]!})
    verdicts.push({...verdict, text: text.prefix(textLength)})
    if (verdict.finished !== null) break
  }
  return verdicts
}

const last = <T>(list: T[]) => list[list.length - 1]!

describe('checkStop', () => {
  it('stops at EOS unless ignore_eos, dropping the EOS text', () => {
    assert.deepEqual(last(run({}, ['Hi', '</s>'], [5, EOS])), {finished: 'stop', stopReason: null, text: 'Hi'})
    assert.equal(run({ignoreEos: true}, ['Hi', '</s>', 'x'], [5, EOS, 6]).length, 3)
    assert.deepEqual(last(run({includeStopStrInOutput: true}, ['Hi', '</s>'], [5, EOS])).text, 'Hi</s>')
  })

  it('stops at a stop token with the token id as the reason, even with ignore_eos', () => {
    assert.deepEqual(last(run({stopTokenIds: [9], ignoreEos: true}, ['a', 'b', '<x>'], [5, 6, 9])), {finished: 'stop', stopReason: 9, text: 'ab'})
  })

  it('matches a stop string split across tokens and truncates before it', () => {
    const verdicts = run({stop: ['END']}, ['The', ' E', 'N', 'Dgame', ' more'])
    assert.equal(verdicts.length, 4)
    assert.deepEqual(last(verdicts), {finished: 'stop', stopReason: 'END', text: 'The '})
  })

  it('keeps the stop string with include_stop_str_in_output, and drops what follows it in the same token', () => {
    assert.deepEqual(last(run({stop: ['END'], includeStopStrInOutput: true}, ['The', ' E', 'NDgame'])).text, 'The END')
  })

  it('picks the earliest matching stop string', () => {
    assert.equal(last(run({stop: ['lo wor', 'hel']}, ['hello world'])).stopReason, 'hel')
    assert.deepEqual(findStopString('abcXYZ', 3, ['YZ', 'cX']), {stop: 'cX', index: 2})
  })

  it('does not match stop strings that ended before the new text', () => {
    assert.equal(findStopString('STOP and more', 4, ['STOP']), null)
  })

  it('respects min_tokens: no stop of any kind before it', () => {
    const verdicts = run({minTokens: 3, stop: ['x']}, ['x', '</s>', 'a', 'x'], [5, EOS, 6, 7])
    assert.equal(verdicts.length, 4)
    assert.deepEqual(last(verdicts), {finished: 'stop', stopReason: 'x', text: 'x</s>a'})
  })

  it('finishes with length at max_tokens, keeping all text', () => {
    assert.deepEqual(last(run({maxTokens: 3, stop: ['zz']}, ['a', 'b', 'cz', 'd'])), {finished: 'length', stopReason: null, text: 'abcz'})
  })

  it('a stop string completed by the max_tokens-th token wins over length', () => {
    assert.deepEqual(last(run({maxTokens: 2, stop: ['ab']}, ['a', 'b'])), {finished: 'stop', stopReason: 'ab', text: ''})
  })

  it('while running, shows the text minus a tail that could still become a stop string', () => {
    const verdicts = run({stop: ['<END>']}, ['Hello <', 'EN', 'X done'])
    assert.deepEqual(verdicts.map((verdict) => verdict.text), ['Hello ', 'Hello ', 'Hello <ENX done'])
    const kept = run({stop: ['<END>'], includeStopStrInOutput: true}, ['Hello <'])
    assert.equal(kept[0]!.text, 'Hello <')
  })
})

describe('stopStringHoldback', () => {
  it('is the longest proper prefix of a stop string that ends the text', () => {
    assert.equal(stopStringHoldback('abc <EN', ['<END>', 'N']), 3)
    assert.equal(stopStringHoldback('abc', ['<END>']), 0)
    assert.equal(stopStringHoldback('ab', ['bcd', 'abx']), 2)
    assert.equal(stopStringHoldback('', ['x']), 0)
  })
})

describe('stop strings with lone surrogates', () => {
  // U+1F600 is \ud83d\ude00 in UTF-16; a stop string may hold one half of it (JSON allows "\ude00").
  it('never match or hold back half of a character, so no text shows half a character', () => {
    assert.equal(findStopString('a\u{1F600}b', 3, ['\ude00b']), null)
    assert.equal(findStopString('a\u{1F600}', 2, ['a\ud83d']), null)
    assert.equal(stopStringHoldback('a\u{1F600}', ['\ude00x']), 0)
    const verdicts = run({stop: ['\ude00x']}, ['a', '\u{1F600}', 'y'])
    assert.ok(verdicts.every((v) => !/[\ud800-\udbff]$/.test(v.text)), JSON.stringify(verdicts))
    assert.equal(last(verdicts).text, 'a\u{1F600}y')
  })

  it('still match a whole character or a lone surrogate standing alone', () => {
    assert.deepEqual(findStopString('a\u{1F600}b', 3, ['\u{1F600}']), {stop: '\u{1F600}', index: 1})
    assert.deepEqual(findStopString('a\ude00b', 3, ['\ude00']), {stop: '\ude00', index: 1})
  })
})
