// Seeded random combinations of request features fired at the real `pagedllm serve` (dist/, a child process) on the
// built-in tinychat model and a made test model (qwen2, hermes tool calls): scripts/serve-attack-combo-bodies.ts makes
// them. Every reply must be a 200 with a well-formed body (or stream) or a 4xx with OpenAI's error object (a 503 only
// inside a burst), within the timeout; after each combo /health answers, and the KV pool and queues drain to zero.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-combos.ts [--combos 200] [--seed 1] [--from 0] [--models builtin,qwen2,ngram,draft,swap] [--timeout-ms 90000]
// Combo i (seed S) is the same request on every run: --from i --combos 1 --seed S replays a finding.
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {type Combo, generateCombo} from './serve-attack-combo-bodies.js'
import {choicesOf, deterministic, flippedStream, promiseProblem, sameChoices, tokenizeBodyFor} from './serve-attack-combo-checks.js'
import {makeRandom} from './fuzz-serve-bodies.js'
import {drainedProblem, replyProblem} from './fuzz-serve-checks.js'
import {type ServeChild, startServe} from './serve-child.js'

const {values: options} = parseArgs({
  options: {
    combos: {type: 'string', default: '200'},
    seed: {type: 'string', default: '1'},
    from: {type: 'string', default: '0'},
    models: {type: 'string', default: 'builtin,qwen2'},
    'timeout-ms': {type: 'string', default: '90000'},
  },
})
const seed = Number(options.seed)
const timeoutMs = Number(options['timeout-ms'])
const models = options.models!.split(',')
const FLAGS = ['--threads', '1', '--slow-client-timeout', '3', '--shutdown-grace', '5']
let batchInvariant = false

/** builtin: a roomy pool, batch-invariant (so batched copies must agree); qwen2: hermes tool calls and deepseek_r1 reasoning, a pool small enough that bursts preempt. */
async function modelFlags(name: string): Promise<{model: string; flags: string[]}> {
  batchInvariant = name === 'builtin'
  if (name === 'builtin') return {model: BUILTIN_MODEL_DIR, flags: [...FLAGS, '--num-blocks', '512', '--batch-invariant']}
  if (name === 'qwen2') return {model: await ensureTestModel('tiny', {variant: 'qwen2'}), flags: [...FLAGS, '--num-blocks', '48', '--tool-call-parser', 'hermes', '--reasoning-parser', 'deepseek_r1']}
  // Speculative decoding beside every feature (guided, n / best_of, logprobs, stop strings, leaving early), in a pool that preempts.
  if (name === 'ngram') return {model: BUILTIN_MODEL_DIR, flags: [...FLAGS, '--num-blocks', '48', '--speculative-method', 'ngram', '--num-speculative-tokens', '4', '--preemption-mode', 'recompute']}
  if (name === 'draft') return {model: await ensureTestModel('tiny', {variant: 'qwen2'}), flags: [...FLAGS, '--num-blocks', '48', '--speculative-method', 'draft', '--speculative-quantization', 'q8_0', '--num-speculative-tokens', '3', '--tool-call-parser', 'hermes']}
  // Prefix caching and preemption by swapping: a burst's preempted sequences go to host memory and come back.
  if (name === 'swap') return {model: await ensureTestModel('tiny', {variant: 'qwen2'}), flags: [...FLAGS, '--num-blocks', '40', '--preemption-mode', 'swap', '--swap-space', '1MiB', '--tool-call-parser', 'hermes']}
  throw new Error(`--models: unknown model ${name} (builtin, qwen2, ngram, draft, swap)`)
}

const findings: string[] = []
const statuses = new Map<number, number>()
let requests = 0
let compared = 0
let batchedCompared = 0

interface Sent {
  status: number
  contentType: string
  text: string
}

async function post(url: string, combo: Combo, signal: AbortSignal): Promise<Sent> {
  const response = await fetch(url + combo.route, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(combo.body), signal})
  return {status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text()}
}

/** What went wrong with one reply (null: nothing); a 503 is an honest refusal only when a burst overfills the queue. */
function problemOf(combo: Combo, reply: Sent): string | null {
  statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
  if (reply.status === 503 && combo.send.kind !== 'burst') return `a 503 outside a burst: ${reply.text.slice(0, 200)}`
  const problem = replyProblem(combo.route, reply.status, reply.contentType, reply.text, combo.body)
  return problem === null ? null : `${problem} :: ${reply.status} ${reply.text.replace(/\s+/g, ' ').slice(0, 300)}`
}

