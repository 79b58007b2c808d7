// Checks each native CPU kernel against a plain float64 JS computation on seeded random inputs, on both the
// AVX2 and the portable paths, plus the model object: chunked prefill, block copy/swap and load errors.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {bf16BitsToFloat32, f16BitsToFloat32, float32ToBf16Bits, float32ToF16Bits} from '../src/engine/model/float-formats.js'
import type {ModelConfig} from '../src/engine/model/model-config.js'
import {readSafetensorsHeader, writeSafetensors, encodeFloats, type TensorDtype} from '../src/engine/model/safetensors.js'
import {kvBytesPerBlock, loadNativeModel, nativeOps, type ForwardBatchArrays} from '../src/engine/native.js'

const ops = nativeOps()
// Two threads whatever the machine: the attention tests' sequence counts are chosen against this pool size.
ops.setThreads(2)
const avx2Supported = ops.avx2Status().supported
/** Every kernel test runs on the portable path and, where the CPU has it, the AVX2 path. */
const PATHS: {name: string; avx2: boolean}[] = [{name: 'portable', avx2: false}, ...(avx2Supported ? [{name: 'avx2', avx2: true}] : [])]
after(() => ops.setAvx2(avx2Supported))

function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const next = random(seed)
  const out = new Float32Array(length)
  for (let i = 0; i < length; i++) out[i] = (next() * 2 - 1) * scale
  return out
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`)
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i])
    if (!(error <= tolerance * (1 + Math.abs(expected[i])))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`)
    }
  }
}

function rmsNormReference(x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows * dim)
  for (let r = 0; r < rows; r++) {
    let sum = 0
    for (let i = 0; i < dim; i++) sum += x[r * dim + i] ** 2
    const scale = 1 / Math.sqrt(sum / dim + eps)
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * scale * weight[i]
  }
  return out
}

/** max, first index of it, log(sum(exp)) in float64; NaN-free rows with a finite max. */
function rowStatsReference(row: Float32Array): {max: number; argmax: number; logSumExp: number} {
  let max = -Infinity
  let argmax = 0
  for (let i = 0; i < row.length; i++) {
    if (row[i] > max) {
      max = row[i]
      argmax = i
    }
  }
  let sum = 0
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max)
  return {max, argmax, logSumExp: max + Math.log(sum)}
}

