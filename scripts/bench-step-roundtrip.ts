// Fixed cost of one native step call as the engine makes it (N-API AsyncWorker: queue to the libuv thread pool,
// resolve on the event loop), timed on an empty batch, back to back and after 1 ms of JS work (as between engine steps).
// Usage: npx tsx scripts/bench-step-roundtrip.ts [--threads 2] [--calls 2000]
import {parseArgs} from 'node:util'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel} from '../src/engine/native.js'

const {values: args} = parseArgs({options: {threads: {type: 'string', default: '2'}, calls: {type: 'string', default: '2000'}}})
const calls = Number(args.calls)
const loaded = await loadModel(await ensureTestModel('bench'))
const model = await loadNativeModel({config: loaded.config, tensors: loaded.tensors, numBlocks: 16, blockSize: 16, numSwapBlocks: 0,
  weightFormat: 'f16', threads: Number(args.threads), device: 'cpu'})
const empty = {tokenIds: new Int32Array(0), positions: new Int32Array(0), slotMapping: new Int32Array(0), queryStartLoc: Int32Array.from([0]),
  contextLens: new Int32Array(0), blockTables: new Int32Array(0), maxBlocksPerSeq: 1, logitsIndices: new Int32Array(0)}
for (const gapMs of [0, 1]) {
  const times: number[] = []
  for (let i = 0; i < calls; i++) {
    const busyUntil = performance.now() + gapMs
    while (performance.now() < busyUntil);
    const started = performance.now()
    await model.step({}, empty)
    times.push((performance.now() - started) * 1000)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.floor(q * (times.length - 1))].toFixed(0)
  console.log(`empty step, ${gapMs} ms of JS before each: median ${at(0.5)} us, p10 ${at(0.1)} us, p90 ${at(0.9)} us`)
}
model.close()
