// Incremental detokenizer on the real byte-fallback tokenizer of the committed tinychat model: emoji and CJK split over several tokens.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {IncrementalDetokenizer} from '../src/engine/detokenizer.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {TINYCHAT_DIR} from './support/tinychat.js'

const tokenizer = Tokenizer.load(TINYCHAT_DIR)
const encode = (text: string) => tokenizer.encode(text, {addSpecialTokens: false})
const EOS = 2 // </s>

/** Streams `output` one token at a time and returns the deltas. */
function stream(prompt: number[], output: number[], skipSpecialTokens = true): {deltas: string[]; detokenizer: IncrementalDetokenizer} {
  const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens})
  return {deltas: output.map((token) => detokenizer.push([token])), detokenizer}
}

describe('IncrementalDetokenizer', () => {
  const prompt = [1, ...encode('Tell me something:')]
  const answer = ' Hello 🌍 世界! 😀😀 naïve end'
  const output = encode(answer)

  it('streams text that adds up to the full decode, never emitting a broken character', () => {
    const {deltas, detokenizer} = stream(prompt, output)
    const expected = tokenizer.decode([...prompt, ...output], {skipSpecialTokens: true}).slice(tokenizer.decode(prompt, {skipSpecialTokens: true}).length)
    assert.equal(deltas.join(''), expected)
    assert.equal(detokenizer.text, expected)
    for (const delta of deltas) assert.ok(!delta.includes('\uFFFD'), `delta ${JSON.stringify(delta)} holds a broken character`)
    assert.ok(deltas.includes('🌍') || deltas.some((delta) => delta.includes('🌍')))
  })

  it('holds back the bytes of an emoji until its last byte arrives', () => {
    const emoji = encode('😀').filter((token) => tokenizer.idToToken(token)!.startsWith('<0x'))
    assert.equal(emoji.length, 4, 'the emoji should be four byte-fallback tokens')
    const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens: true})
    assert.deepEqual(emoji.slice(0, 3).map((token) => detokenizer.push([token])), ['', '', ''])
    assert.equal(detokenizer.push([emoji[3]!]), '😀')
  })

  it('gives the same text when tokens arrive in batches', () => {
    const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens: true})
    const batched = [output.slice(0, 3), output.slice(3, 4), output.slice(4, 11), output.slice(11)].map((batch) => detokenizer.push(batch))
    assert.equal(batched.join(''), stream(prompt, output).detokenizer.text)
  })

  it('keeps the space before the first output word (prompt tokens give context)', () => {
    // encode('world') is the single piece '▁world' (the normalizer prepends ▁); decoded alone it would lose the space.
    const {deltas} = stream(encode('Hello'), encode('world'))
    assert.equal(deltas.join(''), ' world')
  })

  it('skips special tokens only when asked', () => {
    assert.equal(stream(prompt, [...encode('ok'), EOS], true).detokenizer.text, ' ok')
    assert.equal(stream(prompt, [...encode('ok'), EOS], false).detokenizer.text, ' ok</s>')
  })

  it('starts cleanly from an empty prompt', () => {
    const {detokenizer} = stream([], encode('Hi 世界'))
    assert.equal(detokenizer.text, 'Hi 世界')
  })
})
