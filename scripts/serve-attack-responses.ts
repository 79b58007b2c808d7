// The Responses API attacks (docs/PERFORMANCE.md, "Responses API, hostile input"): bodies continuing stored responses and
// big stored responses read, paged, replayed and continued while /health is timed (chain, stored), type-confused values
// on every Responses field (fields), the stored responses' lifecycle (background, cancel, streams cut at each phase,
// unknown and evicted ids), and greedy text against the chat route (parity). Each class runs
// on its own `pagedllm serve --responses-store` (dist/, built-in model); after each, /health must be 200, the engine
// drained (no KV block, request or admitted sequence held) and a normal request served.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-responses.ts [--only chain,stored,fields,lifecycle,parity] [--seconds 10]
import {spawn} from 'node:child_process'
import {parseArgs} from 'node:util'
import {attackRun, load, percentiles, sleep} from './serve-attack-harness.js'
import {gist, problemOf, type Reply, request, type Target} from './serve-attack-wire.js'

const {values: options} = parseArgs({options: {only: {type: 'string', default: 'chain,stored,fields,lifecycle,parity'}, seconds: {type: 'string', default: '10'}}})
const seconds = Number(options.seconds)
const {findings, finding, withServer} = attackRun({path: '/v1/responses', body: {input: 'still serving?', max_output_tokens: 2}}, ['--responses-store', '64'])

const post = (t: Target, path: string, body: unknown, ms = 60_000) =>
  request(t, 'POST', path, body, {}, AbortSignal.timeout(ms)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))

/** Times GET /health every 20 ms until told to stop, from its own process: the attack's clients share this one's loop. */
const PROBE = `
const url = process.argv[1]; const latencies = []; let stop = false
process.stdin.on('data', () => (stop = true)).resume()
;(async () => {
  while (!stop) {
    const started = performance.now()
    await fetch(url + '/health', {signal: AbortSignal.timeout(30000)}).then((r) => r.text()).catch(() => {})
    latencies.push(performance.now() - started)
    await new Promise((wake) => setTimeout(wake, 20))
  }
  process.stdout.write(JSON.stringify(latencies), () => process.exit(0))
})()`

/** /health latencies, one probe every 20 ms from a child process, while `attack` runs. */
async function healthDuring(t: Target, attack: (stop: AbortSignal) => Promise<unknown>): Promise<number[]> {
  const probe = spawn(process.execPath, ['-e', PROBE, t.url], {stdio: ['pipe', 'pipe', 'inherit']})
  let text = ''
  probe.stdout.on('data', (chunk) => (text += chunk))
  const exited = new Promise((resolve) => probe.on('exit', resolve))
  await sleep(300)
  await attack(new AbortController().signal)
  probe.stdin.end('stop')
  await exited
  return JSON.parse(text) as number[]
}

async function storedId(t: Target, body: object): Promise<string> {
  const reply = await post(t, '/v1/responses', {max_output_tokens: 2, temperature: 0, ...body})
  if (reply.status !== 200) throw new Error(`could not store a response: ${gist(reply)}`)
  return JSON.parse(reply.text).id
}

/**
 * 4 clients send 3.2 MB bodies of 10^5 input messages (a 400: more than the context holds) for `seconds`, with and
 * without previous_response_id; then small bodies continuing the longest chain the context allows. /health is timed.
 */
