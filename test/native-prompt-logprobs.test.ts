// ops.promptLogprobs (native/cpu/prompt_logprobs.cpp, what the engine ranks prompt rows with) against the JS reference:
// the same float ops, so logprobs, ranks and top lists must be equal bit for bit, ties, -inf rows and threads included.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {nativeOps} from '../src/engine/native.js'
import {makeRng} from '../src/engine/random.js'
import {promptTokenLogprobs, rankInRow} from './support/prompt-logprobs-reference.js'
import {modelLikeLogits} from './support/sample-requests.js'

const ops = nativeOps()
const avx2 = ops.avx2Status()
after(() => ops.setAvx2(avx2.enabled))

interface Asked {
  rows: number[]
  tokenIds: number[]
  topNs: number[]
}

async function assertMatchesReference(logits: Float32Array, vocab: number, asked: Asked, threads?: number): Promise<void> {
  const arrays = {rows: Int32Array.from(asked.rows), tokenIds: Int32Array.from(asked.tokenIds), topNs: Int32Array.from(asked.topNs)}
  const ranked = await ops.promptLogprobs(logits, vocab, arrays, threads)
  assert.equal(ranked.topStride, Math.max(...asked.topNs) + 1)
  asked.rows.forEach((row, i) => {
    const tokenId = asked.tokenIds[i]!
    const where = `entry ${i} (row ${row}, token ${tokenId}, top ${asked.topNs[i]})`
    const want = [...promptTokenLogprobs(logits, row, vocab, tokenId, asked.topNs[i]!)]
    const base = i * ranked.topStride
    const got = Array.from({length: ranked.topCounts[i]!}, (_, j) => [ranked.topIds[base + j]!, ranked.topLogprobs[base + j]!])
    assert.deepEqual(got, want, where)
    assert.equal(ranked.logprobs[i], want.find(([id]) => id === tokenId)![1], where)
    assert.equal(ranked.ranks[i], rankInRow(logits, row, vocab, tokenId), where)
  })
}

/** Every row asked once per top N, each with a random next token. */
function everyRow(numRows: number, vocab: number, topNs: number[], seed: number): Asked {
  const rng = makeRng(seed, 1)
  const asked: Asked = {rows: [], tokenIds: [], topNs: []}
  for (let row = 0; row < numRows; row++) {
    for (const topN of topNs) {
      asked.rows.push(row)
      asked.tokenIds.push(Math.floor(rng.nextFloat() * vocab))
      asked.topNs.push(topN)
    }
  }
  return asked
}

describe('native prompt logprobs', () => {
  it('equals the JS reference on 32k rows for N = 0, 1, 5 and 20, with and without AVX2', async () => {
    const vocab = 32000
    const logits = modelLikeLogits(4, vocab, 3)
    const asked = everyRow(4, vocab, [0, 1, 5, 20], 4)
    // The top token of a row too: it is its own top-1 entry and ranks 1.
    asked.rows.push(0)
    asked.tokenIds.push(ops.rowStats(logits.subarray(0, vocab), 1, vocab)[1]!)
    asked.topNs.push(20)
    for (const enabled of avx2.enabled ? [true, false] : [false]) {
      ops.setAvx2(enabled)
      await assertMatchesReference(logits, vocab, asked)
    }
    ops.setAvx2(avx2.enabled)
  })

  it('equals it on 152k-like rows', async () => {
    const vocab = 151936
    await assertMatchesReference(modelLikeLogits(2, vocab, 5), vocab, everyRow(2, vocab, [0, 20], 6))
  })

  it('counts ties against the token and lists tied tokens lowest id first', async () => {
    const vocab = 1000
    const logits = new Float32Array(2 * vocab)
    for (let i = 0; i < vocab; i++) logits[i] = i % 7 === 0 ? 3 : i % 3 === 0 ? 1 : -2 // ties at every level
    logits.fill(0.5, vocab) // a flat row: every token ranks vocab
    await assertMatchesReference(logits, vocab, {rows: [0, 0, 0, 1, 1], tokenIds: [7, 3, 1, 0, 999], topNs: [20, 20, 0, 20, 3]})
    const ranked = await ops.promptLogprobs(logits, vocab, {rows: Int32Array.of(0, 1), tokenIds: Int32Array.of(700, 0), topNs: Int32Array.of(2, 2)})
    assert.deepEqual([...ranked.ranks], [143, vocab])
    assert.deepEqual([...ranked.topIds.subarray(0, 2)], [0, 7])
  })

  it('handles -inf logits (logit_bias / masks): a -inf token ranks last, -inf entries fill a top N past the finite ones', async () => {
    const vocab = 64
    const logits = new Float32Array(2 * vocab).fill(-Infinity)
    logits.set([2, 1, 1, 0], 10)
    logits.fill(0.25, vocab) // row 1: finite except a few
    logits[vocab + 5] = -Infinity
    logits[vocab + 9] = -Infinity
    await assertMatchesReference(logits, vocab, {rows: [0, 0, 0, 1, 1], tokenIds: [11, 0, 13, 5, 6], topNs: [20, 20, 0, 20, 20]})
    const ranked = await ops.promptLogprobs(logits, vocab, {rows: Int32Array.of(0), tokenIds: Int32Array.of(0), topNs: Int32Array.of(0)})
    assert.equal(ranked.ranks[0], vocab)
    assert.equal(ranked.logprobs[0], -Infinity)
  })

  it('leaves NaN logits out of the top N, as the reference does (a broken model\'s row)', async () => {
    const vocab = 50
    const logits = Float32Array.from({length: vocab}, (_, i) => (i % 4 === 0 ? NaN : Math.sin(i)))
    await assertMatchesReference(logits, vocab, {rows: [0, 0, 0], tokenIds: [1, 0, 2], topNs: [20, 20, 0]})
  })

  it('equals it when the rows are split among threads', async () => {
    const vocab = 32000
    const numRows = 160 // 5.1M logits: two threads' shares and more
    const logits = modelLikeLogits(numRows, vocab, 7)
    await assertMatchesReference(logits, vocab, everyRow(numRows, vocab, [2], 8), 3)
  })

  it('refuses rows, tokens and top Ns out of range, naming them', () => {
    const logits = new Float32Array(2 * 10)
    const ask = (rows: number[], tokenIds: number[], topNs: number[]) => () =>
      ops.promptLogprobs(logits, 10, {rows: Int32Array.from(rows), tokenIds: Int32Array.from(tokenIds), topNs: Int32Array.from(topNs)})
    assert.throws(ask([2], [0], [0]), /row 2 is outside the 2 rows/)
    assert.throws(ask([0], [10], [0]), /token id 10 is outside the vocabulary of 10/)
    assert.throws(ask([0], [0], [-1]), /topN -1 must be in \[0, vocabSize\]/)
    assert.throws(ask([0, 1], [0], [0, 0]), /tokenIds/)
    assert.throws(() => ops.promptLogprobs(logits, 3, {rows: Int32Array.of(0), tokenIds: Int32Array.of(0), topNs: Int32Array.of(0)}), /not whole rows of 3/)
    assert.throws(() => ops.promptLogprobs(logits, 10, {rows: Int32Array.of(0), tokenIds: Int32Array.of(0), topNs: Int32Array.of(0)}, 0), /threads must be a number >= 1/)
  })
})
