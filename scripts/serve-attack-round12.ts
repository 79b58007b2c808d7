// Round 12 of the serve attacks (docs/PERFORMANCE.md, "Round 12, serving"): clients that leave while their big bodies wait
// for a tokenizer worker, one client's n = 16 requests filling --max-concurrent-requests beside a 1-sequence client,
// clients leaving every kind of generation on a small prefix-cached KV pool, type-confused fields on every route, limit and
// stream edges, HTTP odds. Each class runs on its own `pagedllm serve` (dist/, built-in model); after each, /health must
// be 200, the engine drained (no KV block, request or admitted sequence held) and a normal request served.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-round12.ts [--only bodies,share,aborts,fields,edges,http] [--seconds 15]
import {connect} from 'node:net'
import {parseArgs} from 'node:util'
import {attackRun, idleProblem, load, percentiles, sleep} from './serve-attack-harness.js'
import {gist, problemOf, raw, request, type Target} from './serve-attack-wire.js'

const {values: options} = parseArgs({options: {only: {type: 'string', default: 'bodies,share,aborts,fields,edges,http'}, seconds: {type: 'string', default: '15'}}})
const seconds = Number(options.seconds)
const NORMAL = {path: '/v1/completions', body: {prompt: 'still serving?', max_tokens: 2}}
const {findings, finding, withServer} = attackRun(NORMAL)

async function timed(t: Target, path: string, body: unknown): Promise<number> {
  const started = performance.now()
  const reply = await request(t, 'POST', path, body, {}, AbortSignal.timeout(120_000))
  if (reply.status !== 200) throw new Error(`${path}: ${gist(reply)}`)
  return performance.now() - started
}

/** A POST the client leaves after `ms` (its reply's status, or 'left'). */
async function leaveAfter(t: Target, path: string, body: unknown, ms: number): Promise<string> {
  const reply = await request(t, 'POST', path, body, {}, AbortSignal.timeout(ms)).catch(() => null)
  return reply === null ? 'left' : String(reply.status)
}

/**
 * 8 clients each send a 3.25 MB chat of 10^5 messages (a 400: more messages than the context holds) and leave 20 ms
 * after it is sent (`leave`) or wait for the 400, for `seconds`, while a normal client sends 2-token chats. The bodies'
 * checks used to be posted straight to the workers and run for clients long gone; a body waiting for --max-body-memory
 * on a paused socket does not see its client leave until it is read, so those wait their turn in any case.
 */
async function bigBodies(t: Target, leave: boolean): Promise<void> {
  const big = JSON.stringify({messages: Array.from({length: 100_000}, (_, i) => ({role: i % 2 ? 'assistant' : 'user', content: 'x'})), max_tokens: 2})
  const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(big)}\r\n\r\n`
  let stop = false
  let sent = 0
  const sendAndLeave = () =>
    new Promise<void>((resolve) => {
      const socket = connect(t.port, t.host)
      socket.on('error', () => {})
      socket.on('close', () => resolve())
      socket.on('data', () => socket.destroy())
      socket.write(head)
      socket.write(big, () => (sent++, leave && setTimeout(() => socket.destroy(), 20)))
    })
  const flood = Array.from({length: 8}, async () => {
    while (!stop) await sendAndLeave()
  })
  const latencies: number[] = []
  const chat = {messages: [{role: 'user', content: 'hello'}], max_tokens: 2}
  for (const until = performance.now() + seconds * 1000; performance.now() < until; ) latencies.push(await timed(t, '/v1/chat/completions', chat))
  stop = true
  await Promise.all(flood)
  const after: number[] = []
  for (let i = 0; i < 5; i++) after.push(await timed(t, '/v1/chat/completions', chat))
  console.log(`  bodies: ${sent} 3.25 MB bodies ${leave ? 'left 20 ms after sending' : 'waiting for their 400s'}; normal chats beside them: ${percentiles(latencies)}; right after: ${percentiles(after)} (load ${load()})`)
  const worst = Math.max(...latencies, ...after)
  if (leave && worst > 15_000) finding('bodies', `a normal chat waited ${worst.toFixed(0)} ms behind clients that had left`)
}

/** 2 clients loop n = 16 x 400-token requests on --max-num-seqs 32 --max-concurrent-requests 32; a third sends 4-token requests. */
async function shareAdmission(t: Target): Promise<void> {
  let stop = false
  const bigStatuses: number[] = []
  const bigs = Array.from({length: 2}, async () => {
    while (!stop) bigStatuses.push((await request(t, 'POST', '/v1/completions', {prompt: 'big', n: 16, max_tokens: 400, ignore_eos: true}, {}, AbortSignal.timeout(300_000))).status)
  })
  await sleep(2000)
  const latencies: number[] = []
  for (const until = performance.now() + seconds * 1000; performance.now() < until; ) latencies.push(await timed(t, '/v1/completions', {prompt: 'normal', max_tokens: 4}))
  stop = true
  await Promise.all(bigs)
  console.log(`  share: big requests ${bigStatuses.join(',')}; the 1-sequence client: ${percentiles(latencies)} (load ${load()})`)
  if (bigStatuses.some((status) => status !== 200)) finding('share', `a big request was not served: ${bigStatuses.join(',')}`)
  const sorted = [...latencies].sort((a, b) => a - b)
  if (sorted[sorted.length >> 1]! > 3000) finding('share', `1-sequence requests waited p50 ${sorted[sorted.length >> 1]!.toFixed(0)} ms behind one client's n = 16 requests`)
}

