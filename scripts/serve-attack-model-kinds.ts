// Black-box attacks on `pagedllm serve` and `generate` run on a tiny test model of every engine path: hybrids with
// recurrent state slots (Gated DeltaNet, Mamba-2 mixers, Mamba2 with no KV cache), mixtures of experts (gpt-oss's
// sinks and windows, DeepSeek's latent attention, Llama 4's chunks), Gemma 4's shared KV, sliding windows, GGUF q4_k,
// models without a chat template. Each server (loopback, a small KV pool that preempts, chunked prefill, prefix
// caching asked for, batch-invariant so a greedy reference must come back bit-identical) gets the corpus of
// scripts/serve-attack-kinds-corpus.ts mixed in lanes with preempting samples, streams cut mid-way and requests
// dropped before their reply; then it must be alive, drained (/metrics: no KV block or state slot used), its RSS
// bounded, and still answer the reference alike. `generate` gets the same features as flags, and its greedy text must
// match the server's. Not part of npm test (minutes). Build first (npm run build:ts): it runs bin/run.js on dist/.
// Usage: npx tsx scripts/serve-attack-model-kinds.ts [--kinds qwen3_5,gptoss,...] [--flavors float,q4_k,draft] [--skip-generate]
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {drainedProblem} from './fuzz-serve-checks.js'
import {type KindAttack, kindCorpus} from './serve-attack-kinds-corpus.js'
import {runPagedllm, type ServeChild, startServe} from './serve-child.js'
import {gist, problemOf, type Reply, request, type Target} from './serve-attack-wire.js'

interface Kind {
  name: string
  variant: string
  /** Serve this GGUF format of the checkpoint instead of the safetensors. */
  gguf?: 'q4_k'
  /** Recurrent state slots: no speculative decoding (refused at start). */
  hybrid?: boolean
}

const KINDS: Kind[] = [
  {name: 'qwen3_5', variant: 'qwen3_5', hybrid: true}, // Gated DeltaNet hybrid
  {name: 'qwen3_next', variant: 'qwen3_next', hybrid: true}, // Gated DeltaNet + MoE
  {name: 'granitemoehybrid', variant: 'granitemoehybrid', hybrid: true}, // Mamba-2 mixers + MoE, no chat template
  {name: 'bamba', variant: 'bamba', hybrid: true}, // Mamba-2 mixers
  {name: 'mamba2', variant: 'mamba2', hybrid: true}, // no KV cache at all
  {name: 'mamba', variant: 'mamba', hybrid: true}, // Mamba-1 mixers, no KV cache
  {name: 'jamba', variant: 'jamba', hybrid: true}, // Mamba-1 mixers + attention + MoE
  {name: 'zamba', variant: 'zamba', hybrid: true}, // multi-head Mamba-1 + a shared attention block
  {name: 'zamba2', variant: 'zamba2', hybrid: true}, // Mamba-2 + shared attention blocks with LoRA adapters
  {name: 'nemotron-h', variant: 'nemotron-h', hybrid: true}, // Mamba-2 / attention / MLP layers
  {name: 'falcon-h1', variant: 'falcon-h1', hybrid: true}, // Mamba-2 beside attention in each layer
  {name: 'lfm2', variant: 'lfm2', hybrid: true}, // short convolutions (conv state slots)
  {name: 'kimi-linear', variant: 'kimi-linear', hybrid: true}, // Kimi delta attention + MLA
  {name: 'olmo-hybrid', variant: 'olmo-hybrid', hybrid: true}, // Gated DeltaNet + attention
  {name: 'qwen3moe', variant: 'qwen3moe'},
  {name: 'gptoss', variant: 'gptoss'}, // sinks, sliding windows, harmony
  {name: 'deepseek-v2', variant: 'deepseek-v2'}, // latent attention (MLA)
  {name: 'llama4', variant: 'llama4'}, // chunked attention, MoE
  {name: 'gemma4', variant: 'gemma4'}, // KV-shared layers
  {name: 'gemma3', variant: 'gemma3'}, // sliding windows
  {name: 'gpt2', variant: 'gpt2'}, // no chat template, learned positions
  {name: 'opt', variant: 'opt'}, // no chat template, OPT tokenizer
  {name: 'llama-gguf-q4_k', variant: 'llama', gguf: 'q4_k'},
]