async function chainClass(): Promise<void> {
  await withServer('chain', [], async (t) => {
    const head = await storedId(t, {input: 'hello'})
    const items = Array.from({length: 100_000}, (_, index) => ({role: 'user', content: `m${index}`}))
    for (const [label, previous] of [['without previous_response_id', {}], ['with previous_response_id', {previous_response_id: head}]] as const) {
      const body = JSON.stringify({input: items, max_output_tokens: 2, ...previous})
      const statuses = new Map<number, number>()
      const latencies = await healthDuring(t, async (stop) => {
        const deadline = performance.now() + seconds * 1000
        await Promise.all(
          Array.from({length: 4}, async () => {
            while (performance.now() < deadline && !stop.aborted) {
              const reply = await post(t, '/v1/responses', body, 120_000)
              statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
            }
          }),
        )
      })
      console.log(`chain: 4 clients x ${(body.length / 1e6).toFixed(1)} MB bodies ${label} (${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}): /health ${percentiles(latencies)} (load ${load()})`)
    }
    // A chain of function calls: each response continues the last with 400 call/output pairs (the context's share).
    let previous = head
    const links = 40
    for (let link = 0; link < links; link++) {
      const input = Array.from({length: 50}, (_, index) => [
        {type: 'function_call', call_id: `c${link}_${index}`, name: 'f', arguments: '{}'},
        {type: 'function_call_output', call_id: `c${link}_${index}`, output: 'x'},
      ]).flat()
      const reply = await post(t, '/v1/responses', {input, previous_response_id: previous, max_output_tokens: 1})
      if (reply.status !== 200) {
        console.log(`chain: link ${link} refused: ${gist(reply)}`)
        break
      }
      previous = JSON.parse(reply.text).id
    }
    const latencies = await healthDuring(t, async () => {
      const deadline = performance.now() + seconds * 1000
      await Promise.all(
        Array.from({length: 4}, async () => {
          while (performance.now() < deadline) await post(t, '/v1/responses', {input: 'next', previous_response_id: previous, max_output_tokens: 1})
        }),
      )
    })
    console.log(`chain: 4 clients continuing a stored chain: /health ${percentiles(latencies)} (load ${load()})`)
    // A stored response whose input is 10^5 reasoning items (each replaces the last: the prompt stays small), then 4
    // clients page its input_items and 4 continue it.
    const reasoning = Array.from({length: 90_000}, () => ({type: 'reasoning', summary: []}))
    const big = await storedId(t, {input: [...reasoning, {role: 'user', content: 'hi'}]})
    const middleId = JSON.parse((await get(t, `/v1/responses/${big}/input_items?limit=1&order=asc`)).text).data[0].id as string
    for (const [label, send] of [
      ['GET its input_items (limit 100, after its first item: a scan of every id)', () => get(t, `/v1/responses/${big}/input_items?limit=100&after=${encodeURIComponent(middleId)}`)],
      ['continue it', () => post(t, '/v1/responses', {input: 'next', previous_response_id: big, max_output_tokens: 1, store: false})],
    ] as const) {
      const statuses = new Map<number, number>()
      const latencies = await healthDuring(t, async () => {
        const deadline = performance.now() + seconds * 1000
        await Promise.all(
          Array.from({length: 4}, async () => {
            while (performance.now() < deadline) {
              const reply = await send()
              statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
            }
          }),
        )
      })
      console.log(`chain: 4 clients ${label} of a stored 10^5-item input (${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}): /health ${percentiles(latencies)} (load ${load()})`)
    }
  })
}

