// Attacks the server on the newer model families (a hybrid with recurrent state slots, an MLA model, GPT-OSS with
// sinks and the harmony template), in process on their test models: every sampling feature, hostile values, streams
// cut mid-way, a tiny KV pool that preempts. After each model: no KV block or state slot held, nothing running, and a
// normal request served. Not part of npm test. Usage: npx tsx scripts/serve-attack-families.ts [--models qwen3_5,deepseek-v2,gptoss]
import {connect} from 'node:net'
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import {type TestModelVariant, ensureTestModel} from '../src/engine/model/test-model.js'
import {startTinyEngineServer} from '../test/support/server-harness.js'
import {drainedProblem} from './fuzz-serve-checks.js'
import {gist, problemOf, request, type Target} from './serve-attack-wire.js'

const {values: options} = parseArgs({options: {models: {type: 'string', default: 'qwen3_5,deepseek-v2,gptoss'}}})

const TOOLS = [{type: 'function', function: {name: 'f', parameters: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}]
const SCHEMA = {type: 'object', properties: {k: {type: 'string', maxLength: 4}}, required: ['k']}

/** [path, body] pairs: each feature alone and mixed, edge values of the fields the brief names. */
function corpus(maxModelLen: number): [string, unknown][] {
  const c = (extra: object) => ['/v1/completions', {prompt: 'hello there', max_tokens: 6, ...extra}] as [string, unknown]
  const chat = (extra: object) => ['/v1/chat/completions', {messages: [{role: 'user', content: 'hi'}], max_tokens: 6, ...extra}] as [string, unknown]
  const exact = Array.from({length: maxModelLen - 1}, (_, i) => 5 + (i % 50))
  return [
    c({n: 3}), c({n: 3, temperature: 0}), c({best_of: 4, n: 2}), c({use_beam_search: true, best_of: 3, n: 2}), c({n: 2, logprobs: 5}), c({prompt_logprobs: 3}),
    c({echo: true, logprobs: 2}), c({echo: true, max_tokens: 0, logprobs: 1}), c({stop: ['e', 'th'], n: 2}), c({guided_json: SCHEMA, n: 2}), c({guided_regex: '[a-c]{3}'}),
    c({n: 2, stream: true, stream_options: {include_usage: true}}), c({best_of: 3, stream: true}), c({n: 2, logprobs: 1, stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}}),
    c({max_tokens: 0}), c({max_tokens: 1}), c({max_tokens: 10 ** 9}), c({max_tokens: null}), c({seed: -1}), c({seed: 2 ** 64 + 1}), c({seed: 1.5}), c({seed: 2 ** 63}),
    c({top_k: -1}), c({top_k: 0}), c({top_k: 10 ** 9}), c({logit_bias: {'1e3': 5}}), c({logit_bias: {'99999999999999999999': 5}}), c({logit_bias: {'-1': 5}}), c({logit_bias: {'5': 'NaN'}}), c({logit_bias: {'5': 1e308}}),
    c({logit_bias: {abc: 1}}), c({min_tokens: 5, max_tokens: 3}), c({prompt: exact, max_tokens: 1}), c({prompt: [...exact, 7], max_tokens: 1}), c({prompt: exact, max_tokens: 1, echo: true, logprobs: 1}),
    c({prompt: ['a', 'b', 'c'], n: 2, stream: true, stream_options: {include_usage: true}}), c({n: 2, presence_penalty: 2, frequency_penalty: -2, repetition_penalty: 1.5}),
    chat({n: 2}), chat({max_completion_tokens: 3, max_tokens: 5}), chat({max_completion_tokens: 0}), chat({tools: TOOLS, tool_choice: 'required'}), chat({tools: TOOLS, tool_choice: {type: 'function', function: {name: 'f'}}}),
    chat({response_format: {type: 'json_schema', json_schema: {name: 's', schema: SCHEMA}}, n: 2}), chat({logprobs: true, top_logprobs: 3, n: 2, stream: true}), chat({use_beam_search: true, n: 2}),
    chat({stream: true, n: 3, stream_options: {include_usage: true}}), chat({prompt_logprobs: 2}), chat({echo: true}), chat({continue_final_message: true, add_generation_prompt: false, messages: [{role: 'user', content: 'x'}, {role: 'assistant', content: 'y'}]}),
    ['/v1/responses', {input: 'hi', max_output_tokens: 5}], ['/v1/responses', {input: 'hi', max_output_tokens: 5, stream: true}], ['/v1/responses', {input: 'hi', tools: [{type: 'function', name: 'f', parameters: SCHEMA}], tool_choice: 'required'}],
    ['/v1/responses', {input: 'hi', background: true, max_output_tokens: 5}], ['/tokenize', {prompt: 'hi'}], ['/detokenize', {tokens: [5, 6, 1e9]}], ['/v1/embeddings', {input: 'hi'}],
  ]
}

async function drained(target: Target, engine: LLMEngine): Promise<string | null> {
  let problem: string | null = 'never read'
  for (let i = 0; i < 80 && problem; i++) {
    problem = drainedProblem((await request(target, 'GET', '/metrics')).text)
    const slots = (engine as unknown as {blockManager: {stateSlots: {numFree: number; numSlots: number} | null}}).blockManager.stateSlots
    if (!problem && slots && slots.numFree !== slots.numSlots) problem = `${slots.numSlots - slots.numFree} state slots held`
    if (problem) await new Promise((wait) => setTimeout(wait, 250))
  }
  return problem
}