const {values: options} = parseArgs({options: {kinds: {type: 'string'}, flavors: {type: 'string'}, 'skip-generate': {type: 'boolean', default: false}}})
const kinds = options.kinds ? KINDS.filter((kind) => options.kinds!.split(',').includes(kind.name)) : KINDS
const MAX_MODEL_LEN = 64
const MAX_NUM_SEQS = 8
const COMMON_FLAGS = ['--threads', '1', '--max-model-len', String(MAX_MODEL_LEN), '--max-num-seqs', String(MAX_NUM_SEQS), '--tool-call-parser', 'hermes', '--responses-store', '8', '--slow-client-timeout', '3', '--seed', '1']
/**
 * Three servers a kind: float weights, a 16-block pool, chunked prefill, prefix caching asked for; quantized at load,
 * 8-token blocks, whole prompts, recompute, n-gram speculation; bf16 drafting for itself, swapping.
 */
function flavors(kind: Kind): {name: string; flags: string[]; rounds: number}[] {
  return [
    {name: 'float', rounds: 2, flags: [...COMMON_FLAGS, '--batch-invariant', '--num-blocks', '16', '--max-num-batched-tokens', '32', '--prefix-caching', '--enable-prompt-tokens-details']},
    {
      name: 'q4_k',
      rounds: 1,
      flags: [
        ...COMMON_FLAGS, ...(kind.gguf ? [] : ['--quantization', 'q4_k']), '--block-size', '8', '--num-blocks', '24', '--no-chunked-prefill', '--max-num-batched-tokens', '64',
        '--preemption-mode', 'recompute', '--no-prefix-caching', ...(kind.hybrid ? [] : ['--speculative-method', 'ngram', '--num-speculative-tokens', '3']),
      ],
    },
    // The model drafting for itself at q8_0 (its own KV pool), swapping: a hybrid must refuse it at start, in a line.
    {
      name: 'draft',
      rounds: 1,
      flags: [
        ...COMMON_FLAGS, '--batch-invariant', '--dtype', 'bf16', '--num-blocks', '16', '--max-num-batched-tokens', '32', '--preemption-mode', 'swap',
        '--speculative-method', 'draft', ...(kind.gguf ? [] : ['--speculative-quantization', 'q8_0']), '--num-speculative-tokens', '3',
      ],
    },
    // A hybrid asked to swap: its state slots cannot go to the CPU pool, so its preemptions must recompute instead.
    ...(kind.hybrid ? [{name: 'swap', rounds: 1, flags: [...COMMON_FLAGS, '--batch-invariant', '--dtype', 'bf16', '--num-blocks', '16', '--max-num-batched-tokens', '32', '--preemption-mode', 'swap']}] : []),
  ]
}
/** Requests whose whole reply the model and the seed fix: alone, under load and after they must agree (bit-identical logits: --batch-invariant, or quantized weights). */
const PROBES: Record<string, unknown>[] = [
  {prompt: 'the reference prompt, twice: the reference prompt', max_tokens: 10, temperature: 0, ignore_eos: true},
  {prompt: 'beams of the reference', max_tokens: 6, use_beam_search: true, n: 2, best_of: 4, ignore_eos: true},
  {prompt: 'seeded samples', max_tokens: 8, temperature: 1, n: 3, best_of: 4, seed: 5, logprobs: 3, ignore_eos: true},
  {prompt: 'echo the reference prompt', max_tokens: 4, temperature: 0, echo: true, logprobs: 2, prompt_logprobs: 2},
  {prompt: 'guided', max_tokens: 12, temperature: 0, guided_regex: '[a-z]{2,6}'},
]
const REFERENCE = PROBES[0]!
/** Growth of the server's RSS over the second round of the corpus that counts as a leak. */
const RSS_GROWTH_LIMIT = 64 << 20
const RSS_LIMIT = 1536 << 20
const scratch = join(tmpdir(), 'pagedllm-attack-kinds')
mkdirSync(scratch, {recursive: true})

