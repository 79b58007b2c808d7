// What replacing a tokenizer worker costs (TokenizerWorkers.stopGoneJob's grace): the event loop's share of `new Worker`,
// the time until the worker reports its tokenizer loaded, and its first jobs run cold against warm ones (the check of a
// 3.25 MB chat of 10^5 messages, as a gone client's body).
// Usage: npm run build:ts && npx tsx scripts/bench-tokenizer-worker-start.ts [--starts 5] [--model models/tinychat]
import {Worker} from 'node:worker_threads'
import {parseArgs} from 'node:util'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'

const {values: options} = parseArgs({options: {starts: {type: 'string', default: '5'}, model: {type: 'string', default: BUILTIN_MODEL_DIR}}})
const workerUrl = new URL('../dist/server/tokenize-worker.js', import.meta.url)
const body = Buffer.from(JSON.stringify({messages: Array.from({length: 100_000}, (_, i) => ({role: i % 2 ? 'assistant' : 'user', content: 'x'})), max_tokens: 2}))
const checkOptions = {modelName: 'm', contentFormat: 'auto', storeOn: false, trustRequestChatTemplate: false}

for (let start = 0; start < Number(options.starts); start++) {
  const began = performance.now()
  const worker = new Worker(workerUrl, {workerData: {modelDir: options.model, maxModelLen: 2048, cancel: new Int32Array(new SharedArrayBuffer(4)).fill(-1).buffer}})
  const onLoop = performance.now() - began
  await new Promise<void>((resolve) => worker.on('message', (message: {ready?: boolean}) => message.ready && resolve()))
  const ready = performance.now() - began
  const checks: number[] = []
  for (let job = 0; job < 4; job++) {
    const copy = Buffer.from(body)
    const sent = performance.now()
    await new Promise((resolve) => {
      worker.once('message', resolve)
      worker.postMessage({id: job, job: {kind: 'body', body: copy, route: 'chat', options: checkOptions}}, [copy.buffer as ArrayBuffer])
    })
    checks.push(performance.now() - sent)
  }
  console.log(`start ${start + 1}: new Worker ${onLoop.toFixed(1)} ms on the event loop; tokenizer loaded after ${ready.toFixed(0)} ms; body checks ${checks.map((ms) => ms.toFixed(0)).join(', ')} ms (the first cold)`)
  await worker.terminate()
}
