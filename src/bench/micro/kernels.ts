// Times each native CPU kernel at decode (batch 1), batch and prefill shapes of a Llama model, and rates it
// against this machine's measured ceilings (memory bandwidth for weight-streaming work, peak FMA for the rest).
import {Bench} from 'tinybench'
import {nativeOps, type FloatPanels, type NativeLinearWeights, type NativeOps, type VnniKind, type WeightFormat} from '../../engine/native.js'
import {InvalidRequestError} from '../../engine/errors.js'
import {checkKernelBenchOptions} from './kernel-bench-limits.js'
import {modelStepCases} from './model-step.js'

export interface KernelBenchShape {
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  vocabSize: number
}

export interface KernelBenchOptions extends KernelBenchShape {
  threads: number
  weightFormat: WeightFormat
  /** Rows of the batched-decode shape. */
  batch: number
  /** Tokens of the prefill shape. */
  prefillTokens: number
  /** Context length each decode sequence attends over. */
  contextLen: number
  blockSize: number
  /** Minimum measuring time per kernel, ms. */
  timeMs: number
  /** Only kernels whose name contains this text (all when absent). */
  only?: string
  /** Also time whole steps of the generated 'bench' test model (its shape is the default shape). */
  modelStep?: boolean
  /** The quantized prefill kernel's VNNI build ('none': AVX2 maddubs); absent: the best this CPU runs. */
  vnni?: VnniKind
  /** The float prefill panels' build ('avx2': ymm); absent: the widest this CPU runs. */
  floatPanels?: FloatPanels
}

/** ~30M parameters: weights (120 MB in f32) far beyond the 32 MB L3, so batch-1 decode streams from memory. */
export const DEFAULT_KERNEL_BENCH: KernelBenchOptions = {
  hiddenSize: 512, intermediateSize: 1536, numLayers: 8, numHeads: 8, numKvHeads: 4, vocabSize: 32000,
  threads: 0, weightFormat: 'f32', batch: 64, prefillTokens: 256, contextLen: 512, blockSize: 16, timeMs: 300,
}

export interface Ceilings {
  threads: number
  readBytesPerSecond: number
  triadBytesPerSecond: number
  peakFlops: number
}

export interface KernelResult {
  kernel: string
  shape: string
  /** What limits it: bytes from memory, or FMA throughput. */
  bound: 'memory' | 'compute'
  medianMs: number
  bestMs: number
  flops: number
  bytes: number
  /** Median-time rate as a fraction of the ceiling for its bound. */
  fraction: number
  bestFraction: number
  /** CPU time of all threads per call, ms (extra calls after the timed ones): unlike wall time, it survives load. */
  cpuMs: number
}

export interface KernelBenchReport {
  options: KernelBenchOptions
  avx2: boolean
  /** The VNNI build quantized prefill ran ('none': AVX2 maddubs, or AVX2 off), and its label with the vector width. */
  vnni: VnniKind
  /** The build float prefill ran. */
  floatPanels: FloatPanels
  vnniLabel: string
  ceilings: Ceilings[]
  /** What the fractions are taken against (see effectiveCeiling). */
  ceiling: {readBytesPerSecond: number; peakFlops: number}
  results: KernelResult[]
}

/**
 * Other tenants can only make a ceiling run slower, so the larger of two estimates is the better one: bandwidth is
 * the best read figure of any thread count; peak FLOP/s on n threads is the n-thread run or n times the 1-thread run.
 */
export function effectiveCeiling(ceilings: Ceilings[], threads: number): {readBytesPerSecond: number; peakFlops: number} {
  const one = ceilings.find((c) => c.threads === 1)
  return {
    readBytesPerSecond: Math.max(...ceilings.map((c) => c.readBytesPerSecond)),
    peakFlops: Math.max(...ceilings.filter((c) => c.threads === threads).map((c) => c.peakFlops), one ? one.peakFlops * threads : 0),
  }
}

interface KernelCase {
  kernel: string
  shape: string
  bound: 'memory' | 'compute'
  flops: number
  bytes: number
  run: () => unknown
}

/** Fast seeded uniform values in [-scale, scale) (Math.random for 30M weights is slow and unseeded). */
export function randomFloats(length: number, seed: number, scale = 0.05): Float32Array {
  const out = new Float32Array(length)
  let state = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    out[i] = ((state >>> 0) / 2 ** 32 * 2 - 1) * scale
  }
  return out
}

