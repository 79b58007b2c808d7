// The AVX-512 build of the packed float prefill kernel (native/cpu/linear_packed_avx512.cpp) gives the AVX2 build's
// outputs bit for bit: one source (linear_panels.h), each output column one lane doing the same FMAs over k in the
// same order, the same K blocks, the first block writing (with the bias) and later ones adding.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {nativeOps} from '../src/engine/native.js'

const ops = nativeOps()
const widest = ops.floatPanelsStatus().supported
const skip = !ops.avx2Status().supported ? 'no AVX2 on this CPU'
  : widest !== 'avx512' ? 'this CPU has no AVX-512 F + VL (or the OS does not save zmm state)' : false

describe(`float prefill: the AVX-512 panels equal the AVX2 panels bit for bit (${widest} here)`, () => {
  after(() => {
    ops.setAvx2(ops.avx2Status().supported)
    ops.setFloatPanels(widest)
  })

  it('setFloatPanels takes the builds this CPU runs, and floatPanelsStatus says which one runs', () => {
    ops.setAvx2(ops.avx2Status().supported)
    assert.equal(ops.setFloatPanels('avx2'), true)
    assert.equal(ops.floatPanelsStatus().inUse, 'avx2')
    assert.equal(ops.setFloatPanels('avx512'), widest === 'avx512')
    assert.equal(ops.floatPanelsStatus().inUse, widest === 'avx512' && ops.avx2Status().enabled ? 'avx512' : 'avx2')
    assert.throws(() => ops.setFloatPanels('avx1024' as 'avx2'), /unknown build 'avx1024'/)
  })

  // 48 rows (the packed threshold), 61 and 103: whole 14-row and 6-row tiles and a short last one of each; 67 outputs: two
  // 32-column panels and 3 columns (16-column panels: 4 and 3); K 515 (two blocks, the last 251 long: not a multiple
  // of 8) and 1030 (three blocks), K 20 (one block, a tail of 4).
  const SHAPES = [[48, 67, 515], [61, 37, 1030], [103, 67, 20], [61, 5, 515]] as const
  for (const format of ['f32', 'f16', 'bf16'] as const) {
    for (const withBias of [true, false]) {
      it(`${format} weights${withBias ? ', bias' : ''}: ${SHAPES.map((s) => s.join('x')).join(', ')} (rows x out x in)`, {skip}, () => {
        ops.setAvx2(true)
        for (const [rows, outFeatures, inFeatures] of SHAPES) {
          const random = new SeededRandom(rows * 7 + inFeatures)
          const weights = random.normals(outFeatures * inFeatures, 0, 0.05)
          const x = random.normals(rows * inFeatures, 0, 1)
          const bias = withBias ? random.normals(outFeatures, 0, 1) : undefined
          const linear = new ops.LinearWeights(weights, 'F32', outFeatures, inFeatures, format, bias)
          assert.equal(ops.setFloatPanels('avx2'), true)
          const ymm = linear.run(x, rows)
          assert.equal(ops.setFloatPanels('avx512'), true)
          const zmm = linear.run(x, rows)
          const first = zmm.findIndex((v, i) => !Object.is(v, ymm[i]))
          assert.equal(first, -1, `${rows}x${outFeatures}x${inFeatures}: output ${first} is ${zmm[first]} with avx512, ${ymm[first]} with avx2`)
        }
      })
    }
  }
})
