// Batch-1 decode read rate of every linear layer of a model plus its LM head (bench kernels' "linear (all layers + LM
// head)" row) in several addon builds side by side, passes interleaved so the shared machine's load hits all alike,
// against the read ceiling measured in the same run. Shape: the bench preset (hidden 512, 8 layers, GQA 8/4, 1536).
// Usage: npx tsx scripts/bench-decode-builds.ts [--formats f16,q8_0] [--threads 2] [--rounds 15]
//          OLD/pagedllm.node native/build/Release/pagedllm.node
import {createRequire} from 'node:module'
import {resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {DEFAULT_KERNEL_BENCH, measureCeilings, randomFloats} from '../src/bench/micro/kernels.js'
import type {NativeLinearWeights, NativeOps, WeightFormat} from '../src/engine/native.js'

const {values, positionals} = parseArgs({allowPositionals: true, options: {
  formats: {type: 'string', default: 'f16,q8_0'}, threads: {type: 'string', default: '2'}, rounds: {type: 'string', default: '15'},
}})
if (positionals.length === 0) throw new Error('name one or more pagedllm.node builds')
const require = createRequire(import.meta.url)
const builds = positionals.map((path) => ({path, ops: (require(resolve(path)) as {ops: NativeOps}).ops}))
const threads = Number(values.threads), rounds = Number(values.rounds)
for (const {ops} of builds) ops.setThreads(threads)
const o = DEFAULT_KERNEL_BENCH
const headDim = o.hiddenSize / o.numHeads
const qkvRows = (o.numHeads + 2 * o.numKvHeads) * headDim


/** [rows, cols] of each matrix a decode step reads, in step order. */
const shapes: [number, number][] = []
for (let l = 0; l < o.numLayers; l++) shapes.push([qkvRows, o.hiddenSize], [o.hiddenSize, o.hiddenSize], [2 * o.intermediateSize, o.hiddenSize], [o.hiddenSize, o.intermediateSize])
shapes.push([o.vocabSize, o.hiddenSize])
const values32 = shapes.map(([rows, cols], i) => randomFloats(rows * cols, i + 1))
const x = randomFloats(2 * o.intermediateSize, 99)
const y = new Float32Array(o.vocabSize)

const ceilings = builds.map(() => 0)
console.log(`bench preset, batch-1 decode, all ${shapes.length} matrices in step order, ${threads} threads, ${rounds} interleaved rounds of 10 passes each`)
for (const format of values.formats!.split(',') as WeightFormat[]) {
  const matrices = builds.map(({ops}) => shapes.map(([rows, cols], i) => new ops.LinearWeights(values32[i], 'F32', rows, cols, format)))
  const bytes = matrices[0].reduce((sum, w) => sum + w.bytes, 0)
  const inputs = shapes.map(([, cols]) => x.subarray(0, cols))
  const outputs = shapes.map(([rows]) => y.subarray(0, rows))
  const pass = (ws: NativeLinearWeights[]) => ws.forEach((w, i) => w.run(inputs[i], 1, outputs[i]))
  const times: number[][] = builds.map(() => [])
  for (let r = 0; r < rounds; r++) {
    builds.forEach((_, b) => {
      for (let i = 0; i < 3; i++) pass(matrices[b])  // warm
      for (let i = 0; i < 10; i++) {
        const started = performance.now()
        pass(matrices[b])
        times[b].push(performance.now() - started)
      }
    })
    // The ceiling in between, so it sees the same load (the larger estimate is the better one: see effectiveCeiling).
    if (r % 5 === 0) builds.forEach(({ops}, b) => (ceilings[b] = Math.max(ceilings[b], measureCeilings(ops, threads).readBytesPerSecond)))
  }
  const ceiling = Math.max(...ceilings)
  console.log(`\n${format}: ${(bytes / 1e6).toFixed(1)} MB per pass; read ceiling ${(ceiling / 1e9).toFixed(1)} GB/s (best of the runs)`)
  console.log('| build | median ms | GB/s | of ceiling | best ms | GB/s | of ceiling |\n|---|---|---|---|---|---|---|')
  builds.forEach(({path}, b) => {
    const sorted = times[b].sort((p, q) => p - q)
    const cells = [sorted[sorted.length >> 1], sorted[0]].flatMap((ms) => [ms.toFixed(3), (bytes / ms / 1e6).toFixed(1), `${((100 * bytes * 1000) / ms / ceiling).toFixed(0)}%`])
    console.log(`| ${path} | ${cells.join(' | ')} |`)
  })
}