const findings: string[] = []
let attackCount = 0
/** Background responses a cancel caught running, per server (the rest had finished first). */
let cancelledRuns = 0

async function send(target: Target, path: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
  return request(target, 'POST', path, body, {}, signal).catch((error: Error) => ({status: 0, contentType: '', text: `threw ${error.message}`}))
}

/** What is wrong with a reply to `attack`: a bad shape, or a 200 where a 4xx was due (or the reverse). */
function attackProblem(attack: KindAttack, reply: Reply): string | null {
  // A background response answers at once, queued; the checker knows only finished ones.
  const shape = problemOf(attack.path, reply, attack.body)
  if (shape) return shape
  if (attack.expect === 'ok' && reply.status !== 200) return `expected a 200`
  if (attack.expect === '4xx' && !(reply.status >= 400 && reply.status < 500)) return `expected a 4xx`
  return null
}

function text(reply: Reply): string | null {
  try {
    return JSON.parse(reply.text).choices[0].text
  } catch {
    return null
  }
}

/** What of a reply the model and the seed fix: each choice's text, finish reason and logprobs. */
function fingerprint(reply: Reply): string {
  try {
    const choices = JSON.parse(reply.text).choices as Record<string, unknown>[]
    return JSON.stringify(choices.map(({text, finish_reason, logprobs, prompt_logprobs}) => ({text, finish_reason, logprobs, prompt_logprobs})))
  } catch {
    return `${reply.status} ${reply.text.slice(0, 200)}`
  }
}

/** Where two fingerprints part: the choice and token (text, logprob) of the first difference. */
function firstDifference(got: string, expected: string): string {
  try {
    const [a, b] = [JSON.parse(got), JSON.parse(expected)] as {text: string; logprobs?: {tokens: string[]; token_logprobs: number[]}}[][]
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const [x, y] = [a[i], b[i]]
      if (JSON.stringify(x) === JSON.stringify(y)) continue
      const tokens = (c: typeof x) => c?.logprobs?.tokens ?? []
      const at = tokens(x).findIndex((token, j) => token !== tokens(y)[j] || x!.logprobs!.token_logprobs[j] !== y!.logprobs!.token_logprobs[j])
      if (at < 0) return `choice ${i}: ${JSON.stringify(x).slice(0, 200)} vs ${JSON.stringify(y).slice(0, 200)}`
      return `choice ${i} token ${at}: ${JSON.stringify([tokens(x)[at], x!.logprobs!.token_logprobs[at]])} vs ${JSON.stringify([tokens(y)[at], y!.logprobs!.token_logprobs[at]])}`
    }
  } catch {}
  return `${got.slice(0, 200)} vs ${expected.slice(0, 200)}`
}

async function makeModel(kind: Kind): Promise<{dir: string; model: string; limits: {vocabSize: number; chat: boolean}}> {
  const dir = join(scratch, kind.variant)
  const made = await runPagedllm(['make-test-model', '--preset', 'tiny', '--variant', kind.variant, '--out', dir, ...(kind.gguf ? ['--gguf', kind.gguf] : [])])
  if (made.code !== 0) throw new Error(`make-test-model ${kind.variant}: ${made.stderr.slice(-300)}`)
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  const template = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).chat_template
  const model = kind.gguf ? join(dir, `model-${kind.gguf}.gguf`) : dir
  if (!existsSync(model)) throw new Error(`no ${model}`)
  return {dir, model, limits: {vocabSize: config.vocab_size ?? config.text_config?.vocab_size, chat: typeof template === 'string' && template !== ''}}
}