for (const path of PATHS) {
  describe(`native kernels (${path.name})`, () => {
    const useThisPath = () => assert.equal(ops.setAvx2(path.avx2), true)

    it('rmsNorm and fusedAddRmsNorm match the formula', () => {
      useThisPath()
      const rows = 5, dim = 67, eps = 1e-5
      const x = randomArray(rows * dim, 1, 3), weight = randomArray(dim, 2)
      assertClose(ops.rmsNorm(x, weight, rows, dim, eps), rmsNormReference(x, weight, rows, dim, eps), 1e-5, 'rmsNorm')
      const residual = randomArray(rows * dim, 3)
      const sum = x.map((v, i) => v + residual[i])
      const inOut = x.slice()
      ops.fusedAddRmsNorm(inOut, residual, weight, rows, dim, eps)
      assertClose(residual, sum, 1e-6, 'fused residual')
      assertClose(inOut, rmsNormReference(sum, weight, rows, dim, eps), 1e-5, 'fused norm')
    })

    it('siluAndMul matches silu(gate) * up', () => {
      useThisPath()
      const rows = 3, dim = 37
      const gateUp = randomArray(rows * 2 * dim, 4, 6)
      // Extremes of the exp: overflow and underflow must give silu's limits (x and 0), not NaN.
      gateUp.set([-100, 100, -87.5, 88.5, -20, 20, 1e-30, -0.5, 0], 0)
      const expected = new Float64Array(rows * dim)
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < dim; i++) {
          const gate = gateUp[r * 2 * dim + i], up = gateUp[r * 2 * dim + dim + i]
          expected[r * dim + i] = (gate / (1 + Math.exp(-gate))) * up
        }
      }
      assertClose(ops.siluAndMul(gateUp, rows, dim), expected, 1e-6, 'siluAndMul')
    })

    for (const vocab of [1, 7, 33, 32000, 152064]) {
      it(`rowStats matches float64 max, first argmax and log-sum-exp (vocab ${vocab})`, () => {
        useThisPath()
        // Logit scales from flat to far beyond exp's float range, each row with -inf entries and a tie for the max.
        const scales = [0.5, 8, 40, 1e4, 3e37]
        const logits = new Float32Array(scales.length * vocab)
        scales.forEach((scale, r) => {
          const row = logits.subarray(r * vocab, (r + 1) * vocab)
          row.set(randomArray(vocab, 100 + r + vocab, scale))
          for (let i = 1 + (r % 3); i < vocab; i += 5) row[i] = -Infinity
          if (vocab > 1) row[vocab - 1] = row[Math.floor(vocab / 3)] = 1.5 * scale
        })
        const stats = ops.rowStats(logits, scales.length, vocab)
        assert.ok(stats instanceof Float64Array && stats.length === 3 * scales.length)
        scales.forEach((scale, r) => {
          const expected = rowStatsReference(logits.subarray(r * vocab, (r + 1) * vocab))
          const what = `vocab ${vocab}, scale ${scale}`
          assert.equal(stats[3 * r], expected.max, `${what}: max`)
          assert.equal(stats[3 * r + 1], expected.argmax, `${what}: argmax`)
          const error = Math.abs(stats[3 * r + 2] - expected.logSumExp)
          // A raw logprob is logit - logSumExp: 1e-7 absolute (both paths measure ~1e-8), plus a few float64 ulps
          // where the logits are huge.
          const tolerance = 1e-7 + Math.abs(expected.logSumExp) * 2 ** -50
          assert.ok(error <= tolerance, `${what}: logSumExp ${stats[3 * r + 2]}, expected ${expected.logSumExp}`)
        })
      })
    }

    it('rowStats on rows without a finite max, with NaN, and a subarray view', () => {
      useThisPath()
      const rows = Float32Array.from([-Infinity, -Infinity, -Infinity, 2, Infinity, 3, Infinity, 1, NaN, NaN, 4, 4, 0, 0, 0])
      const stats = ops.rowStats(rows, 5, 3)
      assert.deepEqual([...stats.subarray(0, 3)], [-Infinity, 0, -Infinity]) // log(0), argmax 0 as for any tie
      assert.deepEqual([...stats.subarray(3, 6)], [Infinity, 1, Infinity])
      assert.deepEqual([...stats.subarray(6, 8)], [Infinity, 0]) // second row with +inf: first index holding it
      assert.ok(Number.isNaN(stats[8]))
      assert.deepEqual([...stats.subarray(9, 11)], [4, 1]) // NaN is skipped by max/argmax ...
      assert.ok(Number.isNaN(stats[11])) // ... and poisons the sum
      assert.deepEqual([...stats.subarray(12, 14)], [0, 0])
      assert.ok(Math.abs(stats[14] - Math.log(3)) < 1e-7)
      // A view into a larger buffer reads from its own offset.
      assert.deepEqual([...ops.rowStats(rows.subarray(12, 15), 1, 3).subarray(0, 2)], [0, 0])
      assert.throws(() => ops.rowStats(rows, 4, 3), /15|12/)
    })

    // The last: Phi-3's partial rotary, rotate_half over each head's first 12 of 16 values, the other 4 untouched.
    for (const [scaling, rotaryDim] of [
      [{type: 'none'}, 16],
      [{type: 'linear', factor: 4}, 16],
      [{type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 64}, 16],
      [{type: 'linear', factor: 4}, 12],
    ] as [ModelConfig['ropeScaling'], number][]) {
      it(`rope (${scaling.type} scaling, ${rotaryDim} of 16 values) rotates halves as HF rotate_half does`, () => {
        useThisPath()
        const rows = 4, headDim = 16, heads = 3, rowStride = heads * headDim + 5, theta = 10000, half = rotaryDim / 2
        const x = randomArray(rows * rowStride, 5)
        const positions = Int32Array.from([0, 1, 77, 1500])
        const invFreq = ropeInvFreqReference(rotaryDim, theta, scaling)
        const expected = Float64Array.from(x)
        for (let r = 0; r < rows; r++) {
          for (let h = 0; h < heads; h++) {
            const base = r * rowStride + h * headDim
            for (let i = 0; i < half; i++) {
              const angle = positions[r] * invFreq[i]
              const a = x[base + i], b = x[base + i + half]
              expected[base + i] = a * Math.cos(angle) - b * Math.sin(angle)
              expected[base + i + half] = b * Math.cos(angle) + a * Math.sin(angle)
            }
          }
        }
        const actual = x.slice()
        ops.rope(actual, rows, rowStride, heads, positions, {headDim, ropeTheta: theta, ropeScaling: scaling, ...(rotaryDim < headDim ? {rotaryDim} : {})})
        assertClose(actual, expected, 1e-5, 'rope')
      })
    }

    // 48+ rows take the packed prefill kernel; [50, 37, 1030] covers its partial column groups and several K blocks.
    for (const [rows, outFeatures, inFeatures] of [[1, 1, 1], [1, 37, 64], [5, 7, 13], [4, 3, 8], [33, 50, 67], [64, 96, 160], [50, 37, 1030]]) {
      for (const format of ['f32', 'bf16', 'f16'] as const) {
        it(`linear ${rows}x${inFeatures} * (${outFeatures}x${inFeatures})^T, ${format} weights`, () => {
          useThisPath()
          const x = randomArray(rows * inFeatures, 6 + rows)
          const weight = randomArray(outFeatures * inFeatures, 7 + outFeatures)
          const bias = randomArray(outFeatures, 8)
          const stored = weight.map(storedAs(format))
          const expected = new Float64Array(rows * outFeatures)
          for (let m = 0; m < rows; m++) {
            for (let n = 0; n < outFeatures; n++) {
              let sum = bias[n]
              for (let k = 0; k < inFeatures; k++) sum += x[m * inFeatures + k] * stored[n * inFeatures + k]
              expected[m * outFeatures + n] = sum
            }
          }
          const linear = new ops.LinearWeights(weight, 'F32', outFeatures, inFeatures, format, bias)
          assert.equal(linear.bytes, outFeatures * inFeatures * (format === 'f32' ? 4 : 2))
          const y = linear.run(x, rows)
          assertClose(y, expected, 2e-5 * Math.sqrt(inFeatures), 'linear')
          assert.deepEqual(ops.linear(x, rows, weight, 'F32', outFeatures, inFeatures, format, bias), y, 'one-shot linear')
        })
      }
    }

    // A row's output must not depend on how many rows share the call: decode (one row) and batches take different
    // kernels, which must add up each dot product in the same order. Below the packed kernel's 48 rows that holds by
    // default; at any row count with batchInvariant (130 rows: the packed threshold and two row blocks of 128).
    // 37 outputs cover the partial column groups; K = 203 the scalar tail, K = 1003 (three 256-wide chunks of 16-bit
    // weights and a short one, read one row at a time) and 2093 (rows read four side by side) the chunk sums.
    for (const [maxRows, invariant, inFeatures] of [[47, false, 203], [47, false, 1003], [47, false, 2093], [130, true, 1003]] as const) {
      it(`linear gives each row bitwise the same output alone and in batches of up to ${maxRows} rows, K ${inFeatures}${invariant ? ' (batchInvariant)' : ''}`, () => {
        useThisPath()
        const outFeatures = 37
        const x = randomArray(maxRows * inFeatures, 21)
        const weight = randomArray(outFeatures * inFeatures, 22)
        const bias = randomArray(outFeatures, 23)
        for (const format of ['f32', 'bf16', 'f16'] as const) {
          const linear = new ops.LinearWeights(weight, 'F32', outFeatures, inFeatures, format, bias)
          const alone = Array.from({length: maxRows}, (_, m) => linear.run(x.subarray(m * inFeatures, (m + 1) * inFeatures), 1))
          for (const rows of [2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 47, 48, 64, maxRows].filter((r) => r <= maxRows)) {
            const batched = linear.run(x.subarray(0, rows * inFeatures), rows, undefined, invariant)
            for (let m = 0; m < rows; m++) {
              assert.deepEqual(batched.subarray(m * outFeatures, (m + 1) * outFeatures), alone[m], `${format}: row ${m} of ${rows}`)
            }
          }
        }
      })
    }

    it('linear keeps bf16/f16 source weights exactly (identity input reads W back)', () => {
      useThisPath()
      const rows = 6, cols = 10
      const values = randomArray(rows * cols, 9, 100)
      for (const [dtype, encode, decode] of [
        ['BF16', float32ToBf16Bits, bf16BitsToFloat32],
        ['F16', float32ToF16Bits, f16BitsToFloat32],
      ] as const) {
        const bits = Uint16Array.from(values, (v) => encode(v))
        const identity = new Float32Array(cols * cols)
        for (let i = 0; i < cols; i++) identity[i * cols + i] = 1
        for (const format of ['f32' as const, dtype.toLowerCase() as 'bf16' | 'f16']) {
          const y = new ops.LinearWeights(bits, dtype, rows, cols, format).run(identity, cols)
          for (let k = 0; k < cols; k++) {
            for (let n = 0; n < rows; n++) assert.equal(y[k * rows + n], decode(bits[n * cols + k]), `${dtype} as ${format}`)
          }
        }
      }
    })

    // 12: the portable kernel's odd case; 64 and 72: the AVX2 register-held 64-wide chunks and their tail.
    for (const headDim of [16, 12, 64, 72]) {
      it(`pagedAttention over scattered blocks with GQA matches contiguous attention (head_dim ${headDim})`, () => {
        useThisPath()
        checkPagedAttention(headDim, MIXED_SEQUENCES)
      })
    }

    it('pagedAttention with many decode sequences (one work item covers all KV heads)', () => {
      useThisPath()
      checkPagedAttention(16, MANY_DECODES)
      checkPagedAttention(12, MANY_DECODES)
    })

    it('pagedAttention with attention sinks (GPT-OSS): a per-head logit joins each softmax denominator and adds no value', () => {
      useThisPath()
      // One sink per query head (8), from far below the scores to far above them (head 7 keeps almost nothing).
      const sinks = Float32Array.from([-1, 0, 0.5, 2, 4, -3, 1, 12])
      for (const headDim of [16, 12]) {
        const withSinks = checkPagedAttention(headDim, MIXED_SEQUENCES, 40, sinks)
        const without = checkPagedAttention(headDim, MIXED_SEQUENCES)
        assert.ok(withSinks.some((v, i) => Math.abs(v - without[i]!) > 1e-3), 'the sinks change the output')
        // A sink no score comes near leaves every row bit for bit as without one.
        assert.deepEqual(checkPagedAttention(headDim, MIXED_SEQUENCES, 40, new Float32Array(8).fill(-1e30)), without)
      }
    })

    it('pagedAttention over a long context (enough K/V to split over the pool)', () => {
      useThisPath()
      checkPagedAttention(64, LONG_DECODES, 200)
    })
  })
}