interface LayerMatrices {
  qkv: NativeLinearWeights
  o: NativeLinearWeights
  gateUp: NativeLinearWeights
  down: NativeLinearWeights
}

function makeLayers(ops: NativeOps, o: KernelBenchOptions): {layers: LayerMatrices[]; lmHead: NativeLinearWeights} {
  const headDim = o.hiddenSize / o.numHeads
  const qkvRows = (o.numHeads + 2 * o.numKvHeads) * headDim
  const make = (rows: number, cols: number, seed: number) =>
    new ops.LinearWeights(randomFloats(rows * cols, seed), 'F32', rows, cols, o.weightFormat)
  const layers = Array.from({length: o.numLayers}, (_, l) => ({
    qkv: make(qkvRows, o.hiddenSize, 10 * l + 1),
    o: make(o.hiddenSize, o.numHeads * headDim, 10 * l + 2),
    gateUp: make(2 * o.intermediateSize, o.hiddenSize, 10 * l + 3),
    down: make(o.hiddenSize, o.intermediateSize, 10 * l + 4),
  }))
  return {layers, lmHead: make(o.vocabSize, o.hiddenSize, 999)}
}

/** The linear layers of a whole forward pass at `rows` rows, one after another (as a step runs them). */
function modelLinearsCase(o: KernelBenchOptions, layers: LayerMatrices[], lmHead: NativeLinearWeights, rows: number, label: string): KernelCase {
  const headDim = o.hiddenSize / o.numHeads
  const width = Math.max(o.hiddenSize, 2 * o.intermediateSize, (o.numHeads + 2 * o.numKvHeads) * headDim)
  const x = randomFloats(rows * width, 5, 1)
  const out = new Float32Array(rows * Math.max(width, o.vocabSize))
  const matrices: [NativeLinearWeights, number, number][] = []
  for (const layer of layers) {
    matrices.push([layer.qkv, o.hiddenSize, (o.numHeads + 2 * o.numKvHeads) * headDim], [layer.o, o.numHeads * headDim, o.hiddenSize],
      [layer.gateUp, o.hiddenSize, 2 * o.intermediateSize], [layer.down, o.intermediateSize, o.hiddenSize])
  }
  // Decode also needs the LM head for every row; prefill only for the last, which we leave out.
  if (rows <= o.batch) matrices.push([lmHead, o.hiddenSize, o.vocabSize])
  const inputs = matrices.map(([, cols]) => x.subarray(0, rows * cols))
  const outputs = matrices.map(([, , outCols]) => out.subarray(0, rows * outCols))
  const flops = matrices.reduce((sum, [, cols, outCols]) => sum + 2 * rows * cols * outCols, 0)
  const bytes = matrices.reduce((sum, [w]) => sum + w.bytes, 0)
  return {
    kernel: 'linear (all layers' + (rows <= o.batch ? ' + LM head' : '') + ')', shape: label, bound: rows === 1 ? 'memory' : 'compute',
    flops, bytes, run: () => matrices.forEach(([w], i) => w.run(inputs[i], rows, outputs[i])),
  }
}

function singleLinearCases(o: KernelBenchOptions, layer: LayerMatrices, lmHead: NativeLinearWeights, rows: number, label: string): KernelCase[] {
  const headDim = o.hiddenSize / o.numHeads
  const shapes: [string, NativeLinearWeights, number, number][] = [
    ['qkv_proj', layer.qkv, o.hiddenSize, (o.numHeads + 2 * o.numKvHeads) * headDim],
    ['o_proj', layer.o, o.numHeads * headDim, o.hiddenSize],
    ['gate_up_proj', layer.gateUp, o.hiddenSize, 2 * o.intermediateSize],
    ['down_proj', layer.down, o.intermediateSize, o.hiddenSize],
    ['lm_head', lmHead, o.hiddenSize, o.vocabSize],
  ]
  return shapes.map(([name, w, cols, outCols]) => {
    const x = randomFloats(rows * cols, 6, 1)
    const out = new Float32Array(rows * outCols)
    return {
      kernel: `linear ${name}`, shape: `${label} ${rows}x${cols} * ${cols}x${outCols}`, bound: rows === 1 ? 'memory' as const : 'compute' as const,
      flops: 2 * rows * cols * outCols, bytes: w.bytes, run: () => w.run(x, rows, out),
    }
  })
}

