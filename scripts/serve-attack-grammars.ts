// Hostile structured-output requests against the real `pagedllm serve` (dist/, a child process, the built-in model
// unless extra flags name another): huge schemas, counted repetitions, pathological regexes and grammars, on
// /v1/chat/completions and /v1/completions. While each class runs, /health and a plain client are timed: no request
// may stall the event loop or starve the others. Every reply must be a well-formed 200 or a 4xx (never a 5xx, never a
// hang), a few must match their literal, and the KV blocks must be back to idle at the end.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-grammars.ts [--match TEXT] [--repeat 3] [-- extra serve flags]
import {type ChildProcess, spawn} from 'node:child_process'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {drainedProblem} from './fuzz-serve-checks.js'
import {gist, problemOf, request, type Reply, type Target} from './serve-attack-wire.js'

const {values: options, positionals: extraFlags} = parseArgs({
  allowPositionals: true,
  options: {match: {type: 'string'}, repeat: {type: 'string', default: '3'}, root: {type: 'string', default: '.'}},
})
const root = resolve(options.root)

/** One hostile constraint: the request fields that carry it, and what a 200's text must satisfy (if anything). */
interface Shape {
  name: string
  fields: Record<string, unknown>
  /** Checked on a 200's generated text. */
  matches?: (text: string) => boolean
}

const json = (name: string, schema: unknown, matches?: Shape['matches']): Shape => ({name, fields: {response_format: {type: 'json_schema', json_schema: {name: 'x', schema}}}, matches})
/** `check`: test a 200's text against the pattern here (not for the ambiguous ones: JavaScript's backtracking would hang on them). */
const regex = (name: string, pattern: string, check = true): Shape => ({name, fields: {guided_regex: pattern}, matches: check ? (text) => new RegExp(`^(?:${pattern})$`, 'u').test(text) || text.length === 0 : undefined})
const grammar = (name: string, ebnf: string): Shape => ({name, fields: {guided_grammar: ebnf}})
const isJsonOf = (check: (value: any) => boolean) => (text: string) => {
  try {
    return check(JSON.parse(text))
  } catch {
    return false
  }
}

function nested(depth: number, leaf: unknown): unknown {
  let schema = leaf
  for (let i = 0; i < depth; i++) schema = {type: 'object', properties: {a: schema}, required: ['a']}
  return schema
}

