// Bounded JSON numbers: the generated EBNF accepts exactly the decimals in range (checked by xgrammar itself).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {intRange, numberRangeGrammar} from '../src/engine/guided/number-range.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {makeRng} from '../src/engine/random.js'

async function acceptor(lo: number | undefined, hi: number | undefined): Promise<(text: string) => Promise<boolean>> {
  const grammar = await xgrammar().Grammar.fromEBNF(`root ::= ${numberRangeGrammar(lo, hi)}`)
  return (text) => xgrammar().Testings.isGrammarAcceptString(grammar, text)
}

/** Integers and one- or two-place decimals around the bounds, both signs, plus forms JSON allows but we leave out. */
function samples(): string[] {
  const rng = makeRng(9, 0)
  const out = ['0', '-0', '00', '01', '1e3', '.5', '5.', '1.0', '-1.0', '2345', '2345.5', '2346', '-90', '-90.5', '-89.99', '90', '90.01']
  for (let i = 0; i < 300; i++) {
    const value = (rng.nextFloat() - 0.5) * 6000
    out.push(String(Math.round(value)), value.toFixed(1), value.toFixed(2), (value / 1000).toFixed(2))
  }
  return out
}

describe('numberRangeGrammar', () => {
  for (const [lo, hi] of [[-1, 1], [0, undefined], [undefined, -3], [15, 2345], [-90, 90], [10, 10]] as const) {
    it(`accepts only numbers in [${lo ?? '-inf'}, ${hi ?? 'inf'}], and every integer and decimal inside`, async () => {
      const accepts = await acceptor(lo, hi)
      for (const text of samples()) {
        const value = Number(text)
        const canonical = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text) && text !== '-0' && !/^-?\d+\.0+$/.test(text)
        const inRange = value >= (lo ?? -Infinity) && value <= (hi ?? Infinity)
        const accepted = await accepts(text)
        if (accepted) assert.ok(inRange && /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text), `${text} accepted outside [${lo}, ${hi}]`)
        else assert.ok(!(inRange && canonical && (Number.isInteger(value) || (value > (lo ?? -Infinity) && value < (hi ?? Infinity)))), `${text} rejected`)
      }
    })
  }

  it('integer ranges have no leading zeros and no gaps', () => {
    assert.deepEqual(intRange(0, 9), ['[0-9]'])
    assert.deepEqual(intRange(7, Infinity), ['[7-9]', '[1-9] [0-9]{1,}'])
  })
})