/** Decode attention for `seqs` sequences of contextLen tokens, blocks scattered through the pool. */
function attentionCase(ops: NativeOps, o: KernelBenchOptions, seqs: number, rowsPerSeq: number, label: string): KernelCase {
  const headDim = o.hiddenSize / o.numHeads
  const context = rowsPerSeq > 1 ? rowsPerSeq : o.contextLen
  const blocksPerSeq = Math.ceil(context / o.blockSize)
  const numBlocks = seqs * blocksPerSeq
  const slotFloats = o.numKvHeads * headDim
  // Native huge-page memory, as the engine's pool: 4 KB pages would add a TLB miss to every scattered block.
  const keyCache = ops.hugeFloat32Array(numBlocks * o.blockSize * slotFloats)
  const valueCache = ops.hugeFloat32Array(keyCache.length)
  keyCache.set(randomFloats(keyCache.length, 7, 1))
  valueCache.set(randomFloats(valueCache.length, 8, 1))
  // A fixed pseudo-random permutation of blocks: tables point all over the pool, as after many requests.
  const order = Array.from({length: numBlocks}, (_, i) => i)
  const shuffle = randomFloats(numBlocks, 9, 1)
  order.sort((a, b) => shuffle[a] - shuffle[b])
  const blockTables = Int32Array.from(order)
  const queryStartLoc = Int32Array.from({length: seqs + 1}, (_, i) => i * rowsPerSeq)
  const positions = Int32Array.from({length: seqs * rowsPerSeq}, (_, t) => (rowsPerSeq > 1 ? t % rowsPerSeq : context - 1))
  const query = randomFloats(seqs * rowsPerSeq * o.numHeads * headDim, 10, 1)
  const out = new Float32Array(query.length)
  const batch = {queryStartLoc, positions, blockTables, maxBlocksPerSeq: blocksPerSeq}
  const keysSeen = positions.reduce((sum, p) => sum + p + 1, 0)
  return {
    kernel: 'paged_attention', shape: `${label} ${seqs} seq x ${rowsPerSeq} rows, ctx ${context}`,
    // A single sequence's KV (1 MB per layer at the defaults) stays in cache: only the batched decode streams it.
    bound: rowsPerSeq === 1 && seqs > 1 ? 'memory' : 'compute',
    flops: 4 * keysSeen * o.numHeads * headDim,
    // Each K/V block is read once per KV head group (decode) — the bytes that must come from memory.
    bytes: seqs * context * slotFloats * 4 * 2,
    run: () => ops.pagedAttention(query, o.numHeads * headDim, keyCache, valueCache, batch, o.numHeads, o.numKvHeads, headDim,
      o.blockSize, 1 / Math.sqrt(headDim), out),
  }
}

function smallOpCases(ops: NativeOps, o: KernelBenchOptions, rows: number, label: string): KernelCase[] {
  const headDim = o.hiddenSize / o.numHeads
  const x = randomFloats(rows * o.hiddenSize, 11, 1)
  const weight = randomFloats(o.hiddenSize, 12, 1)
  const normOut = new Float32Array(x.length)
  const gateUp = randomFloats(rows * 2 * o.intermediateSize, 13, 1)
  const activated = new Float32Array(rows * o.intermediateSize)
  const q = randomFloats(rows * o.numHeads * headDim, 14, 1)
  const positions = Int32Array.from({length: rows}, (_, i) => i)
  const rope = {headDim, ropeTheta: 10000, ropeScaling: {type: 'none' as const}}
  return [
    {kernel: 'rms_norm', shape: `${label} ${rows}x${o.hiddenSize}`, bound: 'memory', flops: 3 * x.length, bytes: 2 * x.length * 4,
      run: () => ops.rmsNorm(x, weight, rows, o.hiddenSize, 1e-5, normOut)},
    {kernel: 'silu_and_mul', shape: `${label} ${rows}x${o.intermediateSize}`, bound: 'memory', flops: 5 * activated.length,
      bytes: (gateUp.length + activated.length) * 4, run: () => ops.siluAndMul(gateUp, rows, o.intermediateSize, activated)},
    {kernel: 'rotary (q)', shape: `${label} ${rows}x${o.numHeads}x${headDim}`, bound: 'memory', flops: 3 * q.length,
      bytes: 2 * q.length * 4, run: () => ops.rope(q, rows, o.numHeads * headDim, o.numHeads, positions, rope)},
  ]
}

