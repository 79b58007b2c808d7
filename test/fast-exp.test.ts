// fastExp against Math.exp: relative error, underflow to 0, -Infinity.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {fastExp} from '../src/engine/fast-exp.js'

describe('fastExp', () => {
  it('is within 1e-7 relative of Math.exp over normal float64 results', () => {
    let worst = 0
    for (let x = -700; x <= 700; x += 0.00731) worst = Math.max(worst, Math.abs(fastExp(x) / Math.exp(x) - 1))
    assert.ok(worst < 1e-7, `worst relative error ${worst}`)
    assert.equal(fastExp(0), 1)
  })

  it('underflows to 0 and maps -Infinity to 0', () => {
    assert.equal(fastExp(-800), 0)
    assert.equal(fastExp(-Infinity), 0)
    assert.ok(Number.isNaN(fastExp(NaN)))
  })
})
