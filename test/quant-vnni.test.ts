// The VNNI builds of the packed quantized prefill kernel (native/cpu/quant_packed_*_vnni.cpp; AVX512-VNNI on 512-bit
// vectors) give the AVX2 build's outputs bit for bit: each sums each block's int8 products exactly in int32, then runs
// the same fp32 steps per lane.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {nativeOps, type QuantizedFormat} from '../src/engine/native.js'
import {BLOCK_SHAPES} from './support/ggml-blocks.js'

const ops = nativeOps()
const FORMATS: QuantizedFormat[] = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k']
const vnni = ops.vnniStatus().supported
/** The VNNI builds this CPU runs (a Zen 5 or Sapphire Rapids runs both; setVnni refuses the others). */
const builds = (['avx-vnni', 'avx512-vnni'] as const).filter((kind) => ops.avx2Status().supported && ops.setVnni(kind))
const skip = !ops.avx2Status().supported ? 'no AVX2 on this CPU' : builds.length === 0 ? 'this CPU has neither AVX-VNNI nor AVX512-VNNI + VL' : false

describe(`quantized prefill: the VNNI kernels (${builds.join(', ') || 'none here'}) equal the AVX2 kernel bit for bit`, () => {
  after(() => {
    ops.setAvx2(ops.avx2Status().supported)
    ops.setVnni(vnni)
  })

  it('setVnni takes the builds this CPU runs, and vnniStatus says which one runs', () => {
    ops.setAvx2(ops.avx2Status().supported)
    assert.equal(ops.setVnni('none'), true)
    assert.equal(ops.vnniStatus().inUse, 'none')
    for (const kind of builds) {
      assert.equal(ops.setVnni(kind), true)
      assert.equal(ops.vnniStatus().inUse, ops.avx2Status().enabled ? kind : 'none')
    }
    assert.equal(ops.setVnni(vnni), true)
    assert.equal(ops.vnniStatus().inUse, ops.avx2Status().enabled ? vnni : 'none')
    assert.throws(() => ops.setVnni('avx1024' as 'none'), /unknown VNNI build 'avx1024'/)
  })

  for (const format of FORMATS) {
    // 16..19 and 37 rows: whole tiles of 4 rows and a last one of 1..3. Outputs: 16 + 5, 8, 13 and 48 + 5 (a chunk is
    // 48 columns): a last column group short of 8 or 16 (and a last K-quant column alone in its vector or tile);
    // 160 inputs: 5 blocks, a short last group of 8 blocks (32-value formats).
    const widths = BLOCK_SHAPES[format].values === 256 ? [512] : [512, 160]
    for (const inFeatures of widths) for (const outFeatures of [21, 24, 29, 53]) it(`${format}, ${inFeatures} inputs, ${outFeatures} outputs, 16..19 and 37 rows: each VNNI build equals AVX2`, {skip}, () => {
      ops.setAvx2(true)
      const random = new SeededRandom(23)
      const weights = random.normals(outFeatures * inFeatures, 0, 0.05)
      for (let k = 0; k < inFeatures; k += 29) weights[7 * inFeatures + k] = 1.5  // an outlier row: large scales and codes
      const x = random.normals(37 * inFeatures, 0, 1)
      for (let k = 0; k < inFeatures; k++) x[2 * inFeatures + k] = Math.abs(x[2 * inFeatures + k]) * 4  // large positive sums
      const linear = new ops.LinearWeights(weights, 'F32', outFeatures, inFeatures, format, random.normals(outFeatures, 0, 1))
      for (const rows of [16, 17, 18, 19, 37]) {
        const input = x.subarray(0, rows * inFeatures)
        assert.equal(ops.setVnni('none'), true)
        const avx2 = linear.run(input, rows)
        for (const kind of builds) {
          assert.equal(ops.setVnni(kind), true)
          const withVnni = linear.run(input, rows)
          const first = withVnni.findIndex((v, i) => !Object.is(v, avx2[i]))
          assert.equal(first, -1, `${format}, ${rows} rows: output ${first} is ${withVnni[first]} with ${kind}, ${avx2[first]} with AVX2`)
        }
      }
    })
  }
})