const BIG = 20_000
const SHAPES: Shape[] = [
  json('enum of 20,000 strings', {enum: Array.from({length: BIG}, (_, i) => `value-${i}`)}),
  json('anyOf of 20,000 consts', {anyOf: Array.from({length: BIG}, (_, i) => ({const: `c${i}`}))}),
  json('anyOf of 5,000 objects', {anyOf: Array.from({length: 5000}, (_, i) => ({type: 'object', properties: {[`k${i}`]: {type: 'integer'}}, required: [`k${i}`]}))}),
  json('string maxLength 400', {type: 'string', maxLength: 400}),
  json('string minLength 300 maxLength 400', {type: 'string', minLength: 300, maxLength: 400}),
  json('string minLength 300', {type: 'string', minLength: 300}),
  json('string maxLength 100000', {type: 'string', maxLength: 100_000}),
  json('pattern [a-z]{300,400}', {type: 'string', pattern: '^[a-z]{300,400}$'}),
  json('pattern with two long runs', {type: 'string', pattern: '^[a-z]{20,300}-[0-9]{20,300}$'}),
  json('two properties with long patterns', {type: 'object', properties: {a: {type: 'string', pattern: '^x{200,300}$'}, b: {type: 'string', pattern: '^y{200,300}$'}}, required: ['a', 'b']}),
  json('enum literal "[ab]{3}"', {enum: ['[ab]{3}']}, isJsonOf((value) => value === '[ab]{3}')),
  json('const literal "[^x]{2,5}" and "{3}"', {type: 'object', properties: {a: {const: '[^x]{2,5}'}, b: {const: '{3}'}}, required: ['a', 'b']}, isJsonOf((value) => value.a === '[^x]{2,5}' && value.b === '{3}')),
  json('nested 32 deep', nested(32, {type: 'integer'})),
  json('nested 33 deep', nested(33, {type: 'integer'})),
  json('array minItems 100000', {type: 'array', items: {type: 'integer'}, minItems: 100_000}),
  json('array maxItems 2^31-1', {type: 'array', items: {type: 'integer'}, maxItems: 2 ** 31 - 1}),
  json('array minItems 300 maxItems 400', {type: 'array', items: {type: 'integer'}, minItems: 300, maxItems: 400}),
  json('integer min -2^53 max 2^53', {type: 'integer', minimum: -(2 ** 53), maximum: 2 ** 53}),
  json('number min 1e308', {type: 'number', minimum: 1e308}),
  json('integer min > max', {type: 'integer', minimum: 10, maximum: 1}),
  json('string minLength > maxLength', {type: 'string', minLength: 10, maxLength: 1}),
  json('empty schema', {}),
  json('false schema', false),
  json('not', {not: {type: 'string'}}),
  json('$ref cycle', {$defs: {a: {$ref: '#/$defs/a'}}, $ref: '#/$defs/a'}),
  json('recursive list', {$defs: {n: {type: 'array', items: {$ref: '#/$defs/n'}}}, $ref: '#/$defs/n'}),
  json('10,000 properties', {type: 'object', properties: Object.fromEntries(Array.from({length: 10_000}, (_, i) => [`p${i}`, {type: 'integer'}]))}),
  json('unicode class pattern', {type: 'string', pattern: '^[\u4e00-\u9fff\u{1F600}-\u{1F64F}]{1,40}$'}),
  json('\\p{L} pattern', {type: 'string', pattern: '^\\p{L}+$'}),
  regex('regex a{300,400}', 'a{300,400}'),
  regex('regex [a-z]{300,400}', '[a-z]{300,400}'),
  regex('regex two long runs', '[a-z]{100,300}-[0-9]{100,300}'),
  regex('regex [ab]{3} literal text', '\\[ab\\]\\{3\\}'),
  regex('regex (a*)*b', '(a*)*b', false),
  regex('regex (a|a)*(a|aa)*c', '(a|a)*(a|aa)*c', false),
  regex('regex .{0,5000}', '.{0,5000}'),
  regex('regex x{100000}', 'x{100000}'),
  regex('regex 70 nested groups', '('.repeat(70) + 'a' + ')'.repeat(70)),
  regex('regex unicode class', '[\u0400-\u04ff]{2,30}'),
  regex('regex bad', '(['),
  grammar('grammar 2,000 alternatives', `root ::= ${Array.from({length: 2000}, (_, i) => `"w${i}"`).join(' | ')}`),
  grammar('grammar left recursion', 'root ::= root "a" | "b"'),
  grammar('grammar undefined rule', 'root ::= missing'),
  grammar('grammar class run {0,400}', 'root ::= [a-z]{0,400}'),
  {name: 'guided_choice 20,000', fields: {guided_choice: Array.from({length: BIG}, (_, i) => `choice ${i}`)}},
]

interface Server {
  child: ChildProcess
  target: Target
  ready: Promise<void>
}