/** Values of every JSON type and shape that break naive checks. */
const deep = (depth: number): unknown => Array.from({length: depth}).reduce<unknown>((inner) => ({a: [inner]}), 1)
const CONFUSED: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', '\ud800', [], [null], [[]], {}, {a: {}}, deep(500), 'y'.repeat(200_000)]
const FIELDS = [
  'input', 'instructions', 'max_output_tokens', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'text', 'reasoning', 'include', 'metadata', 'store',
  'stream', 'background', 'previous_response_id', 'truncation', 'parallel_tool_calls', 'top_logprobs', 'user', 'conversation', 'prompt', 'chat_template',
  'chat_template_kwargs', 'service_tier', 'model', 'seed', 'stop', 'max_tool_calls', 'prompt_cache_key', 'safety_identifier',
]
/** Nested fields and items, each given every confused value in turn. */
const NESTED: [string, (value: unknown) => object][] = [
  ['text.format', (value) => ({text: {format: value}})],
  ['text.format.type', (value) => ({text: {format: {type: value}}})],
  ['text.format.schema', (value) => ({text: {format: {type: 'json_schema', name: 'x', schema: value}}})],
  ['text.format.name', (value) => ({text: {format: {type: 'json_schema', name: value, schema: {type: 'object'}}}})],
  ['reasoning.effort', (value) => ({reasoning: {effort: value}})],
  ['reasoning.summary', (value) => ({reasoning: {summary: value}})],
  ['tools[0]', (value) => ({tools: [value]})],
  ['tools[0].name', (value) => ({tools: [{type: 'function', name: value}]})],
  ['tools[0].parameters', (value) => ({tools: [{type: 'function', name: 'f', parameters: value}]})],
  ['tool_choice.name', (value) => ({tools: [{type: 'function', name: 'f'}], tool_choice: {type: 'function', name: value}})],
  ['include[0]', (value) => ({include: [value]})],
  ['metadata.k', (value) => ({metadata: {k: value}})],
  ['input[0]', (value) => ({input: [value]})],
  ['input[0].role', (value) => ({input: [{role: value, content: 'hi'}]})],
  ['input[0].content', (value) => ({input: [{role: 'user', content: value}]})],
  ['input[0].content[0]', (value) => ({input: [{role: 'user', content: [value]}]})],
  ['input[0].content[0].text', (value) => ({input: [{role: 'user', content: [{type: 'input_text', text: value}]}]})],
  ['input[0].content[0].type', (value) => ({input: [{role: 'user', content: [{type: value, text: 'hi'}]}]})],
  ['input[0].type', (value) => ({input: [{type: value, role: 'user', content: 'hi'}]})],
  ['input[0].id', (value) => ({input: [{role: 'user', content: 'hi', id: value}]})],
  ['function_call.call_id', (value) => ({input: [{type: 'function_call', call_id: value, name: 'f', arguments: '{}'}, {type: 'function_call_output', call_id: 'c', output: 'o'}]})],
  ['function_call.arguments', (value) => ({input: [{type: 'function_call', call_id: 'c', name: 'f', arguments: value}, {type: 'function_call_output', call_id: 'c', output: 'o'}]})],
  ['function_call_output.output', (value) => ({input: [{role: 'user', content: 'hi'}, {type: 'function_call_output', call_id: 'c', output: value}]})],
  ['reasoning.content', (value) => ({input: [{type: 'reasoning', content: value}, {role: 'assistant', content: 'a'}, {role: 'user', content: 'b'}]})],
  ['reasoning.summary[0]', (value) => ({input: [{type: 'reasoning', summary: [value]}, {role: 'assistant', content: 'a'}, {role: 'user', content: 'b'}]})],
]

/**
 * Every top-level field and nested field given every confused value (with and without stream), each reply held to the
 * fuzzer's invariants (a well-formed 200, or a 4xx with OpenAI's error object naming a param); 5xx and hangs are findings.
 */