describe('huge-page buffers', () => {
  it('start zeroed and never overlap, small ones (shared slabs) and large alike', () => {
    // Under 2 MB a buffer is cut from a shared slab; 20 of 1.9 MB run past the first slab into the next.
    const lengths = [1, 3, 1000, 100_000, 262_144, 600_000, ...Array.from({length: 20}, () => 475_000), 7]
    const arrays = lengths.map((length) => ops.hugeFloat32Array(length))
    arrays.forEach((array, i) => {
      assert.equal(array.length, lengths[i])
      assert.ok(array.every((v) => v === 0), `buffer ${i} starts zeroed`)
      array.fill(i + 1)
    })
    arrays.forEach((array, i) => assert.ok(array.every((v) => v === i + 1), `buffer ${i} kept its own values`))
  })
})

describe('weight conversion', () => {
  it('decodes F16 (normals, subnormals, inf, NaN) and BF16 bit patterns exactly', () => {
    const f16 = Uint16Array.from({length: 65536}, (_, i) => i)
    const asF32 = ops.convert(f16, 'F16')
    for (let i = 0; i < 65536; i++) {
      const expected = f16BitsToFloat32(i)
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(asF32[i]), `f16 ${i}`)
      else assert.equal(asF32[i], expected, `f16 bits ${i.toString(16)}`)
    }
    const bf16 = Uint16Array.from({length: 65536}, (_, i) => i)
    const fromBf16 = ops.convert(bf16, 'BF16')
    for (let i = 0; i < 65536; i++) {
      const expected = bf16BitsToFloat32(i)
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(fromBf16[i]))
      else assert.equal(fromBf16[i], expected, `bf16 bits ${i.toString(16)}`)
    }
  })

  it('rounds fp32 to f16/bf16 storage to nearest even, like PyTorch', () => {
    const values = Float32Array.from([...randomArray(200, 10, 70000), 1e-7, -3e-6, 5.96e-8, 2.98e-8, 65519, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11])
    for (const [format, encode, decode] of [['f16', float32ToF16Bits, f16BitsToFloat32], ['bf16', float32ToBf16Bits, bf16BitsToFloat32]] as const) {
      // A [n, 1] matrix times x = [1] reads each stored weight back alone (no 0 * inf from overflowed neighbours).
      const stored = new ops.LinearWeights(values, 'F32', values.length, 1, format).run(Float32Array.of(1), 1)
      for (let i = 0; i < values.length; i++) assert.equal(stored[i], decode(encode(values[i])), `${format} of ${values[i]}`)
    }
  })
})

