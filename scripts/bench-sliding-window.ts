// Paged attention of one layer with and without a sliding window, side by side: decode rows deep in a long context
// (a windowed row reads only the blocks of its window) and a prefill chunk there, on the CPU kernels.
// Usage: npx tsx scripts/bench-sliding-window.ts [--threads 2] [--context 4096] [--window 1024] [--repeats 20]
import {parseArgs} from 'node:util'
import {nativeOps} from '../src/engine/native.js'

const {values: args} = parseArgs({options: {
  threads: {type: 'string', default: '2'}, context: {type: 'string', default: '4096'}, window: {type: 'string', default: '1024'},
  repeats: {type: 'string', default: '20'},
}})
const [context, window, repeats] = [Number(args.context), Number(args.window), Number(args.repeats)]
// Mistral-7B's attention shape: 32 query heads over 8 KV heads of 128.
const heads = 32, kvHeads = 8, headDim = 128, blockSize = 16
const ops = nativeOps()
ops.setThreads(Number(args.threads))

function randomFloats(n: number, seed: number): Float32Array {
  return Float32Array.from({length: n}, (_, i) => Math.sin(i * 0.61 + seed) * 0.5)
}

/** Median microseconds of one pagedAttention call for `seqs` sequences of `rows` query rows ending at position context - 1. */
function time(seqs: number, rows: number, slidingWindow: number): number {
  const blocksPerSeq = Math.ceil(context / blockSize)
  const keyCache = ops.hugeFloat32Array(seqs * blocksPerSeq * blockSize * kvHeads * headDim)
  const valueCache = ops.hugeFloat32Array(keyCache.length)
  keyCache.set(randomFloats(keyCache.length, 1))
  valueCache.set(randomFloats(valueCache.length, 2))
  const blockTables = Int32Array.from({length: seqs * blocksPerSeq}, (_, i) => (i * 7919) % (seqs * blocksPerSeq))
  const queryStartLoc = Int32Array.from({length: seqs + 1}, (_, i) => i * rows)
  const positions = Int32Array.from({length: seqs * rows}, (_, t) => context - rows + (t % rows))
  const query = randomFloats(seqs * rows * heads * headDim, 3)
  const out = new Float32Array(query.length)
  const batch = {queryStartLoc, positions, blockTables, maxBlocksPerSeq: blocksPerSeq, slidingWindow}
  const times: number[] = []
  for (let i = 0; i < repeats + 2; i++) {
    const started = performance.now()
    ops.pagedAttention(query, heads * headDim, keyCache, valueCache, batch, heads, kvHeads, headDim, blockSize, 1 / Math.sqrt(headDim), out)
    if (i >= 2) times.push((performance.now() - started) * 1000)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!
}

console.log(`paged attention, one layer, ${heads}/${kvHeads} heads of ${headDim}, blocks of ${blockSize}, context ${context}, ${args.threads} threads (median of ${repeats})`)
for (const [label, seqs, rows] of [['decode, 1 sequence', 1, 1], ['decode, 8 sequences', 8, 1], ['prefill chunk of 256 rows', 1, 256]] as const) {
  const full = time(seqs, rows, 0)
  const windowed = time(seqs, rows, window)
  console.log(`${label.padEnd(26)} full ${full.toFixed(0).padStart(7)} us   window ${window}: ${windowed.toFixed(0).padStart(7)} us   (${(full / windowed).toFixed(2)}x)`)
}
