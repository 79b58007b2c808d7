// The native ggml block formats decode as the format description says, round-trip within their resolution, and their integer linear kernel is accurate and batch invariant.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {nativeOps, type QuantizedFormat} from '../src/engine/native.js'
import {BLOCK_SHAPES, dequantizeReference, roundActivationsReference} from './support/ggml-blocks.js'

const ops = nativeOps()
/** The formats with a linear kernel (iq4_xs, tq1_0 and tq2_0 are converted at load: quant-formats-more.test.ts, gguf-ternary.test.ts). */
const FORMATS = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'] as const satisfies readonly QuantizedFormat[]
/** RMS round-trip error over RMS value, Gaussian weights: about step / sqrt(12) of each format's grid, with margin. */
const ROUND_TRIP_LIMIT: Record<(typeof FORMATS)[number], number> = {
  q8_0: 0.006, q4_0: 0.12, q4_1: 0.1, q5_0: 0.06, q5_1: 0.05, iq4_nl: 0.12, q2_k: 0.4, q3_k: 0.2, q4_k: 0.1, q5_k: 0.05, q6_k: 0.03,
}
const isSuperBlockFormat = (format: QuantizedFormat) => BLOCK_SHAPES[format].values === 256

function gaussian(count: number, seed: number, scale = 1): Float32Array {
  return new SeededRandom(seed).normals(count, 0, scale)
}

function rms(values: ArrayLike<number>): number {
  let sum = 0
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i]
  return Math.sqrt(sum / values.length)
}

describe('ggml block formats', () => {
  for (const format of FORMATS) {
    it(`${format}: native decode equals the reference decoder bit for bit, and the round trip is within the grid`, () => {
      const rows = 6
      const cols = 512
      // Rows at very different magnitudes, one all zero, one with an outlier: scales and the 6-bit packing get exercised.
      const values = gaussian(rows * cols, 11)
      for (let c = 0; c < cols; c++) {
        values[cols + c] *= 1e-3
        values[2 * cols + c] = 0
        values[3 * cols + c] *= 40
      }
      values[4 * cols + 77] = 25
      const raw = ops.quantizeRows(values, rows, cols, format)
      const decoded = ops.dequantizeRows(raw, rows, cols, format)
      assert.deepEqual(decoded, dequantizeReference(format, raw, rows, cols))
      for (let r = 0; r < rows; r++) {
        const original = values.subarray(r * cols, (r + 1) * cols)
        const back = decoded.subarray(r * cols, (r + 1) * cols)
        const error = rms(original.map((v, i) => v - back[i]))
        if (r === 2) assert.equal(error, 0, 'zeros stay zero')
        else if (r === 4) assert.ok(Math.abs(back[77] - 25) < 0.5, `${format}: the outlier comes back as ${back[77]}`)
        else assert.ok(error <= ROUND_TRIP_LIMIT[format] * rms(original), `${format} row ${r}: rms error ${error} vs rms ${rms(original)}`)
      }
    })
  }

  it('rejects rows that are not whole blocks', () => {
    assert.throws(() => ops.quantizeRows(new Float32Array(2 * 96), 2, 96, 'q4_k'), /multiple of 256/)
  })
})

describe('quantized linear (8-bit activations, integer dot products)', () => {
  after(() => ops.setAvx2(ops.avx2Status().supported))

  for (const format of FORMATS) {
    // 160 inputs: 5 blocks, not a whole group of 8 (the 32-value formats' kernels pad the last group with zeros).
    const widths = isSuperBlockFormat(format) ? [768] : [768, 160]
    for (const inFeatures of widths) it(`${format}, ${inFeatures} inputs: equals a float64 product of the dequantized weights and 8-bit activations; a row's output is the same in any batch`, () => {
      // 77 outputs: whole column groups of 8 and a last group of 5 (zero-padded in the packed kernel); 37 rows: 9 tiles
      // of 4 rows and one row alone.
      const outFeatures = 77
      const weights = gaussian(outFeatures * inFeatures, 3, 0.05)
      const dequantized = ops.dequantizeRows(ops.quantizeRows(weights, outFeatures, inFeatures, format), outFeatures, inFeatures, format)
      const numRows = 37
      const x = gaussian(numRows * inFeatures, 5)
      const roundedX = roundActivationsReference(x, isSuperBlockFormat(format) ? 256 : 32)
      const bias = gaussian(outFeatures, 7)
      for (const avx2 of [true, false]) {
        if (avx2 && !ops.avx2Status().supported) continue
        ops.setAvx2(avx2)
        const batched = ops.linear(x, numRows, weights, 'F32', outFeatures, inFeatures, format, bias)
        let worst = 0
        for (let m = 0; m < numRows; m++) {
          const alone = ops.linear(x.subarray(m * inFeatures, (m + 1) * inFeatures), 1, weights, 'F32', outFeatures, inFeatures, format, bias)
          assert.deepEqual(alone, batched.subarray(m * outFeatures, (m + 1) * outFeatures), `${format} avx2=${avx2}: row ${m} alone differs from batched`)
          for (let n = 0; n < outFeatures; n++) {
            let exact = bias[n]
            for (let k = 0; k < inFeatures; k++) exact += roundedX[m * inFeatures + k] * dequantized[n * inFeatures + k]
            worst = Math.max(worst, Math.abs(batched[m * outFeatures + n] - exact))
          }
        }
        // Left: fp32 accumulation over 768 terms of size ~0.05 (outputs ~1.4), about 1e-6; 1e-4 catches any wrong code or scale.
        assert.ok(worst < 1e-4, `${format} avx2=${avx2}: worst abs error ${worst}`)
      }
    })
  }
})