describe('reshapeAndCache', () => {
  it('writes each row to its slot and skips -1', () => {
    const kvHeads = 2, headDim = 4, blockSize = 4, numBlocks = 3, rowStride = 11
    const slotFloats = kvHeads * headDim
    const keyCache = new Float32Array(numBlocks * blockSize * slotFloats), valueCache = new Float32Array(keyCache.length)
    const key = randomArray(3 * rowStride, 11), value = randomArray(3 * rowStride, 12)
    const slots = Int32Array.from([9, -1, 2])
    ops.reshapeAndCache(key, value, rowStride, keyCache, valueCache, slots, kvHeads, headDim, blockSize)
    for (const [row, slot] of [[0, 9], [2, 2]]) {
      assert.deepEqual(keyCache.subarray(slot * slotFloats, (slot + 1) * slotFloats), key.subarray(row * rowStride, row * rowStride + slotFloats))
      assert.deepEqual(valueCache.subarray(slot * slotFloats, (slot + 1) * slotFloats), value.subarray(row * rowStride, row * rowStride + slotFloats))
    }
    const written = keyCache.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0)
    assert.equal(written, 2 * slotFloats)
  })
})

function storedAs(format: 'f32' | 'bf16' | 'f16'): (v: number) => number {
  if (format === 'bf16') return (v) => bf16BitsToFloat32(float32ToBf16Bits(v))
  if (format === 'f16') return (v) => f16BitsToFloat32(float32ToF16Bits(v))
  return (v) => v
}