/** Sends the combo once; `compare` sends it again with the stream flipped, `texts` collects the 200s' bodies. */
async function sendOnce(url: string, combo: Combo, compare = false, texts?: string[]): Promise<string | null> {
  requests++
  try {
    const reply = await post(url, combo, AbortSignal.timeout(timeoutMs))
    const problem = problemOf(combo, reply)
    if (problem !== null || reply.status !== 200) return problem
    texts?.push(reply.text)
    const streamed = reply.contentType.startsWith('text/event-stream')
    const choices = choicesOf(combo.route, reply.text, streamed)
    const promise = promiseProblem(combo, choices) ?? (await promptCountProblem(url, combo, reply, streamed))
    if (promise !== null || !compare || !deterministic(combo)) return promise
    // The same request streamed (or not): a deterministic one must give the same choices.
    const flipped = flippedStream(combo)
    const again = await post(url, flipped, AbortSignal.timeout(timeoutMs))
    requests++
    compared++
    if (again.status !== 200) return `200 ${streamed ? 'streamed' : 'unstreamed'}, but ${again.status} the other way: ${again.text.slice(0, 200)}`
    // Beam search answers in one JSON reply either way (as vLLM), so the reply's type says how to read it.
    const differs = sameChoices(choices, choicesOf(combo.route, again.text, again.contentType.startsWith('text/event-stream')))
    return differs === null ? null : `streamed and unstreamed replies differ: ${differs}`
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? `no reply in ${timeoutMs} ms (a hang)` : `the request failed: ${(error as Error).message}`
  }
}

/** usage.prompt_tokens against /tokenize's count of the same prompt (a stream reports usage only when asked). */
async function promptCountProblem(url: string, combo: Combo, reply: Sent, streamed: boolean): Promise<string | null> {
  const tokenizeBody = tokenizeBodyFor(combo)
  const usage = streamed ? choicesUsage(reply.text) : JSON.parse(reply.text).usage
  if (tokenizeBody === null || !usage) return null
  requests++
  const counted = await post(url, {...combo, route: '/tokenize' as never, body: tokenizeBody}, AbortSignal.timeout(timeoutMs))
  if (counted.status !== 200) return `a 200 reply, but /tokenize of its prompt answered ${counted.status}: ${counted.text.slice(0, 200)}`
  const count = JSON.parse(counted.text).count
  return count === usage.prompt_tokens ? null : `usage.prompt_tokens ${usage.prompt_tokens}, but /tokenize counts ${count}`
}

/** The usage of a stream's last usage chunk, if it has one. */
function choicesUsage(text: string): {prompt_tokens: number} | undefined {
  const events = text.split('\n\n').filter((event) => event.startsWith('data: {')).map((event) => JSON.parse(event.slice(6)))
  return events.reverse().find((event) => event.usage)?.usage
}

/** The client leaves: a stream after its first bytes, any other request after `abortMs`. */
async function sendAndLeave(url: string, combo: Combo, abortMs: number): Promise<string | null> {
  requests++
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), abortMs)
  try {
    const response = await fetch(url + combo.route, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(combo.body), signal: controller.signal})
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    if (response.status >= 500 && response.status !== 503) return `a ${response.status} before the client left`
    await response.body?.getReader().read()
    controller.abort()
  } catch (error) {
    if ((error as Error).name !== 'AbortError') return `the request failed: ${(error as Error).message}`
  } finally {
    clearTimeout(timer)
  }
  return null
}

async function runCombo(url: string, combo: Combo): Promise<string[]> {
  const {send} = combo
  if (send.kind === 'once') return [await sendOnce(url, combo, true)].filter((problem) => problem !== null)
  if (send.kind === 'abort') return [await sendAndLeave(url, combo, send.abortMs)].filter((problem) => problem !== null)
  if (send.kind === 'mix') return runMix(url, [combo, ...send.others])
  const texts: string[] = []
  const leaves = (i: number) => send.leaveMs !== undefined && i % 2 === 1
  const replies = await Promise.all(Array.from({length: send.copies}, (_, i) => (leaves(i) ? sendAndLeave(url, combo, send.leaveMs!) : sendOnce(url, combo, false, texts))))
  const problems = replies.filter((problem) => problem !== null)
  // Batch-invariant servers: copies of a deterministic request batched together give the same choices.
  if (problems.length === 0 && batchInvariant && deterministic(combo) && texts.length > 1) {
    const streamed = combo.body.stream === true
    const first = choicesOf(combo.route, texts[0]!, streamed)
    batchedCompared++
    const differs = texts.slice(1).map((text) => sameChoices(first, choicesOf(combo.route, text, streamed))).find((problem) => problem !== null)
    if (differs !== undefined) problems.push(`copies batched together differ: ${differs}`)
  }
  return [...new Set(problems)]
}