const PREFIX = 'the shared prefix of many prompts '.repeat(20)

/** Clients leaving every kind of generation at staggered moments on 64 prefix-cached blocks; each step must drain. */
async function aborts(t: Target): Promise<void> {
  const kinds: [string, (i: number) => Promise<string>][] = [
    ['best_of 4, n 2', (i) => leaveAfter(t, '/v1/completions', {prompt: PREFIX + i, best_of: 4, n: 2, max_tokens: 60, ignore_eos: true}, 300 + i * 200)],
    ['beam search', (i) => leaveAfter(t, '/v1/completions', {prompt: PREFIX + i, use_beam_search: true, n: 3, best_of: 3, max_tokens: 60}, 200 + i * 300)],
    ['echo + prompt_logprobs 20 + logprobs 20, n 3', (i) => leaveAfter(t, '/v1/completions', {prompt: PREFIX + i, prompt_logprobs: 20, echo: true, logprobs: 20, max_tokens: 60, n: 3}, 100 + i * 200)],
    ['streamed Responses', (i) => leaveAfter(t, '/v1/responses', {input: PREFIX + i, stream: true, max_output_tokens: 300}, 100 + i * 150)],
    ['json_schema chats, n 3, during compile and decode (the last one kept)', (i) => leaveAfter(t, '/v1/chat/completions', {messages: [{role: 'user', content: PREFIX + i}], max_tokens: 150, n: 3, response_format: {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'object', properties: {[`k${i}`]: {type: 'string', maxLength: 500}}, required: [`k${i}`]}}}}, i === 5 ? 120_000 : 50 + i * 200)],
    ['preemption storm, streamed and not, every third left', (i) => (i % 3 === 0 ? leaveAfter(t, '/v1/completions', {prompt: PREFIX + i, max_tokens: 400, ignore_eos: true, stream: i % 2 === 0}, 500 + i * 100) : leaveAfter(t, '/v1/completions', {prompt: PREFIX + i, max_tokens: 400, ignore_eos: true, stream: i % 2 === 0}, 300_000))],
  ]
  for (const [name, each] of kinds) {
    const count = name.startsWith('preemption') ? 24 : 6
    const statuses = await Promise.all(Array.from({length: count}, (_, i) => each(i)))
    const bad = statuses.filter((status) => status !== 'left' && status !== '200')
    if (bad.length > 0) finding('aborts', `${name}: statuses ${statuses.join(',')}`)
    const problem = await idleProblem(t, NORMAL)
    if (problem) finding('aborts', `after ${name}: ${problem}`)
    const metrics = (await request(t, 'GET', '/metrics')).text
    console.log(`  aborts: ${name}: ${statuses.join(',')}; preemptions so far ${/^pagedllm_num_preemptions_total (\S+)/m.exec(metrics)?.[1]} (load ${load()})`)
  }
}

const ROUTES: Record<string, string> = {
  '/v1/completions': '"prompt":"hi","max_tokens":3',
  '/v1/chat/completions': '"messages":[{"role":"user","content":"hi"}],"max_tokens":3',
  '/v1/responses': '"input":"hi","max_output_tokens":3',
  '/tokenize': '"prompt":"hi"',
  '/detokenize': '"tokens":[1,2]',
}
const FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'n', 'best_of', 'seed', 'logprobs', 'top_logprobs', 'prompt_logprobs', 'min_tokens', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'length_penalty', 'truncate_prompt_tokens', 'priority', 'stop', 'stop_token_ids', 'logit_bias', 'allowed_token_ids', 'bad_words', 'echo', 'stream', 'stream_options', 'add_special_tokens', 'skip_special_tokens', 'include_stop_str_in_output', 'ignore_eos', 'use_beam_search', 'model', 'user', 'prompt', 'tokens', 'messages', 'input', 'instructions', 'previous_response_id', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'text', 'reasoning', 'include', 'store', 'metadata', 'guided_json', 'guided_regex', 'guided_choice', 'guided_grammar', 'structured_outputs', 'chat_template', 'chat_template_kwargs', 'add_generation_prompt', 'continue_final_message', 'documents', 'return_tokens_as_token_ids', 'return_token_ids', 'cache_salt', 'request_id']
/** As raw JSON: values JSON.parse turns into Infinity, -0, rounded or prototype-looking keys. */
const VALUES = ['1e999', '-1e999', '-0', '-0.0', '9007199254740993', '18446744073709551616', '"3"', '"NaN"', '"Infinity"', '[[1]]', '[["x"]]', '"\\ud800"', '"\\udfff\\ud800"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":1}}', '{"toString":1,"valueOf":2}', '1.0', '2.5', '1e-320', 'true', '[]', '{}', '[null]', 'null']

