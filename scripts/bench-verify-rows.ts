// What one more verification row costs: native step time for one sequence computing 1 .. N rows at once (its last
// token plus N-1 draft tokens, logits for every row), on tinychat. Rows, and the builds given with --addons (before /
// after a kernel change, in one process), are interleaved so the load of a shared machine hits them alike.
// Usage: npx tsx scripts/bench-verify-rows.ts [--rows 1,2,3,4,5,6,8,9] [--context 100] [--dtype f32,bf16] [--threads 1]
//          [--repeats 200] [--addons OTHER/native/build/Release/pagedllm.node,...]   (this checkout's build is always "this")
import {createRequire} from 'node:module'
import {parseArgs} from 'node:util'
import {loadModel} from '../src/engine/model/load-model.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {ADDON_PATH, type ForwardBatchArrays, type LoadNativeModelOptions} from '../src/engine/native.js'

const {values: args} = parseArgs({
  options: {
    rows: {type: 'string', default: '1,2,3,4,5,6,8,9'},
    context: {type: 'string', default: '100'},
    dtype: {type: 'string', default: 'f32,bf16'},
    threads: {type: 'string', default: '1'},
    repeats: {type: 'string', default: '200'},
    addons: {type: 'string', default: ''},
  },
})
const rowCounts = args.rows.split(',').map(Number)
const context = Number(args.context)
const repeats = Number(args.repeats)
const blockSize = 16
const numBlocks = Math.ceil((context + Math.max(...rowCounts)) / blockSize)
const blockTable = Int32Array.from({length: numBlocks}, (_, i) => i)

interface StepHandle {
  step(moves: object, batch: ForwardBatchArrays): Promise<Float32Array>
  close(): void
}
type Addon = {loadModel(options: Omit<LoadNativeModelOptions, 'device'> & {device: 'cpu'}): Promise<StepHandle>}
const require = createRequire(import.meta.url)
const builds: Array<[string, Addon]> = [['this', require(ADDON_PATH) as Addon]]
for (const path of args.addons.split(',').filter(Boolean)) builds.push([path, require(path) as Addon])

/** One sequence, `rows` tokens from position `start` on, logits wanted for the last `logitRows` of them. */
function chunk(start: number, rows: number, logitRows: number): ForwardBatchArrays {
  return {
    tokenIds: Int32Array.from({length: rows}, (_, i) => 10 + (((start + i) * 37) % 4000)),
    positions: Int32Array.from({length: rows}, (_, i) => start + i),
    slotMapping: Int32Array.from({length: rows}, (_, i) => start + i),
    queryStartLoc: Int32Array.from([0, rows]),
    contextLens: Int32Array.from([start + rows]),
    blockTables: blockTable,
    maxBlocksPerSeq: numBlocks,
    logitsIndices: Int32Array.from({length: logitRows}, (_, i) => rows - logitRows + i),
  }
}

const model = await loadModel(BUILTIN_MODEL_DIR)
console.log(`tinychat, one sequence at context ${context}, ${args.threads} thread(s), ${repeats} interleaved repeats; ms per native step, median (10th percentile)`)
console.log(`| weights | build | ${rowCounts.map((rows) => `${rows} row${rows === 1 ? '' : 's'}`).join(' | ')} |`)
console.log(`|---|---|${rowCounts.map(() => '---').join('|')}|`)
for (const weightFormat of args.dtype.split(',') as Array<'f32' | 'bf16'>) {
  const handles: StepHandle[] = []
  try {
    for (const [, addon] of builds) {
      const handle = await addon.loadModel({config: model.config, tensors: model.tensors, numBlocks, blockSize, numSwapBlocks: 0, weightFormat, threads: Number(args.threads), device: 'cpu'})
      handles.push(handle)
      await handle.step({}, chunk(0, context, 1)) // the context's KV, and first-touch costs out of the figures
    }
    const times = handles.map(() => new Map<number, number[]>(rowCounts.map((rows) => [rows, []])))
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const rows of rowCounts) {
        for (const [i, handle] of handles.entries()) {
          const started = performance.now()
          await handle.step({}, chunk(context, rows, rows))
          times[i]!.get(rows)!.push(performance.now() - started)
        }
      }
    }
    for (const [i, [label]] of builds.entries()) {
      const cells = rowCounts.map((rows) => {
        const sorted = times[i]!.get(rows)!.sort((a, b) => a - b)
        return `${sorted[sorted.length >> 1]!.toFixed(2)} (${sorted[Math.floor(sorted.length / 10)]!.toFixed(2)})`
      })
      console.log(`| ${weightFormat} | ${label} | ${cells.join(' | ')} |`)
    }
  } finally {
    for (const handle of handles) handle.close()
  }
}
