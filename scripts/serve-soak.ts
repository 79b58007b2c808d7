// Serving overhead: the same mixed requests through the HTTP server (a child process) and through the engine directly, same concurrency.
// Usage: node --import tsx scripts/serve-soak.ts [--preset small] [--requests 200] [--concurrency 32] [--max-tokens 16] [--threads 1]
import {spawn} from 'node:child_process'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {type EngineConfig, makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {runSoak, soakRequest} from '../test/support/serve-soak-client.js'

const PROMPTS = [
  'The quick brown fox jumps over the lazy dog and then',
  'Once upon a time, in a kingdom by the sea, there lived',
  'In a hole in the ground there lived a hobbit. Not a nasty, dirty, wet hole,',
  'It was a bright cold day in April, and the clocks were striking thirteen.',
]

const {values: options} = parseArgs({
  options: {
    preset: {type: 'string', default: 'small'},
    requests: {type: 'string', default: '200'},
    concurrency: {type: 'string', default: '32'},
    'max-tokens': {type: 'string', default: '16'},
    threads: {type: 'string', default: '1'},
    'num-blocks': {type: 'string', default: '2048'},
    child: {type: 'boolean', default: false},
  },
})

async function engineConfig(): Promise<EngineConfig> {
  const modelPath = await ensureTestModel(options.preset as TestModelPreset)
  return makeEngineConfig({modelPath, threads: Number(options.threads), numBlocks: Number(options['num-blocks'])})
}

/** Child mode: an engine behind the HTTP server, announcing its URL on stdout; SIGTERM shuts it down. */
async function serveChild(): Promise<void> {
  const engine = await LLMEngine.create(await engineConfig())
  const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: 'soak', log: (line) => process.stderr.write(`${line}\n`)})
  const {url} = await server.listen()
  server.attachEngine(engine)
  process.once('SIGTERM', () => void server.shutdown(1000))
  process.stdout.write(`READY ${url} ${engine.modelName}\n`)
}

async function startServerChild(): Promise<{url: string; model: string; stop: () => Promise<void>}> {
  const script = fileURLToPath(import.meta.url)
  const argv = process.argv.slice(2)
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...argv, '--child'], {stdio: ['ignore', 'pipe', 'inherit']})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({input: child.stdout!}).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`server child exited with ${code} before it was ready`)))
  })
  const [, url, model] = line.split(' ')
  const stop = async () => {
    child.kill('SIGTERM')
    await exited
  }
  return {url: url!, model: model!, stop}
}

/** The same requests (same tokens, same params) straight into the engine, `concurrency` in flight. */
async function runOffline(engine: LLMEngine, requests: number, concurrency: number, maxTokens: number) {
  let next = 0
  let outputTokens = 0
  const started = performance.now()
  const worker = async () => {
    while (next < requests) {
      const {kind, body} = soakRequest(next++, {model: engine.modelName, prompts: PROMPTS, maxTokens}) as {kind: string; body: any}
      const prompt = kind.startsWith('chat') ? engine.tokenizer.encodeChat(body.messages, {addGenerationPrompt: true}) : engine.tokenizer.encode(body.prompt)
      const params = makeSamplingParams({maxTokens, temperature: 0, ignoreEos: true})
      const output = await engine.addRequest({prompt, params}).result()
      outputTokens += output.outputs[0]!.tokenIds.length
    }
  }
  await Promise.all(Array.from({length: concurrency}, worker))
  return {outputTokens, seconds: (performance.now() - started) / 1000}
}

async function main(): Promise<void> {
  if (options.child) return serveChild()
  const requests = Number(options.requests)
  const concurrency = Number(options.concurrency)
  const maxTokens = Number(options['max-tokens'])
  const warmup = {prompts: PROMPTS, requests: concurrency, concurrency, maxTokens}

  const server = await startServerChild()
  let served
  try {
    await runSoak({baseUrl: server.url, model: server.model, ...warmup})
    served = await runSoak({baseUrl: server.url, model: server.model, prompts: PROMPTS, requests, concurrency, maxTokens})
  } finally {
    await server.stop()
  }
  if (served.failures.length > 0) throw new Error(`served run had ${served.failures.length} failures:\n${served.failures.slice(0, 5).join('\n')}`)

  const engine = await LLMEngine.create(await engineConfig())
  let offline
  try {
    await runOffline(engine, concurrency, concurrency, maxTokens)
    offline = await runOffline(engine, requests, concurrency, maxTokens)
  } finally {
    await engine.shutdown()
  }

  const rate = (count: number, seconds: number) => (count / seconds).toFixed(2)
  console.log(`preset ${options.preset}, ${requests} requests (completions/chat x stream/not), ${concurrency} concurrent, ${maxTokens} output tokens each, ${options.threads} thread(s)`)
  console.log(`served : ${served.seconds.toFixed(2)} s, ${rate(requests, served.seconds)} req/s, ${rate(served.outputTokens, served.seconds)} output tok/s`)
  console.log(`offline: ${offline.seconds.toFixed(2)} s, ${rate(requests, offline.seconds)} req/s, ${rate(offline.outputTokens, offline.seconds)} output tok/s`)
  console.log(`served / offline throughput: ${(offline.seconds / served.seconds).toFixed(3)}`)
}

await main()