async function fieldsClass(): Promise<void> {
  await withServer('fields', [], async (t) => {
    const bodies: [string, object][] = []
    for (const field of FIELDS) for (const value of CONFUSED) bodies.push([field, {input: 'hi', max_output_tokens: 2, [field]: value}])
    for (const [name, make] of NESTED) for (const value of CONFUSED) bodies.push([name, {input: 'hi', max_output_tokens: 2, ...make(value)}])
    const statuses = new Map<number, number>()
    const unnamed = new Set<string>()
    let slowest = {ms: 0, what: ''}
    const accepted = new Map<string, string[]>()
    for (const [name, body] of bodies) {
      for (const stream of [false, true]) {
        const sent = {...body, ...(stream && !('stream' in body) ? {stream: true} : {})}
        const started = performance.now()
        const reply = await post(t, '/v1/responses', sent, 30_000)
        const ms = performance.now() - started
        const shown = JSON.stringify((body as Record<string, unknown>)[name.split(/[.[]/)[0]!])?.slice(0, 40) ?? 'undefined'
        if (ms > slowest.ms) slowest = {ms, what: `${name} = ${shown}${stream ? ' (stream)' : ''}: ${reply.status}`}
        if (reply.status === 200 && !stream) accepted.set(name, [...(accepted.get(name) ?? []), shown])
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
        // A background response's reply is the Response queued (the fuzzer's checks know finished ones).
        const queued = reply.status === 200 && (sent as {background?: unknown}).background === true && !stream
        const problem = reply.status === 0 ? `no reply: ${reply.text}` : queued ? null : problemOf('/v1/responses', reply, sent)
        if (problem) finding('fields', `${name} = ${JSON.stringify((body as Record<string, unknown>)[name.split(/[.[]/)[0]!]).slice(0, 80)}${stream ? ' (stream)' : ''}: ${problem}: ${gist(reply)}`)
        else if (reply.status === 400 && JSON.parse(reply.text).error.param === null && !/nests arrays and objects deeper/.test(reply.text)) unnamed.add(`${name}: ${JSON.parse(reply.text).error.message.slice(0, 100)}`)
      }
    }
    console.log(`fields: ${bodies.length * 2} bodies: ${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}; slowest ${slowest.ms.toFixed(0)} ms (${slowest.what}) (load ${load()})`)
    if (process.env.SHOW_ACCEPTED) for (const [name, values] of accepted) console.log(`  200: ${name}: ${values.join(' | ')}`)
    for (const what of unnamed) console.log(`  400 without a param: ${what}`)
  })
}

/** A stream the client reads until `leaveAfter` bytes (0: right after sending), then leaves; resolves to what it read. */
async function streamAndLeave(t: Target, body: object, leaveAfter: number): Promise<string> {
  const controller = new AbortController()
  let text = ''
  try {
    const response = await fetch(`${t.url}/v1/responses`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({...body, stream: true}), signal: controller.signal})
    if (leaveAfter === 0) return (controller.abort(), '')
    const reader = response.body!.getReader()
    while (text.length < leaveAfter) {
      const {value, done} = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
  } catch {
    // The client left.
  }
  controller.abort()
  return text
}

const get = (t: Target, path: string, method = 'GET') => request(t, method, path, undefined, {}, AbortSignal.timeout(30_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))

/**
 * Background runs cancelled at every moment, cancelled twice, deleted, listed and continued while running; streams left
 * at each phase (foreground and background, then resumed); unknown, deleted and evicted ids on every stored route; a
 * store of 64 filled past its bound; then 200 background responses left to finish, and the server's RSS and drain.
 */
async function lifecycleClass(): Promise<void> {
  await withServer('lifecycle', [], async (t, rss) => {
    const outcomes = new Map<string, number>()
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1)
    const expect = (what: string, reply: Reply, statuses: number[]) => {
      if (!statuses.includes(reply.status)) finding('lifecycle', `${what}: ${gist(reply)} (expected ${statuses.join('/')})`)
      else if (reply.status !== 200) {
        const problem = problemOf('/v1/responses/x', reply, {})
        if (problem) finding('lifecycle', `${what}: ${problem}`)
      }
    }
    const long = {input: 'Tell me a long story.', max_output_tokens: 400, temperature: 0}
    // Cancel at 0, 2, 10, 50 ms and after the end; twice; cancel, GET, DELETE, input_items, continue while running.
    for (const delay of [0, 2, 10, 50, 200]) {
      for (const stream of [false, true]) {
        const created = stream ? null : await post(t, '/v1/responses', {...long, background: true})
        const id = created ? JSON.parse(created.text).id : /"id":"(resp_[0-9a-f]+)"/.exec(await streamAndLeave(t, {...long, background: true}, 200))?.[1]
        if (!id) {
          finding('lifecycle', `background stream: no id in its first bytes`)
          continue
        }
        await sleep(delay)
        // Sent in this order on separate connections: while it runs, then as it is cancelled.
        const [retrieved, deleted, items, continued, cancel, again] = await Promise.all([
          get(t, `/v1/responses/${id}`),
          get(t, `/v1/responses/${id}`, 'DELETE'),
          get(t, `/v1/responses/${id}/input_items`),
          post(t, '/v1/responses', {input: 'and?', previous_response_id: id, max_output_tokens: 2}),
          post(t, `/v1/responses/${id}/cancel`, undefined),
          post(t, `/v1/responses/${id}/cancel`, undefined),
        ])
        count(`cancel ${cancel.status} ${JSON.parse(cancel.text).status ?? ''}`)
        count(`continue ${continued.status}`)
        count(`delete ${deleted.status}`)
        // 404: it ended and the DELETE before it removed it.
        expect(`cancel after ${delay} ms`, cancel, [200, 400, 404])
        expect(`a second cancel after ${delay} ms`, again, [200, 400, 404])
        expect(`GET while cancelling (${delay} ms)`, retrieved, [200])
        expect(`DELETE while cancelling (${delay} ms)`, deleted, [200, 400])
        expect(`input_items while cancelling (${delay} ms)`, items, [200, 404])
        expect(`continuing while cancelling (${delay} ms)`, continued, [200, 400, 404])
        const status = JSON.parse(cancel.text).status ?? JSON.parse(cancel.text).error?.message
        if (cancel.status === 200 && status !== 'cancelled') finding('lifecycle', `cancel after ${delay} ms answered status ${status}`)
        const resumed = await get(t, `/v1/responses/${id}?stream=true&starting_after=0`)
        expect(`resume after cancel (${delay} ms${stream ? ', stream' : ''})`, resumed, stream ? [200, 404] : [400, 404])
      }
    }
    // Streams left at each phase: before the first byte, after response.created, mid-deltas; foreground and background.
    for (const background of [false, true])
      for (const leaveAfter of [0, 50, 600, 3000]) {
        const read = await streamAndLeave(t, {...long, background}, leaveAfter)
        const id = /"id":"(resp_[0-9a-f]+)"/.exec(read)?.[1]
        if (background && id) {
          const resumed = await get(t, `/v1/responses/${id}?stream=true`)
          if (resumed.status !== 200 || !/response\.(completed|incomplete)/.test(resumed.text)) finding('lifecycle', `a background stream left after ${leaveAfter} bytes does not resume to its end: ${gist(resumed)}`)
        }
      }
    // Unknown ids on every stored route, odd ids, and ids past the store's bound.
    for (const id of ['resp_nope', '%00', '..', 'a'.repeat(5000), '%F0%9F%98%80', 'resp_x%2Fcancel'])
      for (const [method, path] of [['GET', `/v1/responses/${id}`], ['DELETE', `/v1/responses/${id}`], ['GET', `/v1/responses/${id}/input_items`], ['POST', `/v1/responses/${id}/cancel`]] as const) {
        const reply = method === 'POST' ? await post(t, path, undefined) : await get(t, path, method)
        expect(`${method} ${path.slice(0, 60)}`, reply, [404, 400])
      }
    const first = await storedId(t, {input: 'first'})
    for (let i = 0; i < 70; i++) await storedId(t, {input: `filler ${i}`})
    expect('GET of an evicted response', await get(t, `/v1/responses/${first}`), [404])
    const evictedChain = await post(t, '/v1/responses', {input: 'x', previous_response_id: first})
    expect('continuing an evicted response', evictedChain, [404])
    if (evictedChain.status === 404 && JSON.parse(evictedChain.text).error.param !== 'previous_response_id') finding('lifecycle', `continuing an evicted response: param ${JSON.parse(evictedChain.text).error.param}`)
    // 200 background responses, each left to finish; the store holds 64 and nothing else stays.
    const rssBefore = rss()
    const ids: string[] = []
    for (let i = 0; i < 200; i++) {
      const reply = await post(t, '/v1/responses', {input: `bg ${i}`, max_output_tokens: 8, background: true, stream: i % 2 === 0})
      if (reply.status === 200 && !reply.text.startsWith('event:') && !reply.text.startsWith('data:')) ids.push(JSON.parse(reply.text).id)
    }
    await sleep(3000)
    const last = ids.at(-1)!
    const ended = await get(t, `/v1/responses/${last}`)
    if (!/"status":"(completed|incomplete)"/.test(ended.text)) finding('lifecycle', `the last of 200 background responses: ${gist(ended)}`)
    const rssAfter = rss()
    console.log(`lifecycle: while cancelling: ${[...outcomes].map(([what, n]) => `${n} x ${what}`).join(', ')}`)
    console.log(`lifecycle: 200 background responses: RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB (load ${load()})`)
  })
}