/** transformers' default and llama3 inverse frequencies, computed independently of the native code. */
function ropeInvFreqReference(headDim: number, theta: number, scaling: ModelConfig['ropeScaling']): number[] {
  const base = Array.from({length: headDim / 2}, (_, i) => 1 / theta ** ((2 * i) / headDim))
  if (scaling.type === 'linear') return base.map((f) => f / scaling.factor)
  if (scaling.type !== 'llama3') return base
  const lowWavelen = scaling.originalMaxPosition / scaling.lowFreqFactor
  const highWavelen = scaling.originalMaxPosition / scaling.highFreqFactor
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f
    if (wavelen < highWavelen) return f
    if (wavelen > lowWavelen) return f / scaling.factor
    const smooth = (scaling.originalMaxPosition / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor)
    return ((1 - smooth) * f) / scaling.factor + smooth * f
  })
}

interface AttentionSeq {
  /** Position of the first query row; earlier tokens are cached context. */
  start: number
  rows: number
  blocks: number[]
}

/** A 21-row prefill chunk after 11 cached tokens, a 1-token decode at position 40, and a whole 3-token prompt. */
const MIXED_SEQUENCES: AttentionSeq[] = [
  {start: 11, rows: 21, blocks: [37, 2, 19, 5, 30, 11, 24, 8]},
  {start: 40, rows: 1, blocks: [1, 3, 6, 9, 12, 15, 18, 21, 23, 26, 29]},
  {start: 0, rows: 3, blocks: [39]},
]
/** Twelve decode rows at assorted positions, each sequence on its own scattered blocks. */
const MANY_DECODES: AttentionSeq[] = Array.from({length: 12}, (_, i) => ({
  start: 3 * i + 2, rows: 1, blocks: Array.from({length: Math.floor((3 * i + 2) / 4) + 1}, (_, j) => (i * 11 + j * 3) % 40),
}))

/** Two decode rows 600 and 500 tokens in (about 1 MB of K/V at head_dim 64): the paged_attention call splits its items over the pool. */
const LONG_DECODES: AttentionSeq[] = [
  {start: 599, rows: 1, blocks: Array.from({length: 150}, (_, j) => (j * 7) % 200)},
  {start: 499, rows: 1, blocks: Array.from({length: 125}, (_, j) => (j * 13 + 5) % 200)},
]

/**
 * Blocks are scattered through the pool (and may be shared between sequences, as prefix caching does). Each row
 * must equal causal attention over the same tokens laid out contiguously.
 */
function checkPagedAttention(headDim: number, seqs: AttentionSeq[], numBlocks = 40, sinks?: Float32Array): Float32Array {
  const heads = 8, kvHeads = 2, blockSize = 4, group = heads / kvHeads
  const slotFloats = kvHeads * headDim
  const keyCache = randomArray(numBlocks * blockSize * slotFloats, 13), valueCache = randomArray(keyCache.length, 14)
  const maxBlocksPerSeq = Math.max(...seqs.map((s) => s.blocks.length))
  const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq).fill(-1)
  seqs.forEach((s, i) => blockTables.set(s.blocks, i * maxBlocksPerSeq))
  const queryStartLoc = Int32Array.from([0, ...seqs.map((_, i) => seqs.slice(0, i + 1).reduce((n, s) => n + s.rows, 0))])
  const positions = Int32Array.from(seqs.flatMap((s) => Array.from({length: s.rows}, (_, r) => s.start + r)))
  const numTokens = positions.length, qStride = heads * headDim + 3
  const query = randomArray(numTokens * qStride, 15, 2)
  const scale = 1 / Math.sqrt(headDim)
  const actual = ops.pagedAttention(query, qStride, keyCache, valueCache, {queryStartLoc, positions, blockTables, maxBlocksPerSeq, ...(sinks ? {sinks} : {})},
    heads, kvHeads, headDim, blockSize, scale)
  const expected = new Float64Array(numTokens * heads * headDim)
  seqs.forEach((s, seq) => {
    const slotOf = (token: number) => s.blocks[Math.floor(token / blockSize)] * blockSize + (token % blockSize)
    for (let t = queryStartLoc[seq]; t < queryStartLoc[seq + 1]; t++) {
      for (let h = 0; h < heads; h++) {
        const kvHead = Math.floor(h / group)
        const scores = Array.from({length: positions[t] + 1}, (_, j) => {
          let dot = 0
          for (let d = 0; d < headDim; d++) dot += query[t * qStride + h * headDim + d] * keyCache[slotOf(j) * slotFloats + kvHead * headDim + d]
          return dot * scale
        })
        // A sink (GPT-OSS) is one more logit in the softmax whose value is dropped: transformers' cat([scores, sink]).
        const max = Math.max(...scores, sinks ? sinks[h]! : -Infinity)
        const weights = scores.map((v) => Math.exp(v - max))
        const total = weights.reduce((a, b) => a + b, 0) + (sinks ? Math.exp(sinks[h]! - max) : 0)
        for (let d = 0; d < headDim; d++) {
          let sum = 0
          weights.forEach((w, j) => (sum += w * valueCache[slotOf(j) * slotFloats + kvHead * headDim + d]))
          expected[t * heads * headDim + h * headDim + d] = sum / total
        }
      }
    }
  })
  assertClose(actual, expected, 2e-5, 'pagedAttention')
  return actual
}