export function measureCeilings(ops: NativeOps, threads: number): Ceilings {
  ops.setThreads(threads)
  // 256 MB per array: eight times the L3, so the figure is DRAM, not cache.
  return ops.measureCeilings({bytes: 256 * 2 ** 20, repeats: 5, flopSeconds: 0.3})
}

export async function runKernelBench(options: KernelBenchOptions, onProgress: (message: string) => void = () => {}): Promise<KernelBenchReport> {
  const o = options
  checkKernelBenchOptions(o)
  const ops = nativeOps()
  const poolThreads = ops.setThreads(o.threads)
  if (o.vnni !== undefined && !ops.setVnni(o.vnni)) {
    throw new InvalidRequestError(`--vnni ${o.vnni}: this CPU cannot run it (it runs ${ops.vnniStatus().supported})`, {param: 'vnni'})
  }
  if (o.floatPanels !== undefined && !ops.setFloatPanels(o.floatPanels)) {
    throw new InvalidRequestError(`--float-panels ${o.floatPanels}: this CPU cannot run it (it runs ${ops.floatPanelsStatus().supported})`, {param: 'float-panels'})
  }
  onProgress('building weights')
  const {layers, lmHead} = makeLayers(ops, o)
  const cases: KernelCase[] = [
    modelLinearsCase(o, layers, lmHead, 1, 'decode b=1'),
    // One layer's matrices alone sit in L2/L3 at decode size; only the LM head is big enough to stream from memory.
    ...singleLinearCases(o, layers[0], lmHead, 1, 'decode').filter((k) => k.kernel === 'linear lm_head'),
    modelLinearsCase(o, layers, lmHead, o.batch, `batch b=${o.batch}`),
    ...singleLinearCases(o, layers[0], lmHead, o.batch, 'batch'),
    modelLinearsCase(o, layers, lmHead, o.prefillTokens, `prefill ${o.prefillTokens} tokens`),
    attentionCase(ops, o, 1, 1, 'decode'),
    attentionCase(ops, o, o.batch, 1, 'batch'),
    attentionCase(ops, o, 1, o.prefillTokens, 'prefill'),
    ...smallOpCases(ops, o, 1, 'decode'),
    ...smallOpCases(ops, o, o.batch, 'batch'),
  ]
  const chosen = cases.filter((k) => o.only === undefined || k.kernel.includes(o.only))
  if (chosen.length === 0 && !(o.modelStep && 'model step'.includes(o.only!)))
    throw new InvalidRequestError(`--only ${o.only} matches no kernel; kernels: ${[...new Set(cases.map((k) => k.kernel))].join(', ')}${o.modelStep ? ', model step' : ''}`, {param: 'only'})
  // Ceilings after the shapes are known good: they take seconds.
  onProgress(`measuring ceilings on 1 and ${poolThreads} threads`)
  const ceilings = [measureCeilings(ops, 1)]
  if (poolThreads > 1) ceilings.push(measureCeilings(ops, poolThreads))
  ops.setThreads(poolThreads)
  let closeModel = () => {}
  if (o.modelStep) {
    onProgress('loading the bench test model')
    const steps = await modelStepCases(o)
    chosen.push(...steps.cases.filter((k) => o.only === undefined || k.kernel.includes(o.only)))
    closeModel = steps.close
  }
  const ceiling = effectiveCeiling(ceilings, poolThreads)
  const results: KernelResult[] = []
  try {
    await measureCases(chosen, o.timeMs, ceiling, results, onProgress)
  } finally {
    closeModel()
  }
  return {options: o, avx2: ops.avx2Status().enabled, vnni: ops.vnniStatus().inUse, vnniLabel: ops.vnniStatus().inUseLabel, floatPanels: ops.floatPanelsStatus().inUse, ceilings, ceiling, results}
}