/** The greedy text of a chat completion and of a response for the same conversation. */
async function bothTexts(t: Target, chat: object, responses: object): Promise<[string, string]> {
  const settings = {temperature: 0, seed: 1}
  const chatReply = await post(t, '/v1/chat/completions', {...chat, ...settings, max_tokens: 16})
  const responseReply = await post(t, '/v1/responses', {...responses, ...settings, max_output_tokens: 16})
  if (chatReply.status !== 200 || responseReply.status !== 200) return [gist(chatReply), gist(responseReply)]
  const message = JSON.parse(chatReply.text).choices[0].message
  const output = JSON.parse(responseReply.text).output as {type: string; content?: {text: string}[]; name?: string; arguments?: string}[]
  const calls = (message.tool_calls ?? []).map((call: {function: {name: string; arguments: string}}) => `${call.function.name}(${call.function.arguments})`)
  const chatText = [message.content ?? '', ...calls].join('|')
  const responseText = [output.filter((item) => item.type === 'message').flatMap((item) => item.content!.map((part) => part.text)).join(''), ...output.filter((item) => item.type === 'function_call').map((item) => `${item.name}(${item.arguments})`)].join('|')
  return [chatText, responseText]
}

/** The same conversation on both routes (greedy) must give the same text, including one continued by previous_response_id. */
async function parityClass(): Promise<void> {
  await withServer('parity', [], async (t) => {
    const tools = [{type: 'function', name: 'get_time', description: 'Time now', parameters: {type: 'object', properties: {zone: {type: 'string'}}}}]
    const chatTools = tools.map(({type, ...fn}) => ({type, function: fn}))
    const cases: [string, object, object][] = [
      ['a string input', {messages: [{role: 'user', content: 'Hello there'}]}, {input: 'Hello there'}],
      ['instructions', {messages: [{role: 'system', content: 'Be terse.'}, {role: 'user', content: 'Hi'}]}, {instructions: 'Be terse.', input: 'Hi'}],
      ['parts and turns', {messages: [{role: 'developer', content: 'Dev.'}, {role: 'user', content: [{type: 'text', text: 'a'}, {type: 'text', text: 'b'}]}, {role: 'assistant', content: 'ok'}, {role: 'user', content: 'more'}]},
        {input: [{role: 'developer', content: 'Dev.'}, {role: 'user', content: [{type: 'input_text', text: 'a'}, {type: 'input_text', text: 'b'}]}, {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'ok'}]}, {role: 'user', content: 'more'}]}],
      ['a tool round trip', {messages: [{role: 'user', content: 'time?'}, {role: 'assistant', content: null, tool_calls: [{id: 'c1', type: 'function', function: {name: 'get_time', arguments: '{}'}}]}, {role: 'tool', tool_call_id: 'c1', content: 'noon'}], tools: chatTools},
        {input: [{role: 'user', content: 'time?'}, {type: 'function_call', call_id: 'c1', name: 'get_time', arguments: '{}'}, {type: 'function_call_output', call_id: 'c1', output: 'noon'}], tools}],
      ['unicode and a lone surrogate', {messages: [{role: 'user', content: 'héllo \ud800 世界 😀'}]}, {input: 'héllo \ud800 世界 😀'}],
      ['a json_schema', {messages: [{role: 'user', content: 'x'}], response_format: {type: 'json_schema', json_schema: {name: 'o', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}},
        {input: 'x', text: {format: {type: 'json_schema', name: 'o', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}}],
    ]
    for (const [name, chat, responses] of cases) {
      const [chatText, responseText] = await bothTexts(t, chat, responses)
      if (chatText !== responseText) finding('parity', `${name}: chat ${JSON.stringify(chatText)} but responses ${JSON.stringify(responseText)}`)
    }
    // A chain of three turns by previous_response_id against the whole conversation sent to chat.
    const messages: object[] = []
    let previous: string | null = null
    for (const turn of ['one', 'two', 'three']) {
      messages.push({role: 'user', content: turn})
      const reply = await post(t, '/v1/responses', {input: turn, previous_response_id: previous, temperature: 0, max_output_tokens: 8})
      const chat = await post(t, '/v1/chat/completions', {messages, temperature: 0, max_tokens: 8})
      const text = JSON.parse(reply.text).output.flatMap((item: {content?: {text: string}[]}) => item.content ?? []).map((part: {text: string}) => part.text).join('')
      const chatText = JSON.parse(chat.text).choices[0].message.content
      if (text !== chatText) finding('parity', `chain turn ${turn}: chat ${JSON.stringify(chatText)} but responses ${JSON.stringify(text)}`)
      messages.push({role: 'assistant', content: chatText})
      previous = JSON.parse(reply.text).id
    }
    console.log(`parity: ${cases.length} conversations and a 3-turn chain compared (load ${load()})`)
  })
}