function startServer(): Promise<Server> {
  const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'serve', '--port', '0', '--threads', '1', ...extraFlags], {stdio: ['ignore', 'pipe', 'pipe']})
  process.on('exit', () => child.kill('SIGKILL'))
  let onReady: () => void = () => {}
  const ready = new Promise<void>((done) => (onReady = done))
  return new Promise((resolveServer, reject) => {
    let text = ''
    let listening = false
    const onData = (chunk: Buffer) => {
      text += chunk
      const match = /listening on http:\/\/([^:]+):(\d+)/.exec(text)
      if (match && !listening) {
        listening = true
        resolveServer({child, target: {host: match[1]!, port: Number(match[2]), url: `http://${match[1]}:${match[2]}`}, ready})
      }
      if (/ready: model/.test(text)) onReady()
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${text.slice(-2000)}`)))
  })
}

const percentile = (values: number[], p: number) => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!)
const sleep = (ms: number) => new Promise<void>((wait) => setTimeout(wait, ms))

/** /health every 50 ms and a plain client's short completions, timed until `stop` resolves. */
async function watch(target: Target, stop: Promise<void>): Promise<{health: number[]; plain: number[]; plainFailures: string[]}> {
  let running = true
  void stop.then(() => (running = false))
  const health: number[] = []
  const plain: number[] = []
  const plainFailures: string[] = []
  await Promise.all([
    (async () => {
      while (running) {
        const started = performance.now()
        const reply = await request(target, 'GET', '/health', undefined, {}, AbortSignal.timeout(30_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
        health.push(reply.status === 200 ? performance.now() - started : Infinity)
        await sleep(50)
      }
    })(),
    (async () => {
      while (running) {
        const started = performance.now()
        const reply = await request(target, 'POST', '/v1/completions', {prompt: 'Once upon a time', max_tokens: 8}, {}, AbortSignal.timeout(120_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
        if (reply.status === 200) plain.push(performance.now() - started)
        else plainFailures.push(gist(reply))
      }
    })(),
  ])
  return {health, plain, plainFailures}
}

/** The generated text of a 200 reply, per route. */
function generated(path: string, reply: Reply): string {
  const body = JSON.parse(reply.text)
  return path === '/v1/chat/completions' ? body.choices[0].message.content ?? '' : body.choices[0].text
}

/** Whether the output ended on its own (a cut one is only a prefix of a match). */
const finished = (reply: Reply) => JSON.parse(reply.text).choices[0].finish_reason === 'stop'


/** One shape, sent `repeat` times on each route (the repeats are what a cache must make cheap). */
async function attack(target: Target, shape: Shape, repeat: number): Promise<string[]> {
  const problems: string[] = []
  for (let i = 0; i < repeat; i++) {
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const body = {...(path === '/v1/completions' ? {prompt: 'Answer:'} : {messages: [{role: 'user', content: 'Answer.'}]}), max_tokens: 48, temperature: 0, ...shape.fields}
      let reply: Reply
      try {
        reply = await request(target, 'POST', path, body, {}, AbortSignal.timeout(180_000))
      } catch (error) {
        problems.push(`${path}: no reply (${(error as Error).message})`)
        continue
      }
      const problem = problemOf(path, reply, body)
      if (problem) problems.push(`${path}: ${problem}: ${gist(reply)}`)
      else if (reply.status !== 200 && (reply.status < 400 || reply.status >= 500)) problems.push(`${path}: ${gist(reply)}`)
      else if (reply.status === 200 && shape.matches && finished(reply) && !shape.matches(generated(path, reply))) problems.push(`${path}: output ${JSON.stringify(generated(path, reply)).slice(0, 120)} does not match`)
      if (i === 0 && path === '/v1/chat/completions') console.log(`    ${reply.status} ${reply.status === 200 ? JSON.stringify(generated(path, reply)).slice(0, 60) : JSON.parse(reply.text).error?.message?.slice(0, 110)}`)
    }
  }
  return problems
}

const server = await startServer()
await server.ready
const {target} = server
console.log(`server on ${target.url} (load ${loadavg()[0]!.toFixed(2)})`)
const baselineStop = sleep(3000)
const baseline = await watch(target, baselineStop)
console.log(`baseline: /health p50 ${percentile(baseline.health, 0.5).toFixed(1)} ms max ${Math.max(...baseline.health).toFixed(1)} ms; plain p50 ${percentile(baseline.plain, 0.5).toFixed(0)} ms`)
const findings: string[] = []
for (const shape of SHAPES.filter((each) => !options.match || each.name.includes(options.match))) {
  console.log(`  ${shape.name}`)
  let finish: () => void = () => {}
  const done = new Promise<void>((resolveDone) => (finish = resolveDone))
  const watching = watch(target, done)
  const started = performance.now()
  const problems = await attack(target, shape, Number(options.repeat)).finally(finish)
  const {health, plain, plainFailures} = await watching
  const seconds = (performance.now() - started) / 1000
  console.log(`    ${seconds.toFixed(1)} s; /health p50 ${percentile(health, 0.5).toFixed(1)} ms max ${Math.max(...health).toFixed(1)} ms; plain p50 ${percentile(plain, 0.5).toFixed(0)} ms max ${Math.max(0, ...plain).toFixed(0)} ms (${plain.length} served; load ${loadavg()[0]!.toFixed(2)})`)
  for (const problem of [...problems, ...plainFailures.map((each) => `plain client: ${each}`)]) findings.push(`${shape.name}: ${problem}`)
  if (Math.max(...health) > 250) findings.push(`${shape.name}: /health took ${Math.max(...health).toFixed(0)} ms`)
}
let leak: string | null = 'never read'
for (let i = 0; i < 80 && leak; i++) {
  leak = drainedProblem((await request(target, 'GET', '/metrics')).text)
  if (leak) await sleep(250)
}
if (leak) findings.push(`not drained: ${leak}`)
console.log(findings.length === 0 ? 'no findings; KV blocks back to idle' : `${findings.length} findings:\n${findings.map((each) => `  ${each}`).join('\n')}`)
server.child.kill('SIGKILL')
process.exit(findings.length === 0 ? 0 : 1)
