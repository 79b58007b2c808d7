// Side-by-side read rate of the native linear kernel in several addon builds (e.g. a copy of native/build/Release
// from before a change, and the current one), same weights and inputs, runs interleaved so load noise hits all alike.
// --batch-invariant adds a column per build for LinearOrder::kBatchInvariant (what --batch-invariant costs at this size).
// Usage: npx tsx scripts/bench-linear-builds.ts [--rows 1] [--shapes 32000x768,4096x4096] [--formats f16,bf16,f32]
//          [--reps 31] [--batch-invariant] OLD/pagedllm.node native/build/Release/pagedllm.node
// A --formats entry FORMAT:ROWS+FORMAT:ROWS is a stacked matrix (builds since issue 15's Q4_K_M fix only).
import {createRequire} from 'node:module'
import {resolve} from 'node:path'
import {parseArgs} from 'node:util'
import type {NativeOps, QuantizedFormat, WeightFormat} from '../src/engine/native.js'

const {values, positionals} = parseArgs({allowPositionals: true, options: {
  rows: {type: 'string', default: '1'}, shapes: {type: 'string', default: '32000x768,4096x4096,11008x4096'},
  formats: {type: 'string', default: 'f16,bf16,f32'}, reps: {type: 'string', default: '31'},
  'batch-invariant': {type: 'boolean', default: false},
}})
if (positionals.length === 0) throw new Error('name one or more pagedllm.node builds')
const require = createRequire(import.meta.url)
const orders = values['batch-invariant'] ? [false, true] : [false]
const builds = positionals.flatMap((path) => {
  const ops = (require(resolve(path)) as {ops: NativeOps}).ops
  return orders.map((invariant) => ({path: invariant ? `${path} (batch-invariant)` : path, ops, invariant}))
})
for (const {ops} of builds) ops.setThreads(1)
const rows = Number(values.rows), reps = Number(values.reps)

/** A format, or a stacked matrix's row blocks as FORMAT:ROWS+FORMAT:ROWS (e.g. q4_k:1024+q6_k:256, Q4_K_M's q/k/v). */
function parseFormat(spec: string): WeightFormat | [QuantizedFormat, number][] {
  if (!spec.includes(':')) return spec as WeightFormat
  return spec.split('+').map((block) => {
    const [format, rows] = block.split(':')
    return [format as QuantizedFormat, Number(rows)]
  })
}

for (const formatSpec of values.formats.split(',')) {
  const format = parseFormat(formatSpec)
  for (const [n, k] of values.shapes.split(',').map((s) => s.split('x').map(Number))) {
    const weight = Float32Array.from({length: n * k}, (_, i) => Math.sin(i) * 0.1)
    const x = Float32Array.from({length: rows * k}, (_, i) => Math.cos(i))
    const linears = builds.map(({ops}) => new ops.LinearWeights(weight, 'F32', n, k, format))
    for (const [b, linear] of linears.entries()) linear.run(x, rows, undefined, builds[b].invariant)
    const seconds: number[][] = linears.map(() => [])
    for (let rep = 0; rep < reps; rep++) {
      linears.forEach((linear, b) => {
        const start = process.hrtime.bigint()
        linear.run(x, rows, undefined, builds[b].invariant)
        seconds[b].push(Number(process.hrtime.bigint() - start) / 1e9)
      })
    }
    const bytes = linears[0].bytes
    const cells = seconds.map((s, b) => {
      s.sort((p, q) => p - q)
      const median = s[Math.floor(s.length / 2)]
      return `${builds[b].path}: ${(bytes / median / 1e9).toFixed(1)} GB/s median, ${(bytes / s[0] / 1e9).toFixed(1)} best, ` +
        `${(2 * rows * n * k / median / 1e9).toFixed(1)} GFLOP/s`
    })
    console.log(`${formatSpec} ${rows}x${k} * ${k}x${n} (${(bytes / 2 ** 20).toFixed(0)} MB): ${cells.join(' | ')}`)
  }
}