describe('quantized linear: the packed prefill kernel equals the decode kernel bit for bit', () => {
  for (const format of FORMATS) {
    // 512 inputs: two super-blocks, two groups of 8 32-value blocks; 160: a last group of 5 blocks.
    const widths = isSuperBlockFormat(format) ? [512] : [512, 160]
    for (const inFeatures of widths) it(`${format}, ${inFeatures} inputs: every row of a batch of 1..200 rows equals that row alone`, {skip: !ops.avx2Status().supported && 'no AVX2'}, () => {
      ops.setAvx2(true)
      // 45 outputs: whole 8-column groups and a last group of 5 (the packed kernel pads it with zero columns).
      const outFeatures = 45
      const weights = gaussian(outFeatures * inFeatures, 13, 0.05)
      for (let k = 0; k < inFeatures; k += 37) weights[5 * inFeatures + k] = 1.5  // an outlier row: large scales and mins
      const maxRows = 200
      const x = gaussian(maxRows * inFeatures, 17)
      for (let k = 0; k < inFeatures; k++) x[3 * inFeatures + k] = Math.abs(x[3 * inFeatures + k])  // all-positive row: large sums
      for (const bias of [undefined, gaussian(outFeatures, 19)]) {
        const linear = new ops.LinearWeights(weights, 'F32', outFeatures, inFeatures, format, bias)
        const alone = Array.from({length: maxRows}, (_, m) => linear.run(x.subarray(m * inFeatures, (m + 1) * inFeatures), 1))
        for (let rows = 1; rows <= maxRows; rows++) {
          const batched = linear.run(x.subarray(0, rows * inFeatures), rows)
          for (let m = 0; m < rows; m++) {
            const row = batched.subarray(m * outFeatures, (m + 1) * outFeatures)
            if (!row.every((v, n) => Object.is(v, alone[m][n]))) {
              assert.deepEqual(row, alone[m], `${format}, bias ${bias !== undefined}: row ${m} of a ${rows}-row batch differs from the row alone`)
            }
          }
        }
      }
    })
  }
})

describe('quantized linear: a stacked matrix keeps each row block in its own format', () => {
  after(() => ops.setAvx2(ops.avx2Status().supported))

  it('q4_k / q4_k / q6_k row blocks (Q4_K_M q/k/v): each block\'s outputs equal its own matrix\'s, bit for bit, from 1 to 40 rows (decode and packed kernels)', () => {
    // Block boundaries at 20 and 27: inside the decode kernel's 8-column and the packed kernel's 48-column chunks.
    const blocks: [QuantizedFormat, number][] = [['q4_k', 20], ['q4_k', 7], ['q6_k', 30]]
    const outFeatures = 57
    const inFeatures = 512
    const weights = gaussian(outFeatures * inFeatures, 23, 0.05)
    const bias = gaussian(outFeatures, 29)
    const maxRows = 40
    const x = gaussian(maxRows * inFeatures, 31)
    for (const avx2 of [true, false]) {
      if (avx2 && !ops.avx2Status().supported) continue
      ops.setAvx2(avx2)
      const stacked = new ops.LinearWeights(weights, 'F32', outFeatures, inFeatures, blocks, bias)
      let first = 0
      const parts = blocks.map(([format, rows]) => {
        const part = {first, rows, linear: new ops.LinearWeights(weights.subarray(first * inFeatures, (first + rows) * inFeatures), 'F32', rows, inFeatures, format, bias.subarray(first, first + rows))}
        first += rows
        return part
      })
      assert.equal(stacked.bytes, parts.reduce((sum, part) => sum + part.linear.bytes, 0), 'each block stored in its own format')
      for (const rows of [1, 3, 15, 16, 40]) {
        const y = stacked.run(x.subarray(0, rows * inFeatures), rows)
        for (const part of parts) {
          const expected = part.linear.run(x.subarray(0, rows * inFeatures), rows)
          for (let m = 0; m < rows; m++) {
            const actual = y.subarray(m * outFeatures + part.first, m * outFeatures + part.first + part.rows)
            assert.deepEqual(actual, expected.subarray(m * part.rows, (m + 1) * part.rows), `avx2=${avx2}, ${rows} rows: row ${m}, block at ${part.first}`)
          }
        }
      }
    }
  })

  it('rejects row blocks that do not add up to the matrix or are not block formats', () => {
    const weights = gaussian(8 * 256, 37)
    assert.throws(() => new ops.LinearWeights(weights, 'F32', 8, 256, [['q4_k', 4], ['q6_k', 3]]), /do not add up/)
    assert.throws(() => new ops.LinearWeights(weights, 'F32', 8, 256, [['q4_k', 4], ['f32' as QuantizedFormat, 4]]), /block-quantized/)
  })
})