/** A stop string across the reference's tokens i and i + 1 must cut the text right before it, streamed or not. */
async function straddlingStop(target: Target, label: string, reference: string): Promise<void> {
  const reply = await send(target, '/v1/completions', {...REFERENCE, logprobs: 1})
  const tokens: string[] = JSON.parse(reply.text).choices[0].logprobs.tokens
  // Two printable tokens side by side in the text (a special token is in the logprobs, not the text).
  const printable = (token = '') => /^[\x21-\x7e]+$/.test(token)
  const at = tokens.findIndex((token, i) => i > 0 && printable(token) && printable(tokens[i + 1]) && reference.includes(token + tokens[i + 1]))
  if (at < 0) return
  const stop = tokens[at]!.slice(-1) + tokens[at + 1]!.slice(0, 1)
  const expected = reference.slice(0, reference.indexOf(stop))
  for (const stream of [false, true]) {
    const cut = await send(target, '/v1/completions', {...REFERENCE, stop: [stop], stream})
    attackCount++
    const got = stream ? streamedText(cut.text) : text(cut)
    if (got !== expected) findings.push(`${label}: stop ${JSON.stringify(stop)} across tokens ${at}-${at + 1} (stream ${stream}): ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`)
  }
}

function streamedText(sse: string): string {
  return sse.split('\n\n').filter((event) => event.startsWith('data: {')).map((event) => JSON.parse(event.slice(6)).choices?.[0]?.text ?? '').join('')
}

