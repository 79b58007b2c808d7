// Drives any OpenAI-compatible server over HTTP (streaming /v1/completions) and times each request from the stream.
import {setTimeout as sleep} from 'node:timers/promises'
import {Agent, request} from 'undici'
import {UnavailableError} from '../engine/errors.js'
import {computeRunMetrics, type RequestRecord, type RunMetrics} from './metrics.js'
import {hashTokenIds} from './output-hash.js'
import type {BenchRequest} from './prompts.js'
import type {GenerationSettings} from './engine-run.js'

export interface EndpointRunResult {
  metrics: RunMetrics
  /** requestId -> hash of the streamed text (servers stream text, not token ids). */
  outputHashes: Record<string, string>
  model: string
}

// The engine's clock (seconds on performance.now()), without loading the engine and its native addon.
const nowSeconds = () => performance.now() / 1000

// Queued requests may wait minutes for their first token under load: no header or body timeouts.
const agent = new Agent({headersTimeout: 0, bodyTimeout: 0})

/** The first model the server lists, for when the user names none. */
export async function firstServedModel(baseUrl: string): Promise<string> {
  const response = await request(new URL('/v1/models', baseUrl), {dispatcher: agent})
  const body = (await response.body.json()) as {data?: {id: string}[]}
  const id = body.data?.[0]?.id
  if (response.statusCode !== 200 || !id) throw new UnavailableError(`${baseUrl}: GET /v1/models gave no model (status ${response.statusCode})`)
  return id
}

/** Yields the JSON payload of each `data:` line of a server-sent-event stream, up to `[DONE]`. */
export async function* serverSentData(body: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let buffered = ''
  for await (const chunk of body) {
    buffered += chunk.toString()
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (!line.startsWith('data:')) continue
      const data = line.slice('data:'.length).trim()
      if (data === '[DONE]') return
      yield JSON.parse(data)
    }
  }
}

interface CompletionChunk {
  choices?: {text?: string}[]
  usage?: {completion_tokens?: number} | null
}

/** One streamed completion: TTFT at the first chunk with text, e2e at the end of the stream. */
async function streamCompletion(
  baseUrl: string,
  model: string,
  benchRequest: BenchRequest,
  settings: GenerationSettings,
  index: number,
): Promise<{record: Omit<RequestRecord, 'arrivalTime'>; text: string}> {
  const response = await request(new URL('/v1/completions', baseUrl), {
    method: 'POST',
    dispatcher: agent,
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({
      model,
      prompt: benchRequest.promptTokenIds,
      max_tokens: benchRequest.outputLen,
      ignore_eos: true,
      temperature: settings.temperature,
      ...(settings.temperature > 0 ? {seed: settings.seed + index} : {}),
      stream: true,
      stream_options: {include_usage: true},
    }),
  })
  if (response.statusCode !== 200) {
    const detail = await response.body.text()
    throw new UnavailableError(`${baseUrl}: POST /v1/completions answered ${response.statusCode}: ${detail.slice(0, 300)}`)
  }
  let firstTokenTime = Number.NaN
  let text = ''
  let textChunks = 0
  let reportedTokens: number | null = null
  for await (const payload of serverSentData(response.body)) {
    const chunk = payload as CompletionChunk
    const delta = chunk.choices?.[0]?.text ?? ''
    if (delta !== '') {
      if (Number.isNaN(firstTokenTime)) firstTokenTime = nowSeconds()
      text += delta
      textChunks++
    }
    if (chunk.usage?.completion_tokens !== undefined) reportedTokens = chunk.usage.completion_tokens
  }
  const finishTime = nowSeconds()
  // Servers that omit usage stream one token per chunk (as vLLM does); prefer the usage count when given.
  return {record: {promptLen: benchRequest.promptTokenIds.length, outputLen: reportedTokens ?? textChunks, firstTokenTime, finishTime}, text}
}

/** Sends the requests at their arrival offsets to one server and measures each from its stream. */
export async function runOnEndpoint(
  baseUrl: string,
  requests: readonly BenchRequest[],
  settings: GenerationSettings,
  options: {model?: string; onRequestDone?: () => void} = {},
): Promise<EndpointRunResult> {
  const model = options.model ?? (await firstServedModel(baseUrl))
  const outputHashes: Record<string, string> = {}
  const start = nowSeconds()
  const records = await Promise.all(
    requests.map(async (benchRequest, index): Promise<RequestRecord> => {
      const arrivalTime = start + benchRequest.arrivalOffset
      const wait = arrivalTime - nowSeconds()
      if (wait > 0) await sleep(wait * 1000)
      const {record, text} = await streamCompletion(baseUrl, model, benchRequest, settings, index)
      outputHashes[benchRequest.requestId] = hashTokenIds([...Buffer.from(text, 'utf8')])
      options.onRequestDone?.()
      return {...record, arrivalTime}
    }),
  )
  const durationS = Math.max(...records.map((r) => r.finishTime)) - start
  return {metrics: computeRunMetrics(records, [], {durationS, preemptions: 0}), outputHashes, model}
}
