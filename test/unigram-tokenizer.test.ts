// A Unigram tokenizer.json (XGLM's model type) segments as Rust's tokenizers library does: the reference ids are data
// (test/fixtures/unigram-tokenizer.json, made by scripts/unigram-fixture.py), so no Python runs here.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {serdeJsonF64} from '../src/engine/model/unigram-viterbi.js'

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'unigram-tokenizer.json'), 'utf8')) as {tokenizer: Record<string, unknown>; cases: {text: string; ids: number[]}[]}

describe('Unigram tokenizers (Rust parity)', () => {
  const tokenizer = new Tokenizer(fixture.tokenizer, {unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>'})

  it(`segments ${fixture.cases.length} texts as Rust does: words cut at each ▁, equal-scoring paths, byte fallback`, () => {
    const wrong = fixture.cases.filter((c) => JSON.stringify(tokenizer.encode(c.text, {addSpecialTokens: false})) !== JSON.stringify(c.ids))
    assert.deepEqual(wrong.map((c) => c.text), [])
  })

  it('reads scores as serde_json does: one ulp off where the shortest digits pass 2^53', () => {
    // Rust's tokenizers library (serde_json without float_roundtrip) reads these 17-digit scores one ulp away.
    assert.equal(serdeJsonF64(-6.7512273316761116), -6.751227331676112)
    assert.equal(serdeJsonF64(-7.4553572652368345), -7.455357265236835)
    assert.equal(serdeJsonF64(-8.819422631714424), -8.819422631714424)
    assert.equal(serdeJsonF64(-2.5), -2.5)
  })
})