/** Streams cut after their first bytes and requests dropped before their reply, with every feature (prompts of 6-26 tokens: all fit in 64 with max_tokens 30). */
async function dropped(target: Target, seqs: number): Promise<void> {
  const features = [{n: seqs}, {use_beam_search: true, n: 2, best_of: 4}, {guided_json: {type: 'object'}}, {logprobs: 20, echo: true}, {best_of: seqs}, {prompt_logprobs: 5}]
  await Promise.all(Array.from({length: 24}, async (_, i) => {
    const controller = new AbortController()
    const stream = i % 2 === 0
    const body = {prompt: `drop ${i} `.repeat(1 + (i % 5)), max_tokens: 30, ignore_eos: true, stream, ...features[i % features.length]}
    try {
      const response = await fetch(`${target.url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body), signal: controller.signal})
      if (stream) await response.body!.getReader().read()
      else setTimeout(() => controller.abort(), 20 + 40 * (i % 7))
      if (stream) controller.abort()
      else await response.text()
    } catch {}
  }))
  attackCount += 24
}

/** Long samples at once: a 16-block pool must preempt them (a hybrid gives back and retakes its state slots). */
async function preempting(target: Target, label: string): Promise<void> {
  const body = {prompt: 'preempt me please, all of you', max_tokens: 40, ignore_eos: true, n: 2, temperature: 1}
  const replies = await Promise.all(Array.from({length: 8}, (_, i) => send(target, '/v1/completions', {...body, seed: i, stream: i % 2 === 0, logprobs: i % 3 === 0 ? 2 : undefined})))
  attackCount += 8
  for (const reply of replies) {
    const problem = problemOf('/v1/completions', reply, body)
    if (problem || reply.status !== 200) findings.push(`${label} preempted sample: ${problem ?? ''} ${gist(reply)}`)
  }
}

/**
 * Background responses (the Responses store is 8 here) cancelled at staggered points, from before their prefill to after
 * their end: each cancel is a 200 `cancelled` or a 400 for one already finished, and its slots come back (drained after).
 */
async function backgroundCancelled(target: Target, label: string): Promise<void> {
  await Promise.all(Array.from({length: 8}, async (_, i) => {
    const started = await send(target, '/v1/responses', {input: `bg ${i}`, max_output_tokens: 16 + i, background: true, temperature: 1, seed: i})
    attackCount += 2
    if (started.status !== 200) return findings.push(`${label} background start: ${gist(started)}`)
    const id = JSON.parse(started.text).id as string
    await new Promise((wait) => setTimeout(wait, 40 * i))
    const cancelled = await send(target, `/v1/responses/${id}/cancel`, {})
    const ok = (cancelled.status === 200 && JSON.parse(cancelled.text).status === 'cancelled') || (cancelled.status === 400 && /already finished/.test(cancelled.text)) || cancelled.status === 404
    if (!ok) findings.push(`${label} background cancel after ${40 * i} ms: ${gist(cancelled)}`)
    if (cancelled.status === 200) cancelledRuns++
  }))
}

/**
 * Whether a probe's reply must not move with the load: a sampled one may under a draft model's sampled proposals, whose
 * acceptance draws differ with whether the batch let it speculate (documented: ARCHITECTURE.md, draft speculation).
 */
function fixedUnder(flags: string[], probe: Record<string, unknown>): boolean {
  return !(flags.join(' ').includes('--speculative-method draft') && probe.temperature !== 0 && probe.use_beam_search !== true)
}

async function corpusRound(target: Target, label: string, attacks: KindAttack[], alone: string[], seqs: number, flags: string[], chat: boolean): Promise<void> {
  const lanes = 4
  const under: Promise<[number, Reply]>[] = []
  await Promise.all([
    ...Array.from({length: lanes}, async (_, lane) => {
      for (let i = lane; i < attacks.length; i += lanes) {
        const attack = attacks[i]!
        const reply = await send(target, attack.path, attack.body)
        attackCount++
        const problem = attackProblem(attack, reply)
        if (process.env.VERBOSE) console.log(`  ${reply.status} ${attack.path} ${JSON.stringify(attack.body).slice(0, 100)} ${reply.status >= 400 ? gist(reply).slice(0, 160) : ''}`)
        if (problem) findings.push(`${label} ${attack.path} ${JSON.stringify(attack.body).slice(0, 200)} -> ${problem}: ${reply.status} ${reply.text.slice(0, 1500)}`)
        if (i % 8 === 0) {
          const probe = (i / 8) % PROBES.length
          under.push(send(target, '/v1/completions', PROBES[probe]).then((reply) => [probe, reply]))
        }
      }
    }),
    preempting(target, label),
    dropped(target, seqs),
    ...(chat ? [backgroundCancelled(target, label)] : []),
  ])
  for (const [probe, reply] of await Promise.all(under)) {
    attackCount++
    const got = fingerprint(reply)
    if (got !== alone[probe] && fixedUnder(flags, PROBES[probe]!)) findings.push(`${label}: probe ${JSON.stringify(PROBES[probe])} under load differs from alone: ${firstDifference(got, alone[probe]!)}`)
  }
}

async function drained(target: Target): Promise<string | null> {
  let problem: string | null = 'never read'
  for (let i = 0; i < 120 && problem; i++) {
    problem = drainedProblem((await request(target, 'GET', '/metrics')).text)
    if (problem) await new Promise((wait) => setTimeout(wait, 250))
  }
  return problem
}

const INTERNALS = /\n\s+at \S+ \(|TypeError|ReferenceError|RangeError|Cannot read propert|is not a function|Assertion|Aborted|Segmentation/

/** One server on `flags`: probes alone, the corpus `rounds` times, the checks after; its figures, and the greedy reference text. */
async function attackServer(label: string, model: string, flags: string[], rounds: number, limits: {vocabSize: number; chat: boolean}): Promise<{reference: string | null; figures: string}> {
  let server: ServeChild
  try {
    server = await startServe(model, flags)
  } catch (error) {
    const message = (error as Error).message
    // A kind a flag cannot serve must say so in a line and exit; a crash or a stack is a finding.
    if (!/ended before ready \(\{"code":[12],"signal":null\}\)/.test(message) || INTERNALS.test(message)) findings.push(`${label}: did not start: ${message}`)
    return {reference: null, figures: `refused at start: ${message.split(': ').slice(-1)[0]!.slice(0, 160)}`}
  }
  const {port, hostname} = new URL(server.url)
  const target: Target = {host: hostname, port: Number(port), url: server.url}
  const alone: string[] = []
  for (const probe of PROBES) alone.push(fingerprint(await send(target, '/v1/completions', probe)))
  const reference = text(await send(target, '/v1/completions', REFERENCE))
  if (reference === null) findings.push(`${label}: the reference request: ${alone[0]}`)
  const attacks = kindCorpus({...limits, maxModelLen: MAX_MODEL_LEN, maxNumSeqs: MAX_NUM_SEQS, speculative: flags.includes('--speculative-method')})
  const rss: number[] = []
  cancelledRuns = 0
  for (let round = 1; round <= rounds; round++) {
    await corpusRound(target, `${label} round ${round}`, attacks, alone, MAX_NUM_SEQS, flags, limits.chat)
    if (server.exit()) break
    const leak = await drained(target)
    if (leak) findings.push(`${label} round ${round}: not drained: ${leak}`)
    rss.push(server.rssBytes())
  }
  if (reference !== null && !server.exit()) await straddlingStop(target, label, reference)
  for (const [i, probe] of PROBES.entries()) {
    if (server.exit()) break
    const after = fingerprint(await send(target, '/v1/completions', probe))
    if (after !== alone[i] && fixedUnder(flags, probe)) findings.push(`${label}: probe ${JSON.stringify(probe)} after the attacks differs from alone: ${firstDifference(after, alone[i]!)}`)
  }
  const metrics = server.exit() ? '' : (await request(target, 'GET', '/metrics')).text
  const preemptions = /^pagedllm_num_preemptions_total (\d+)/m.exec(metrics)?.[1]
  const slots = /^pagedllm_state_slots\{state="total"\} (\d+)/m.exec(metrics)?.[1]
  const died = server.exit()
  if (died) findings.push(`${label}: the server died ${JSON.stringify(died)}: ${server.stderrTail()}`)
  if (rss.length === 2 && (rss[1]! - rss[0]! > RSS_GROWTH_LIMIT || rss[1]! > RSS_LIMIT)) findings.push(`${label}: RSS ${rss.map((bytes) => (bytes / 2 ** 20).toFixed(0)).join(' -> ')} MiB over two rounds`)
  const stopped = await server.stop()
  if (!died && stopped.code !== 0) findings.push(`${label}: SIGTERM ended it with ${JSON.stringify(stopped)}: ${server.stderrTail()}`)
  const caching = server.banner.find((line) => line.startsWith('kv cache:'))?.match(/prefix caching (\w+)/)?.[1]
  const mib = rss.map((bytes) => (bytes / 2 ** 20).toFixed(0)).join(' -> ')
  return {reference, figures: `${preemptions} preemptions, ${cancelledRuns} background runs cancelled, prefix caching ${caching}, ${slots ?? 'no'} state slots, RSS ${mib} MiB`}
}

/** `generate` with the corpus' features as flags: each must exit 0, or with a one-line reason (never a stack, a signal or a hang). */
async function attackGenerate(kind: Kind, model: string, chat: boolean, reference: string | null): Promise<number> {
  const base = ['generate', '--model', model, '--threads', '1', '--batch-invariant', '--num-blocks', '16', '--max-model-len', String(MAX_MODEL_LEN), '--seed', '1']
  const every = JSON.stringify(Object.fromEntries(Array.from({length: 64}, (_, id) => [String(id), 50])))
  const runs: [string, string[], 'ok' | 'error' | 'any'][] = [
    ['greedy', [String(REFERENCE.prompt), '--max-tokens', '10', '--temperature', '0', '--ignore-eos', '--json'], 'ok'],
    ['samples', ['hi', 'there', '--n', '3', '--best-of', String(MAX_NUM_SEQS), '--logprobs', '20', '--prompt-logprobs', '20', '--max-tokens', '4', '--temperature', '1', '--presence-penalty', '2', '--repetition-penalty', '1.5', '--logit-bias', every, '--json'], 'ok'],
    ['beams', ['hi', '--beam-width', '3', '--max-tokens', '4', '--json'], 'ok'],
    ['guided', ['hi', '--json-schema', JSON.stringify({type: 'object', properties: {k: {type: 'string', maxLength: 3}}, required: ['k']}), '--max-tokens', '20', '--n', '2'], 'ok'],
    ['grammar', ['hi', '--grammar', 'root ::= "yes" | "no"', '--max-tokens', '4', '--stop', 'e'], 'ok'],
    ['too long', ['word '.repeat(MAX_MODEL_LEN * 2), '--max-tokens', '2'], 'error'],
    ['tiny pool', ['hi', '--num-blocks', '2', '--n', '4', '--max-tokens', '40', '--ignore-eos'], 'any'],
    ['chat', ['hi', '--chat', '--max-tokens', '3'], chat ? 'ok' : 'error'],
    ['speculative', ['hi hi hi', '--speculative-method', 'ngram', '--max-tokens', '4', '--prefix-caching', '--no-chunked-prefill'], 'any'],
  ]
  for (const [name, args, expect] of runs) {
    const result = await runPagedllm([...base, ...args], 120_000)
    attackCount++
    const label = `generate ${kind.name} ${name}`
    const stack = INTERNALS.exec(result.stderr)
    if (result.signal) findings.push(`${label}: killed by ${result.signal} (${(result.ms / 1000).toFixed(1)} s): ${result.stderr.slice(-300)}`)
    else if (stack) findings.push(`${label}: exit ${result.code} with internals: ${result.stderr.slice(-400)}`)
    else if (expect === 'ok' && result.code !== 0) findings.push(`${label}: exit ${result.code}: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`)
    else if (expect === 'error' && (result.code === 0 || result.stderr.trim() === '')) findings.push(`${label}: exit ${result.code}, expected a refusal: ${result.stderr.slice(-200)}`)
    if (process.env.VERBOSE) console.log(`  ${label}: exit ${result.code} ${(result.ms / 1000).toFixed(1)} s ${result.code !== 0 ? result.stderr.trim().split('\n').slice(-1)[0] : ''}`)
    if (name === 'greedy' && result.code === 0 && reference !== null) {
      const got = JSON.parse(result.stdout)[0].outputs[0].text
      if (got !== reference) findings.push(`${label}: generate's greedy text ${JSON.stringify(got)} != the server's ${JSON.stringify(reference)}`)
    }
  }
  return runs.length
}

const started = performance.now()
let servers = 0
for (const kind of kinds) {
  const kindStarted = performance.now()
  const before = findings.length
  const {model, limits} = await makeModel(kind)
  let reference: string | null = null
  const parts: string[] = []
  for (const flavor of flavors(kind).filter((each) => !options.flavors || options.flavors.split(',').includes(each.name))) {
    const result = await attackServer(`serve ${kind.name} (${flavor.name})`, model, flavor.flags, flavor.rounds, limits)
    servers++
    reference ??= result.reference
    parts.push(`${flavor.name}: ${result.figures}`)
  }
  const generated = options['skip-generate'] ? 0 : await attackGenerate(kind, model, limits.chat, reference)
  const line = `${kind.name}: ${parts.join('; ')}; ${generated} generate runs; ${findings.length - before} findings in ${((performance.now() - kindStarted) / 1000).toFixed(0)} s (load ${loadavg()[0]!.toFixed(1)})`
  console.log(line)
}
for (const each of findings) console.log(`FINDING ${each}`)
console.log(`${attackCount} attacks on ${servers} servers and their generate runs: ${findings.length} findings in ${((performance.now() - started) / 1000).toFixed(0)} s`)
process.exit(findings.length === 0 ? 0 : 1)
