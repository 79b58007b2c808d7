// A load generator for the HTTP server: N requests, C at a time, cycling completions / chat, streaming / not; counts tokens and failures.
import assert from 'node:assert/strict'

export type SoakKind = 'completion' | 'completion-stream' | 'chat' | 'chat-stream'
export const SOAK_KINDS: readonly SoakKind[] = ['completion', 'completion-stream', 'chat', 'chat-stream']

export interface SoakOptions {
  baseUrl: string
  apiKey?: string
  model: string
  prompts: readonly string[]
  requests: number
  concurrency: number
  maxTokens: number
}

export interface SoakResult {
  completed: number
  failures: string[]
  promptTokens: number
  outputTokens: number
  seconds: number
}

/** Request i uses prompt i mod prompts and kind i mod 4, so a run is the same set of requests every time. */
export function soakRequest(index: number, options: Pick<SoakOptions, 'model' | 'prompts' | 'maxTokens'>): {kind: SoakKind; body: object} {
  const kind = SOAK_KINDS[index % SOAK_KINDS.length]!
  const prompt = options.prompts[index % options.prompts.length]!
  // ignore_eos fixes every output at max_tokens, so the offline run of the same requests does the same work.
  const common = {model: options.model, max_tokens: options.maxTokens, temperature: 0, ignore_eos: true}
  const streaming = kind.endsWith('-stream') ? {stream: true, stream_options: {include_usage: true}} : {}
  const input = kind.startsWith('chat') ? {messages: [{role: 'user', content: prompt}]} : {prompt}
  return {kind, body: {...common, ...input, ...streaming}}
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const result: SoakResult = {completed: 0, failures: [], promptTokens: 0, outputTokens: 0, seconds: 0}
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < options.requests) {
      const index = next++
      try {
        const usage = await sendOne(options, index)
        result.promptTokens += usage.prompt_tokens
        result.outputTokens += usage.completion_tokens
        result.completed += 1
      } catch (error) {
        result.failures.push(`request ${index}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }
  await Promise.all(Array.from({length: options.concurrency}, worker))
  result.seconds = (performance.now() - started) / 1000
  return result
}

async function sendOne(options: SoakOptions, index: number): Promise<{prompt_tokens: number; completion_tokens: number}> {
  const {kind, body} = soakRequest(index, options)
  const path = kind.startsWith('chat') ? '/v1/chat/completions' : '/v1/completions'
  const response = await fetch(`${options.baseUrl}${path}`, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...(options.apiKey ? {authorization: `Bearer ${options.apiKey}`} : {})},
    body: JSON.stringify(body),
  })
  const text = await response.text()
  assert.equal(response.status, 200, `${kind}: HTTP ${response.status} ${text.slice(0, 200)}`)
  if (!kind.endsWith('-stream')) return JSON.parse(text).usage
  assert.ok(text.endsWith('data: [DONE]\n\n'), `${kind}: stream did not end with [DONE]`)
  const events = text.split('\n\n').filter((event) => event.startsWith('data: {'))
  const last = JSON.parse(events.at(-1)!.slice('data: '.length))
  assert.ok(last.usage, `${kind}: no usage chunk`)
  return last.usage
}