async function measureCases(cases: KernelCase[], timeMs: number, ceiling: {readBytesPerSecond: number; peakFlops: number},
  results: KernelResult[], onProgress: (message: string) => void): Promise<void> {
  for (const c of cases) {
    onProgress(`${c.kernel} ${c.shape}`)
    const bench = new Bench({time: timeMs, iterations: 5, warmupTime: 20, warmupIterations: 2, throws: true})
    bench.add(c.kernel, c.run)
    await bench.run()
    const result = bench.tasks[0].result
    if (result.state !== 'completed') throw new Error(`benchmark of ${c.kernel} did not complete`)
    const cpuMs = cpuMsPerCall(c.run)
    const medianMs = result.latency.p50
    const bestMs = result.latency.min
    // Without AVX2 there is no FMA peak to compare with: those fractions come out NaN and print as n/a.
    const rate = (ms: number) => (c.bound === 'memory' ? c.bytes / (ms / 1000) / ceiling.readBytesPerSecond
      : ceiling.peakFlops > 0 ? c.flops / (ms / 1000) / ceiling.peakFlops : Number.NaN)
    results.push({kernel: c.kernel, shape: c.shape, bound: c.bound, medianMs, bestMs, flops: c.flops, bytes: c.bytes,
      fraction: rate(medianMs), bestFraction: rate(bestMs), cpuMs})
  }
}

/** CPU milliseconds (every thread of the process) per call, over a few untimed calls. */
function cpuMsPerCall(run: () => unknown): number {
  const calls = 5
  const start = process.cpuUsage()
  for (let i = 0; i < calls; i++) run()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000 / calls
}

export function formatKernelReport(report: KernelBenchReport): string {
  const lines: string[] = []
  const o = report.options
  lines.push(`Model shape: hidden ${o.hiddenSize}, ${o.numLayers} layers, ${o.numHeads} heads / ${o.numKvHeads} kv heads, ` +
    `intermediate ${o.intermediateSize}, vocab ${o.vocabSize}; weights ${o.weightFormat}; AVX2 kernels ${report.avx2 ? 'on' : 'off'}; float prefill panels: ${report.floatPanels}; quantized prefill int8 dots: ${report.avx2 ? report.vnniLabel : 'portable'}`)
  lines.push('Ceilings (best of repeated runs; 256 MB arrays for bandwidth):')
  for (const c of report.ceilings) {
    lines.push(`  ${c.threads} thread${c.threads > 1 ? 's' : ' '}: read ${(c.readBytesPerSecond / 1e9).toFixed(1)} GB/s, ` +
      `triad ${(c.triadBytesPerSecond / 1e9).toFixed(1)} GB/s, peak fp32 FMA ${(c.peakFlops / 1e9).toFixed(1)} GFLOP/s`)
  }
  lines.push(`  fractions below are of read ${(report.ceiling.readBytesPerSecond / 1e9).toFixed(1)} GB/s and ` +
    `${(report.ceiling.peakFlops / 1e9).toFixed(1)} GFLOP/s (contention only lowers a ceiling run, so the larger estimate is used)`)
  const header = ['kernel', 'shape', 'median ms', 'GB/s', 'GFLOP/s', 'GFLOP/cpu-s', 'of ceiling', 'best']
  const rows = report.results.map((r) => [
    r.kernel, r.shape, r.medianMs.toFixed(3), (r.bytes / r.medianMs / 1e6).toFixed(1), (r.flops / r.medianMs / 1e6).toFixed(1), (r.flops / r.cpuMs / 1e6).toFixed(1),
    Number.isNaN(r.fraction) ? 'n/a' : `${(100 * r.fraction).toFixed(0)}% ${r.bound === 'memory' ? 'bw' : 'peak'}`,
    Number.isNaN(r.bestFraction) ? 'n/a' : `${(100 * r.bestFraction).toFixed(0)}%`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const render = (row: string[]) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  lines.push(render(header), ...rows.map(render))
  lines.push('"of ceiling": median-time rate over the ceiling (memory-bound rows: read bandwidth; others: peak FMA); at decode')
  lines.push('size the small ops take about a microsecond, mostly the JS-to-native call, so their fractions say little.')
  lines.push('"GFLOP/cpu-s": FLOP per CPU second of all threads (5 extra calls): other tenants\' load moves it far less than GFLOP/s.')
  lines.push('"best": the same from the fastest run. The machine is shared: medians move with other tenants\' load.')
  if (report.results.some((r) => r.kernel === 'model step')) {
    lines.push('"model step": whole native steps of the bench test model; its unwritten KV pages read from cache, so attention is cheaper there.')
  }
  return lines.join('\n')
}