/** Streams cut after their first bytes, many at once, then the pool must drain. */
async function cutStreams(target: Target): Promise<void> {
  await Promise.all(Array.from({length: 24}, async (_, i) => {
    const controller = new AbortController()
    try {
      const response = await fetch(`${target.url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, signal: controller.signal,
        body: JSON.stringify({prompt: `cut ${i}`, max_tokens: 64, n: 1 + (i % 3), stream: true, ignore_eos: true, logprobs: i % 2 ? 2 : undefined})})
      const reader = response.body!.getReader()
      await reader.read()
      controller.abort()
    } catch {}
  }))
}

/** 200 connections at once that send half a request or nothing and drop; /health must still answer. */
async function churn(target: Target): Promise<string | null> {
  await Promise.all(Array.from({length: 200}, (_, i) => new Promise<void>((resolve) => {
    const socket = connect(target.port, target.host, () => {
      if (i % 2) socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 40\r\n\r\n{"prompt":`)
      setTimeout(() => socket.destroy(), i % 7)
    })
    socket.on('close', () => resolve()).on('error', () => {})
  })))
  const health = await request(target, 'GET', '/health', undefined, {}, AbortSignal.timeout(5000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
  const models = await request(target, 'GET', '/v1/models/?limit=-1&after=%ff&x=%00')
  return health.status !== 200 ? `/health after 200 dropped connections: ${gist(health)}` : models.status !== 200 ? `/v1/models with odd queries: ${gist(models)}` : null
}

const findings: string[] = []
for (const preset of options.models.split(',') as TestModelVariant[]) {
  const started = performance.now()
  const modelPath = await ensureTestModel('tiny', {variant: preset})
  for (const overrides of [{numBlocks: 256, enablePrefixCaching: true}, {numBlocks: 12, enablePrefixCaching: false}]) {
    const {server, engine, url} = await startTinyEngineServer({responsesStore: 16, slowClientTimeoutMs: 3000}, modelPath, overrides)
    const {port, hostname} = new URL(url)
    const target: Target = {host: hostname, port: Number(port), url}
    const label = `${preset} (${overrides.numBlocks} blocks)`
    let count = 0
    const list = corpus(engine.maxModelLen)
    await Promise.all([0, 1, 2].map(async (lane) => {
      for (let i = lane; i < list.length; i += 3) {
        const [path, body] = list[i]!
        count++
        const reply = await request(target, 'POST', path, body).catch((error: Error) => ({status: 0, contentType: '', text: `threw ${error.message}`}))
        // A background response answers at once, queued; the checker knows only finished ones.
        const queued = (body as {background?: boolean}).background === true && reply.status === 200 && JSON.parse(reply.text).status === 'queued'
        const problem = (reply.status === 404 && path === '/v1/embeddings') || queued ? null : problemOf(path, reply, body)
        if (process.env.VERBOSE) console.log(`  ${reply.status} ${JSON.stringify(body).slice(0, 100)} ${reply.status >= 400 ? gist(reply).slice(0, 200) : ''}`)
        if (problem || reply.status >= 500) findings.push(`${label} ${path} ${JSON.stringify(body).slice(0, 160)} -> ${problem ?? ''} ${gist(reply)}`)
      }
    }))
    // Long samples at once: a tiny pool must preempt them (and, on a hybrid, give back and retake state slots).
    const long = {prompt: 'preempt me please, all of you', max_tokens: 60, ignore_eos: true, n: 2}
    const replies = await Promise.all(Array.from({length: 6}, (_, i) => request(target, 'POST', '/v1/completions', {...long, stream: i % 2 === 0, logprobs: i % 3 === 0 ? 2 : undefined})))
    for (const reply of replies) {
      const problem = problemOf('/v1/completions', reply, long)
      if (problem || reply.status !== 200) findings.push(`${label} preempted: ${problem ?? ''} ${gist(reply)}`)
    }
    count += 6
    await cutStreams(target)
    const churned = await churn(target)
    if (churned) findings.push(`${label}: ${churned}`)
    const leak = await drained(target, engine)
    if (leak) findings.push(`${label}: not drained: ${leak}`)
    const normal = await request(target, 'POST', '/v1/completions', {prompt: 'still serving?', max_tokens: 2})
    if (normal.status !== 200) findings.push(`${label}: a normal request after: ${gist(normal)}`)
    const preemptions = /^pagedllm_num_preemptions_total (\d+)/m.exec((await request(target, 'GET', '/metrics')).text)?.[1]
    await server.shutdown(1000)
    console.log(`${label}: ${count + 26} attacks in ${((performance.now() - started) / 1000).toFixed(1)} s, ${preemptions} preemptions (load ${loadavg()[0]!.toFixed(1)})`)
  }
}
for (const each of findings) console.log(`FINDING ${each}`)
console.log(`${findings.length} findings`)
process.exit(findings.length === 0 ? 0 : 1)