/** A stored response with 20 top logprobs per output token (the most a reply holds), then 4 clients GET it for `seconds`. */
async function storedClass(): Promise<void> {
  await withServer('stored', [], async (t) => {
    const body = {input: 'Write.', max_output_tokens: 1900, top_logprobs: 20, include: ['message.output_text.logprobs'], temperature: 0, text: {format: {type: 'json_schema', name: 'long', schema: {type: 'object', properties: {a: {type: 'string', minLength: 3000}}, required: ['a']}}}}
    const created = await post(t, '/v1/responses', body)
    const response = JSON.parse(created.text)
    // The same as a background stream, read to its end: its events are stored for GET ?stream=true.
    let streamed = {status: 0, contentType: '', text: ''}
    const creating = await healthDuring(t, async () => (streamed = await post(t, '/v1/responses', {...body, background: true, stream: true}, 120_000)))
    console.log(`stored: creating it as a background stream: /health ${percentiles(creating)} (load ${load()})`)
    const streamedId = /"id":"(resp_[0-9a-f]+)"/.exec(streamed.text)![1]!
    console.log(`stored: a response of ${response.usage.output_tokens} tokens with 20 top logprobs each: ${(created.text.length / 1e6).toFixed(1)} MB of JSON`)
    for (const [label, path] of [['GET it', `/v1/responses/${response.id}`], ['replay it as a background stream (GET ?stream=true)', `/v1/responses/${streamedId}?stream=true`], ['continue it', '']] as const) {
      let served = 0
      const send = () => (path === '' ? post(t, '/v1/responses', {input: 'next', previous_response_id: response.id, max_output_tokens: 1, store: false}) : get(t, path))
      const latencies = await healthDuring(t, async () => {
        const deadline = performance.now() + seconds * 1000
        await Promise.all(
          Array.from({length: 4}, async () => {
            while (performance.now() < deadline) if ((await send()).status === 200) served++
          }),
        )
      })
      console.log(`stored: 4 clients ${label} (${served} served): /health ${percentiles(latencies)} (load ${load()})`)
    }
  })
}

const classes: Record<string, () => Promise<void>> = {chain: chainClass, fields: fieldsClass, lifecycle: lifecycleClass, parity: parityClass, stored: storedClass}

for (const name of options.only.split(',')) {
  const run = classes[name]
  if (run === undefined) throw new Error(`no class ${name}: ${Object.keys(classes).join(', ')}`)
  await run()
}
console.log(findings.length === 0 ? 'no findings' : `${findings.length} findings:\n${findings.join('\n')}`)