/**
 * Different combos at once, batched together; on a batch-invariant server each deterministic one is sent again alone
 * and must give the same choices (sampling parameters, grammars and penalties of one request leave the others alone).
 */
async function runMix(url: string, combos: Combo[]): Promise<string[]> {
  const texts = combos.map((): string[] => [])
  const replies = await Promise.all(combos.map((each, i) => sendOnce(url, each, false, texts[i])))
  const problems = replies.map((problem, i) => (problem === null ? null : `mixed combo ${i} (${combos[i]!.features.join('+')}): ${problem}`))
  if (batchInvariant)
    for (const [i, each] of combos.entries()) {
      if (problems[i] !== null || texts[i]!.length === 0 || !deterministic(each)) continue
      const alone: string[] = []
      const problem = await sendOnce(url, each, false, alone)
      batchedCompared++
      const streamed = each.body.stream === true
      const differs = problem ?? (alone.length === 0 ? 'no 200 alone' : sameChoices(choicesOf(each.route, texts[i]![0]!, streamed), choicesOf(each.route, alone[0]!, streamed)))
      if (differs !== null) problems[i] = `mixed combo ${i} (${each.features.join('+')}) batched and alone differ: ${differs} :: body ${JSON.stringify(each.body).slice(0, 400)}`
    }
  return problems.filter((problem) => problem !== null)
}

/** /health within 5 s, then the gauges back to zero within 20 s (an abandoned request is aborted on the next step). */
async function afterCombo(url: string): Promise<string | null> {
  try {
    const health = await fetch(url + '/health', {signal: AbortSignal.timeout(5000)})
    if (health.status !== 200) return `/health answered ${health.status}`
  } catch (error) {
    return `/health: ${(error as Error).message}`
  }
  let problem: string | null = 'never scraped'
  for (let waited = 0; waited <= 20_000 && problem !== null; waited += 250) {
    if (waited > 0) await new Promise((wake) => setTimeout(wake, 250))
    problem = drainedProblem(await (await fetch(url + '/metrics', {signal: AbortSignal.timeout(5000)})).text())
  }
  return problem === null ? null : `not drained: ${problem}`
}

function report(model: string, index: number, combo: Combo, problem: string): void {
  const line = `${model} combo ${index} [${combo.send.kind} ${combo.route} ${combo.features.join('+')}] ${problem}\n    body ${JSON.stringify(combo.body).slice(0, 600)}`
  findings.push(line)
  console.log(`FINDING ${line}`)
}

const started = Date.now()
const first = Number(options.from)
const total = Number(options.combos)
for (const [slot, name] of models.entries()) {
  const {model, flags} = await modelFlags(name)
  let server: ServeChild = await startServe(model, flags)
  let ran = 0
  // Combo i goes to model i mod the number of models: one seed, one request list, whichever models run.
  for (let index = first; index < first + total; index++) {
    if (index % models.length !== slot) continue
    const combo = generateCombo(makeRandom(seed * 1_000_003 + index))
    ran++
    for (const problem of await runCombo(server.url, combo)) report(name, index, combo, problem)
    const exit = server.exit()
    if (exit !== null) {
      report(name, index, combo, `the server died (${JSON.stringify(exit)}): ${server.stderrTail()}`)
      server = await startServe(model, flags)
      continue
    }
    const after = await afterCombo(server.url)
    if (after !== null) report(name, index, combo, after)
  }
  // Whether the small pool was ever short (the preempted requests' blocks must have come back too).
  const metrics = await (await fetch(server.url + '/metrics')).text()
  const preemptions = /^pagedllm_num_preemptions_total (\d+)/m.exec(metrics)?.[1] ?? '?'
  await server.stop()
  console.log(`${name}: ${ran} combos, ${preemptions} preemptions (load ${loadavg()[0]!.toFixed(2)})`)
}
console.log(`\n${total} combos, ${requests} requests (${compared} streamed/unstreamed and ${batchedCompared} batched/alone comparisons) in ${((Date.now() - started) / 1000).toFixed(0)} s (seed ${seed}, from ${first})`)
console.log(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([status, count]) => `${status} x ${count}`).join(', ')}`)
console.log(findings.length === 0 ? 'no findings' : `${findings.length} findings`)
process.exitCode = findings.length === 0 ? 0 : 1