// ---- the model object ----

const TINY: ModelConfig = {
  architecture: 'LlamaForCausalLM', modelType: 'llama', vocabSize: 97, hiddenSize: 32, intermediateSize: 48, numLayers: 2,
  numHeads: 4, numKvHeads: 2, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: {type: 'none'},
  tieWordEmbeddings: false, attentionBias: true, qkNorm: false, hiddenAct: 'silu', normWeightOffset: 0, embeddingScale: 1, fusedProjections: false,
  sandwichNorms: false, attentionScale: 0, attnLogitSoftcap: 0, finalLogitSoftcap: 0,
  maxPositionEmbeddings: 256, bosTokenId: null, eosTokenIds: [], torchDtype: 'float32',
}

function tinyTensorShapes(config: ModelConfig, withLmHead: boolean): {name: string; shape: number[]}[] {
  const {hiddenSize: h, intermediateSize: i, numHeads, numKvHeads, headDim} = config
  const shapes = [{name: 'model.embed_tokens.weight', shape: [config.vocabSize, h]}, {name: 'model.norm.weight', shape: [h]}]
  if (withLmHead) shapes.push({name: 'lm_head.weight', shape: [config.vocabSize, h]})
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`
    shapes.push(
      {name: p + 'input_layernorm.weight', shape: [h]}, {name: p + 'post_attention_layernorm.weight', shape: [h]},
      {name: p + 'self_attn.q_proj.weight', shape: [numHeads * headDim, h]}, {name: p + 'self_attn.k_proj.weight', shape: [numKvHeads * headDim, h]},
      {name: p + 'self_attn.v_proj.weight', shape: [numKvHeads * headDim, h]}, {name: p + 'self_attn.o_proj.weight', shape: [h, numHeads * headDim]},
      {name: p + 'mlp.gate_proj.weight', shape: [i, h]}, {name: p + 'mlp.up_proj.weight', shape: [i, h]}, {name: p + 'mlp.down_proj.weight', shape: [h, i]},
    )
    if (config.attentionBias) {
      shapes.push({name: p + 'self_attn.q_proj.bias', shape: [numHeads * headDim]}, {name: p + 'self_attn.k_proj.bias', shape: [numKvHeads * headDim]},
        {name: p + 'self_attn.v_proj.bias', shape: [numKvHeads * headDim]})
    }
  }
  return shapes
}

const CACHE_DIR = fileURLToPath(new URL('../.cache/', import.meta.url))
mkdirSync(CACHE_DIR, {recursive: true})
const scratchDir = mkdtempSync(join(CACHE_DIR, 'native-kernels-'))
after(() => rmSync(scratchDir, {recursive: true, force: true}))

/** Writes a seeded tiny checkpoint; `overrides` replaces tensors by name (values or a wrong shape), `omit` drops some. */
function writeTinyCheckpoint(name: string, opts: {dtype?: TensorDtype; withLmHead?: boolean; omit?: string[]; shapes?: Record<string, number[]>} = {}) {
  const path = join(scratchDir, name + '.safetensors')
  const shapes = tinyTensorShapes(TINY, opts.withLmHead ?? true).filter((t) => !(opts.omit ?? []).includes(t.name))
  writeSafetensors(path, shapes.map((t, index) => {
    const shape = opts.shapes?.[t.name] ?? t.shape
    const count = shape.reduce((a, b) => a * b, 1)
    const isNorm = t.name.endsWith('norm.weight')
    const values = isNorm ? randomArray(count, 100 + index, 0.2).map((v) => 1 + v) : randomArray(count, 100 + index, 0.35)
    return {name: t.name, dtype: opts.dtype ?? 'F32', shape, data: () => encodeFloats(values, opts.dtype ?? 'F32')}
  }))
  return readSafetensorsHeader(path)
}

const BLOCK_SIZE = 4

async function loadTiny(tensors = writeTinyCheckpoint('base'), config = TINY, weightFormat: 'f32' | 'bf16' | 'f16' = 'f32') {
  return loadNativeModel({config, tensors, numBlocks: 16, blockSize: BLOCK_SIZE, numSwapBlocks: 4, weightFormat, threads: 2, device: 'cpu'})
}

/** A batch for one or more sequences given as (token ids of this step, first position, block table). */
function batchOf(seqs: {tokens: number[]; start: number; blocks: number[]}[], logitsRows: 'last' | 'all'): ForwardBatchArrays {
  const maxBlocksPerSeq = Math.max(0, ...seqs.map((s) => s.blocks.length))
  const tokenIds: number[] = [], positions: number[] = [], slots: number[] = [], starts = [0], logits: number[] = []
  const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq)
  seqs.forEach((s, i) => {
    blockTables.set(s.blocks, i * maxBlocksPerSeq)
    s.tokens.forEach((token, r) => {
      const position = s.start + r
      if (logitsRows === 'all' || r === s.tokens.length - 1) logits.push(tokenIds.length)
      tokenIds.push(token)
      positions.push(position)
      slots.push(s.blocks[Math.floor(position / BLOCK_SIZE)] * BLOCK_SIZE + (position % BLOCK_SIZE))
    })
    starts.push(tokenIds.length)
  })
  return {
    tokenIds: Int32Array.from(tokenIds), positions: Int32Array.from(positions), slotMapping: Int32Array.from(slots),
    queryStartLoc: Int32Array.from(starts), contextLens: Int32Array.from(seqs.map((s) => s.start + s.tokens.length)),
    blockTables, maxBlocksPerSeq, logitsIndices: Int32Array.from(logits),
  }
}

const PROMPT = [5, 17, 96, 3, 44, 44, 0, 61, 12, 7, 88]

describe('NativeModel', () => {
  it('reports its shape and sizes', async () => {
    const model = await loadTiny()
    assert.equal(model.info.backend, 'cpu')
    assert.equal(model.info.vocabSize, 97)
    assert.equal(model.info.threads, 2)
    assert.equal(model.info.kvBytesPerBlock, kvBytesPerBlock(TINY, BLOCK_SIZE))
    model.close()
  })

  it('gives the same logits for one prefill, a chunked prefill mixed with another sequence, and decode steps', async () => {
    const model = await loadTiny()
    const vocab = TINY.vocabSize
    const whole = await model.step({}, batchOf([{tokens: PROMPT, start: 0, blocks: [3, 9, 14]}], 'all'))
    assert.equal(whole.length, PROMPT.length * vocab)
    // Same prompt, different physical blocks: first 6 tokens, then 4 more beside an unrelated sequence, then one decode.
    const blocks = [7, 0, 12]
    const first = await model.step({}, batchOf([{tokens: PROMPT.slice(0, 6), start: 0, blocks}], 'all'))
    const mixed = await model.step({}, batchOf([
      {tokens: [1, 2, 3], start: 0, blocks: [5]},
      {tokens: PROMPT.slice(6, 10), start: 6, blocks},
    ], 'all'))
    const last = await model.step({}, batchOf([{tokens: PROMPT.slice(10), start: 10, blocks}], 'all'))
    const pieced = new Float32Array(whole.length)
    pieced.set(first, 0)
    pieced.set(mixed.subarray(3 * vocab), 6 * vocab)
    pieced.set(last, 10 * vocab)
    assertClose(pieced, whole, 1e-4, 'chunked logits')
    // The other sequence's rows depend only on its own tokens.
    const alone = await model.step({}, batchOf([{tokens: [1, 2, 3], start: 0, blocks: [15]}], 'all'))
    assertClose(mixed.subarray(0, 3 * vocab), alone, 1e-4, 'neighbour logits')
    model.close()
  })

  it('copies, swaps out and swaps in KV blocks across all layers', async () => {
    const model = await loadTiny()
    await model.step({}, batchOf([{tokens: PROMPT.slice(0, 8), start: 0, blocks: [2, 6]}], 'last'))
    const original = [0, 1].map((layer) => model.readKvBlock(layer, 6))
    assert.ok(original[0].k.some((v) => v !== 0), 'the prefill wrote block 6')
    await model.step({copies: Int32Array.from([6, 10]), swapOut: Int32Array.from([2, 3])}, batchOf([], 'last'))
    for (const layer of [0, 1]) {
      assert.deepEqual(model.readKvBlock(layer, 10), original[layer], 'copy')
      assert.deepEqual(model.readKvBlock(layer, 3, true).k, model.readKvBlock(layer, 2).k, 'swap out')
    }
    const swapped = model.readKvBlock(1, 3, true)
    await model.step({swapIn: Int32Array.from([3, 11])}, batchOf([], 'last'))
    assert.deepEqual(model.readKvBlock(1, 11), swapped, 'swap in')
    // A sequence restored from the swapped copy continues exactly like the original.
    const fromOriginal = await model.step({}, batchOf([{tokens: [9], start: 8, blocks: [2, 6, 13]}], 'last'))
    const fromRestored = await model.step({}, batchOf([{tokens: [9], start: 8, blocks: [11, 10, 14]}], 'last'))
    assert.deepEqual(fromRestored, fromOriginal)
    model.close()
  })

  it('uses embed_tokens as the LM head when lm_head.weight is absent', async () => {
    const tied = {...TINY, tieWordEmbeddings: true}
    const tiedModel = await loadTiny(writeTinyCheckpoint('tied', {withLmHead: false}), tied)
    const logits = await tiedModel.step({}, batchOf([{tokens: [4, 8], start: 0, blocks: [0]}], 'last'))
    // The final hidden state dotted with the embedding of each token: compare against the untied model whose
    // lm_head holds exactly the embedding values.
    const tensors = writeTinyCheckpoint('tied', {withLmHead: false})
    const embed = tensors.find((t) => t.name === 'model.embed_tokens.weight')!
    const untiedModel = await loadTiny([...tensors, {...embed, name: 'lm_head.weight'}], TINY)
    assert.deepEqual(await untiedModel.step({}, batchOf([{tokens: [4, 8], start: 0, blocks: [0]}], 'last')), logits)
    tiedModel.close()
    untiedModel.close()
  })

  it('runs bf16 and f16 checkpoints and weight formats close to f32', async () => {
    const reference = await loadTiny(writeTinyCheckpoint('bf16', {dtype: 'BF16'}), TINY, 'f32')
    const expected = await reference.step({}, batchOf([{tokens: PROMPT, start: 0, blocks: [0, 1, 2]}], 'last'))
    reference.close()
    const asBf16 = await loadTiny(writeTinyCheckpoint('bf16', {dtype: 'BF16'}), TINY, 'bf16')
    assertClose(await asBf16.step({}, batchOf([{tokens: PROMPT, start: 0, blocks: [0, 1, 2]}], 'last')), expected, 1e-4, 'bf16 storage of bf16 weights')
    asBf16.close()
    const asF16 = await loadTiny(writeTinyCheckpoint('bf16', {dtype: 'BF16'}), TINY, 'f16')
    assertClose(await asF16.step({}, batchOf([{tokens: PROMPT, start: 0, blocks: [0, 1, 2]}], 'last')), expected, 2e-2, 'f16 storage')
    asF16.close()
  })

  it('names the tensor on a missing tensor or a wrong shape', async () => {
    await assert.rejects(loadTiny(writeTinyCheckpoint('missing', {omit: ['model.layers.1.mlp.up_proj.weight']})),
      /missing tensor model\.layers\.1\.mlp\.up_proj\.weight \(expected shape \[48, 32\]\)/)
    await assert.rejects(loadTiny(writeTinyCheckpoint('shape', {shapes: {'model.layers.0.self_attn.k_proj.weight': [8, 32]}})),
      /tensor model\.layers\.0\.self_attn\.k_proj\.weight has shape \[8, 32\], expected \[16, 32\]/)
    await assert.rejects(loadTiny(writeTinyCheckpoint('untied', {withLmHead: false})), /missing tensor lm_head\.weight/)
  })

  it('rejects batches that point outside the pool instead of corrupting memory', async () => {
    const model = await loadTiny()
    await assert.rejects(model.step({}, batchOf([{tokens: [1], start: 0, blocks: [16]}], 'last')), /outside the KV pool|outside the pool/)
    await assert.rejects(model.step({}, batchOf([{tokens: [97], start: 0, blocks: [0]}], 'last')), /outside the vocabulary/)
    await assert.rejects(model.step({copies: Int32Array.from([0, 99])}, batchOf([], 'last')), /copies pair 0/)
    model.close()
    assert.throws(() => model.readKvBlock(0, 0), /closed/)
  })

  it('takes a released block (-1) only behind the widest window of every sliding layer, and never without windows', async () => {
    // Windows of 3 and 4 on the two layers: the row at 12 sees 9..12, so blocks 0 and 1 (0..7) are never read.
    const windowed = await loadTiny(writeTinyCheckpoint('base'), {...TINY, layerWindows: [3, 4]})
    const decodeAt12 = (blocks: number[]) => batchOf([{tokens: [1], start: 12, blocks}], 'last')
    assert.equal((await windowed.step({}, decodeAt12([-1, -1, 2, 3]))).length, TINY.vocabSize)
    await assert.rejects(windowed.step({}, decodeAt12([-1, -1, -1, 3])), /outside the pool/)
    windowed.close()
    const partly = await loadTiny(writeTinyCheckpoint('base'), {...TINY, layerWindows: [4, 0]})
    await assert.rejects(partly.step({}, decodeAt12([-1, 1, 2, 3])), /outside the pool/)
    partly.close()
  })

  it('refuses device cuda clearly when it is not available', async () => {
    await assert.rejects(loadNativeModel({config: TINY, tensors: [], numBlocks: 1, blockSize: 4, numSwapBlocks: 0, weightFormat: 'f32', threads: 1, device: 'cuda'}),
      /cuda/i)
  })
})
