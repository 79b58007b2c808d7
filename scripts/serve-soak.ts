// Serving overhead: the same mixed requests through the HTTP server (a child process) and through the engine directly, same concurrency.
// Usage: node --import tsx scripts/serve-soak.ts [--preset small] [--requests 200] [--concurrency 32] [--max-tokens 16] [--threads 1] [--rounds 2]
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {loadavg} from 'node:os'
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
    rounds: {type: 'string', default: '2'},
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

async function startServerChild(): Promise<{url: string; model: string; pid: number; stop: () => Promise<void>}> {
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
  return {url: url!, model: model!, pid: child.pid!, stop}
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

/** CPU seconds (all threads) a process has used, from /proc: unlike wall time, it hardly moves when others load the machine. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the file, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Round {
  seconds: number
  outputTokens: number
  engineCpuSeconds: number
}

async function main(): Promise<void> {
  if (options.child) return serveChild()
  const requests = Number(options.requests)
  const concurrency = Number(options.concurrency)
  const maxTokens = Number(options['max-tokens'])
  const load = {prompts: PROMPTS, concurrency, maxTokens}

  const server = await startServerChild()
  const engine = await LLMEngine.create(await engineConfig())
  const served: Round[] = []
  const offline: Round[] = []
  try {
    await runSoak({baseUrl: server.url, model: server.model, ...load, requests: concurrency})
    await runOffline(engine, concurrency, concurrency, maxTokens)
    // Alternate the two so that the machine's other load falls on both alike.
    for (let round = 0; round < Number(options.rounds); round++) {
      const serverCpuBefore = processCpuSeconds(server.pid)
      const soak = await runSoak({baseUrl: server.url, model: server.model, ...load, requests})
      if (soak.failures.length > 0) throw new Error(`served run had ${soak.failures.length} failures:\n${soak.failures.slice(0, 5).join('\n')}`)
      served.push({seconds: soak.seconds, outputTokens: soak.outputTokens, engineCpuSeconds: processCpuSeconds(server.pid) - serverCpuBefore})
      const cpuBefore = process.cpuUsage()
      const direct = await runOffline(engine, requests, concurrency, maxTokens)
      const cpu = process.cpuUsage(cpuBefore)
      offline.push({...direct, engineCpuSeconds: (cpu.user + cpu.system) / 1e6})
    }
  } finally {
    await server.stop()
    await engine.shutdown()
  }

  const best = (rounds: Round[]) => rounds.reduce((a, b) => (b.seconds < a.seconds ? b : a))
  const cpu = (rounds: Round[]) => Math.min(...rounds.map((round) => round.engineCpuSeconds))
  const describe = (name: string, rounds: Round[]) => {
    const round = best(rounds)
    const all = rounds.map((entry) => `${entry.seconds.toFixed(2)} s / ${entry.engineCpuSeconds.toFixed(2)} s CPU`).join(', ')
    return (
      `${name}: best ${round.seconds.toFixed(2)} s (rounds: ${all}), ${(requests / round.seconds).toFixed(2)} req/s, ` +
      `${(round.outputTokens / round.seconds).toFixed(1)} output tok/s; least engine process CPU ${cpu(rounds).toFixed(2)} s`
    )
  }
  console.log(
    `preset ${options.preset}, ${requests} requests (completions/chat x stream/not), ${concurrency} concurrent, ` +
      `${maxTokens} output tokens each, ${options.threads} thread(s), machine load ${loadavg()[0]!.toFixed(1)}`,
  )
  console.log(describe('served ', served))
  console.log(describe('offline', offline))
  console.log(`served / offline throughput (best rounds): ${(best(offline).seconds / best(served).seconds).toFixed(3)}`)
  console.log(`server process CPU / engine-only CPU: ${(cpu(served) / cpu(offline)).toFixed(3)} (the serving overhead where the machine is shared)`)
}

await main()