/** Every field of every route as each value: never a 5xx, a hang or a 200 that breaks the reply shape. */
async function fields(t: Target): Promise<void> {
  let sent = 0
  const statuses = new Map<number, number>()
  for (const [path, base] of Object.entries(ROUTES))
    for (const field of FIELDS)
      for (const value of VALUES) {
        const text = `{${base},"${field}":${value}}`
        const reply = await request(t, 'POST', path, text, {}, AbortSignal.timeout(60_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
        sent++
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
        const problem = reply.status === 0 ? `no reply: ${reply.text}` : problemOf(path, reply, JSON.parse(text))
        if (problem) finding('fields', `${path} ${field}: ${value}: ${problem} (${gist(reply)})`)
      }
  console.log(`  fields: ${sent} requests, statuses ${[...statuses].map(([status, count]) => `${status} x${count}`).join(', ')} (load ${load()})`)
}

/** Limits and stream options at their edges: each a shaped 200 or a 4xx naming a field, never a 5xx. */
async function edges(t: Target): Promise<void> {
  const ids = (count: number) => Array.from({length: count}, () => 5)
  const chat = (extra: object) => ['/v1/chat/completions', {messages: [{role: 'user', content: 'hi'}], ...extra}] as const
  const cases: (readonly [string, object])[] = [
    ['/v1/completions', {prompt: 'hi', max_tokens: 0}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 0, echo: true, logprobs: 5}],
    ['/v1/completions', {prompt: 'hi', max_tokens: -1}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 1e9}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 2, min_tokens: 5}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 5, min_tokens: 5, stop: ['a', 'ab', 'abc']}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 5, stop: ['a', 'ab', '']}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 5, stop: 'x'.repeat(5000), include_stop_str_in_output: true}],
    ['/v1/completions', {prompt: ids(1022), max_tokens: 1, prompt_logprobs: 20, echo: true, logprobs: 20}],
    ['/v1/completions', {prompt: ids(1023), max_tokens: 1, prompt_logprobs: 20}],
    ['/v1/completions', {prompt: ids(1024), max_tokens: 1, prompt_logprobs: 20}],
    ['/v1/completions', {prompt: ids(1023), max_tokens: 1, echo: true, logprobs: 20, stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 3, stream: true, best_of: 3, n: 2, logprobs: 20}],
    ['/v1/completions', {prompt: 'hi', max_tokens: 3, stream: true, use_beam_search: true, n: 2, stream_options: {include_usage: true}}],
    ['/v1/completions', {prompt: ['a', 'b', 'c'], max_tokens: 3, stream: true, n: 2, stream_options: {include_usage: true, continuous_usage_stats: true}}],
    chat({max_tokens: 3, logprobs: true, top_logprobs: 20, stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}}),
    chat({max_tokens: 3, logprobs: false, top_logprobs: 20}),
    chat({max_tokens: 3, stream: false, stream_options: {include_usage: true}}),
    chat({max_completion_tokens: 3, max_tokens: 5000}),
    chat({max_tokens: 1020}),
    chat({max_tokens: 3, min_tokens: 3, stop: ['\n', '\n\n', ' '], n: 4, stream: true}),
    ['/v1/responses', {input: 'hi', max_output_tokens: 1, stream: true, top_logprobs: 20, include: ['message.output_text.logprobs']}],
    ['/v1/responses', {input: 'hi', max_output_tokens: 1020}],
    ['/tokenize', {prompt: 'x'.repeat(20_000)}],
    ['/detokenize', {tokens: ids(5000)}],
  ]
  const statuses: number[] = []
  for (const [path, body] of cases) {
    const reply = await request(t, 'POST', path, body, {}, AbortSignal.timeout(120_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
    statuses.push(reply.status)
    const problem = reply.status === 0 ? `no reply: ${reply.text}` : problemOf(path, reply, body)
    if (problem) finding('edges', `${path} ${JSON.stringify(body).slice(0, 120)}: ${problem} (${gist(reply)})`)
  }
  console.log(`  edges: ${cases.length} requests, statuses ${statuses.join(',')} (load ${load()})`)
}

/** HTTP odds: charsets and content types, chunk framing, methods and targets; never a 5xx or a silent hang. */
async function http(t: Target): Promise<void> {
  const body = JSON.stringify({prompt: 'hi', max_tokens: 2})
  const post = (headers: string, bytes: string | Buffer, target = '/v1/completions') => Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\nhost: x\r\n${headers}\r\n`, 'latin1'), Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1')])
  const utf16 = Buffer.from(body, 'utf16le')
  const cases: [string, Buffer][] = [
    ['utf-16 body', post(`content-type: application/json; charset=utf-16\r\ncontent-length: ${utf16.length}\r\n`, utf16)],
    ['text/plain', post(`content-type: text/plain\r\ncontent-length: ${body.length}\r\n`, body)],
    ['multipart type, JSON body', post(`content-type: multipart/form-data; boundary=x\r\ncontent-length: ${body.length}\r\n`, body)],
    ['two content types', post(`content-type: text/plain\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n`, body)],
    ['UTF-8 BOM', post(`content-type: application/json\r\ncontent-length: ${body.length + 3}\r\n`, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]))],
    ['chunk size past 2^64', post('content-type: application/json\r\ntransfer-encoding: chunked\r\n', `FFFFFFFFFFFFFFFFFF\r\n${body}\r\n0\r\n\r\n`)],
    ['20 KB chunk extension', post('content-type: application/json\r\ntransfer-encoding: chunked\r\n', `${body.length.toString(16)};x=${'x'.repeat(20_000)}\r\n${body}\r\n0\r\n\r\n`)],
    ['one-byte chunks', post('content-type: application/json\r\ntransfer-encoding: chunked\r\n', `${[...body].map((c) => `1\r\n${c}\r\n`).join('')}0\r\n\r\n`)],
    ['absolute-form target', post(`content-type: application/json\r\ncontent-length: ${body.length}\r\n`, body, 'http://elsewhere.example/v1/completions')],
    ['Upgrade: h2c on a POST', post(`connection: upgrade\r\nupgrade: h2c\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n`, body)],
    ['HTTP/2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['CONNECT', Buffer.from('CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['OPTIONS *', Buffer.from('OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['HEAD on a POST route', Buffer.from('HEAD /v1/completions HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['GET with a body', Buffer.from('GET /v1/models HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello')],
    ['12,000-byte query', Buffer.from(`GET /health?${'a=1&'.repeat(3000)} HTTP/1.1\r\nhost: x\r\n\r\n`)],
    ['encoded traversal in a model id', Buffer.from('GET /v1/models/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['bad percent-encoding', Buffer.from('GET /v1/responses/%zz%00 HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['keep-alive after a 400 body', Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n{x}GET /health HTTP/1.1\r\nhost: x\r\n\r\n`)],
  ]
  for (const [name, bytes] of cases) {
    const reply = await raw(t, [bytes], 1000)
    const bad = reply.statuses.length === 0 ? 'no reply' : reply.statuses.find((status) => status >= 500) ? `a ${reply.statuses.join(',')}` : null
    if (bad) finding('http', `${name}: ${bad} (${gist(reply)})`)
    console.log(`  http: ${name}: ${reply.statuses.join(',') || '-'}`)
  }
}

const only = new Set(options.only.split(','))
const BASE = ['--responses-store', '32', '--slow-client-timeout', '3']
if (only.has('bodies'))
  await withServer('bodies', BASE, async (t) => {
    await bigBodies(t, true)
    await bigBodies(t, false)
  })
if (only.has('share')) await withServer('share', [...BASE, '--max-num-seqs', '32', '--max-concurrent-requests', '32'], shareAdmission)
if (only.has('aborts')) await withServer('aborts', [...BASE, '--num-blocks', '64', '--prefix-caching'], aborts)
if (only.has('fields') || only.has('edges') || only.has('http'))
  await withServer('fields, edges, http', [...BASE, '--num-blocks', '64'], async (t) => {
    if (only.has('fields')) await fields(t)
    if (only.has('edges')) await edges(t)
    if (only.has('http')) await http(t)
  })
console.log(findings.length === 0 ? '\nno findings; every server drained and served a normal request after each class' : `\n${findings.length} findings:\n${findings.join('\n')}`)
process.exit(findings.length === 0 ? 0 : 1)
