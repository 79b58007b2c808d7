// Bounded JSON numbers: the generated EBNF accepts exactly the decimals in range (checked by xgrammar itself).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decimal, intRange, numberRangeGrammar, type NumberBounds} from '../src/engine/guided/number-range.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {makeRng} from '../src/engine/random.js'

async function acceptor(bounds: NumberBounds): Promise<(text: string) => Promise<boolean>> {
  const grammar = await xgrammar().Grammar.fromEBNF(`root ::= ${numberRangeGrammar(bounds)}`)
  return (text) => xgrammar().Testings.isGrammarAcceptString(grammar, text)
}

/** Integers and decimals around the bounds and across the line, both signs, plus forms JSON allows but we leave out; each once. */
function samples(bounds: NumberBounds): string[] {
  const rng = makeRng(9, 0)
  const out = ['0', '-0', '-0.0', '0.0', '00', '01', '1e3', '.5', '5.', '1.0', '-1.0', '2345', '2345.5', '2346', '-90', '-90.5', '-89.99', '90', '90.01']
  for (const bound of [bounds.min, bounds.max]) {
    if (bound === undefined) continue
    for (const delta of [0, 0.001, -0.001, 0.01, -0.01, 0.1, -0.1, 0.5, -0.5, 1, -1]) {
      const value = bound + delta
      out.push(String(Math.round(value)), value.toFixed(1), value.toFixed(2), value.toFixed(3), value.toFixed(5))
    }
  }
  for (let i = 0; i < 200; i++) {
    const value = (rng.nextFloat() - 0.5) * 6000
    out.push(String(Math.round(value)), value.toFixed(1), value.toFixed(2), (value / 1000).toFixed(2), (value / 100000).toFixed(4))
  }
  // About a tenth of the texts repeat (roundings that coincide): checking one again only repeats that check.
  return [...new Set(out)]
}

const cases: NumberBounds[] = [
  {min: -1, max: 1},
  {min: 0},
  {max: -3},
  {min: 15, max: 2345},
  {min: -90, max: 90},
  {min: 10, max: 10},
  {min: 0.5, max: 2.25},
  {min: -1.5, max: -0.25},
  {min: -0.125, max: 0.75},
  {min: 0.1, max: 0.15},
  {min: 0, exclusiveMin: true, max: 1, exclusiveMax: true},
  {min: -2.5, exclusiveMin: true, max: 3.05, exclusiveMax: true},
  {min: 1.25, exclusiveMin: true},
  {max: -0.5, exclusiveMax: true},
  {min: 7, exclusiveMin: true, max: 7.001},
  {min: 1e-3, max: 3e-2},
  {min: 0.1234567, max: 1e15},
]

const show = ({min, exclusiveMin, max, exclusiveMax}: NumberBounds) =>
  `${min === undefined ? '(-inf' : `${exclusiveMin ? '(' : '['}${min}`}, ${max === undefined ? 'inf)' : `${max}${exclusiveMax ? ')' : ']'}`}`

describe('numberRangeGrammar', () => {
  for (const bounds of cases) {
    it(`accepts exactly the decimals in ${show(bounds)}`, async () => {
      const accepts = await acceptor(bounds)
      const {min = -Infinity, max = Infinity, exclusiveMin, exclusiveMax} = bounds
      for (const text of samples(bounds)) {
        const value = Number(text)
        // JSON's number form without exponent; "-0" forms are left out (0 is "0").
        const canonical = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text) && !(text.startsWith('-') && value === 0)
        const inRange = (exclusiveMin ? value > min : value >= min) && (exclusiveMax ? value < max : value <= max)
        assert.equal(await accepts(text), canonical && inRange, `${text} in ${show(bounds)}`)
      }
    })
  }

  it('bounds no number can meet give no grammar', () => {
    assert.equal(numberRangeGrammar({min: 2, max: 1.5}), null)
    assert.equal(numberRangeGrammar({min: 1.5, exclusiveMin: true, max: 1.5}), null)
    assert.equal(numberRangeGrammar({min: 0.25, max: 0.2}), null)
  })

  it('reads bounds as the decimals their JSON literals denote', () => {
    assert.deepEqual(decimal(0.1), {whole: 0, fraction: '1'})
    assert.deepEqual(decimal(1e-7), {whole: 0, fraction: '0000001'})
    assert.deepEqual(decimal(-2.5e3), {whole: 2500, fraction: ''})
    assert.deepEqual(decimal(12.34), {whole: 12, fraction: '34'})
  })

  it('integer ranges have no leading zeros and no gaps', () => {
    assert.deepEqual(intRange(0, 9), ['[0-9]'])
    assert.deepEqual(intRange(7, Infinity), ['[7-9]', '[1-9] [0-9]{1,}'])
  })

  it('spans wide ranges in a few sequences per digit, not one per leading-digit path', () => {
    // 1..10^15 - 1 was 2^15 sequences per length (xgrammar compiled it past the 60 s limit); 3 per length now.
    assert.deepEqual(intRange(100, 999), ['"1" [0-9]{2}', '[2-8] [0-9]{2}', '"9" [0-9]{2}'])
    assert.ok(intRange(1, 1e15 - 1).length <= 3 * 15, `${intRange(1, 1e15 - 1).length} sequences`)
    assert.ok(intRange(0, Number.MAX_SAFE_INTEGER).length <= 8 * 16)
  })
})
