// Drives any OpenAI-compatible server over HTTP (streaming /v1/completions) and times each request from the stream.
import {setTimeout as sleep} from 'node:timers/promises'
import {Agent, request} from 'undici'
import {InvalidRequestError, UnavailableError} from '../engine/errors.js'
import {startMetricsScraper, type ServerSideStats} from './endpoint-metrics.js'
import {endpointUrl} from './endpoint-url.js'
import {computeRunMetrics, type RequestRecord, type RunMetrics} from './metrics.js'
import {hashTokenIds} from './output-hash.js'
import type {BenchRequest} from './prompts.js'
import type {GenerationSettings} from './engine-run.js'

export interface EndpointRunResult {
  metrics: RunMetrics
  /** requestId -> hash of the streamed text (servers stream text, not token ids). */
  outputHashes: Record<string, string>
  model: string
  /** The server's own view of the run from its /metrics (null: none, or names we do not know). */
  server: ServerSideStats | null
}

// The engine's clock (seconds on performance.now()), without loading the engine and its native addon.
const nowSeconds = () => performance.now() / 1000

/** Queued requests may wait minutes for their first token under load, but a server silent this long is stuck. */
export const DEFAULT_ENDPOINT_TIMEOUT_S = 600

/** Connections to the endpoints: a request fails when its server sends no headers, or no byte of the body, for timeoutS. */
export function makeEndpointAgent(timeoutS = DEFAULT_ENDPOINT_TIMEOUT_S): Agent {
  return new Agent({headersTimeout: timeoutS * 1000, bodyTimeout: timeoutS * 1000, connectTimeout: Math.min(timeoutS, 30) * 1000})
}

export const endpointAgent = makeEndpointAgent()

/** JSON headers, with OPENAI_API_KEY as the bearer token when set (as vLLM's benchmark_serving sends it). */
export function endpointHeaders(): Record<string, string> {
  const key = process.env.OPENAI_API_KEY
  return {'content-type': 'application/json', ...(key ? {authorization: `Bearer ${key}`} : {})}
}

/** Names for tables and plots: the given label, else host:port (and path); never two the same. */
export function endpointLabels(urls: readonly string[], given: readonly string[] = []): string[] {
  if (given.length > urls.length)
    throw new InvalidRequestError(`${given.length} --endpoint-label values for ${urls.length} --endpoint URLs: give at most one per endpoint, in order`, {param: 'endpoint-label'})
  const labels = urls.map((url, index) => {
    if (given[index]) return given[index]
    const parsed = URL.canParse(url) ? new URL(url) : null
    if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:')
      throw new InvalidRequestError(`--endpoint ${url} is not an http(s) URL (e.g. http://localhost:8000)`, {param: 'endpoint'})
    return parsed.host + parsed.pathname.replace(/\/+$/, '')
  })
  return labels.map((label, index) => (labels.indexOf(label) !== labels.lastIndexOf(label) ? `${label} #${index + 1}` : label))
}

/** A live server answers GET /v1/models at once, however long its queue: one silent this long is stuck (not --endpoint-timeout's 600 s). */
export const MODELS_PROBE_TIMEOUT_S = 30

/**
 * The model to send (the named one, else the first the server lists) and its context, when the server says (vLLM and
 * we do). timeoutS: --endpoint-timeout, which bounds the probe too when shorter than MODELS_PROBE_TIMEOUT_S.
 */
export async function describeEndpoint(
  baseUrl: string,
  model?: string,
  agent: Agent = endpointAgent,
  timeoutS = DEFAULT_ENDPOINT_TIMEOUT_S,
): Promise<{model: string; maxModelLen: number | null}> {
  const probeS = Math.min(timeoutS, MODELS_PROBE_TIMEOUT_S)
  let response
  let text
  try {
    response = await request(endpointUrl(baseUrl, '/v1/models'), {dispatcher: agent, headers: endpointHeaders(), headersTimeout: probeS * 1000, bodyTimeout: probeS * 1000})
    text = await response.body.text()
  } catch (error) {
    const code = (error as {code?: string}).code
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new UnavailableError(`${baseUrl}: GET /v1/models sent no reply in ${probeS} s`)
    throw new UnavailableError(`${baseUrl}: cannot reach the server (${(error as Error).message})`)
  }
  let listed: unknown
  try {
    listed = JSON.parse(text).data
  } catch {} // reported below as "no model"
  const entries = (Array.isArray(listed) ? listed : []).filter((m): m is {id: string; max_model_len?: unknown} => typeof m?.id === 'string')
  const entry = model === undefined ? entries[0] : entries.find((m) => m.id === model)
  if (model === undefined && (response.statusCode !== 200 || !entry))
    throw new UnavailableError(`${baseUrl}: GET /v1/models gave no model (status ${response.statusCode}${keyHint(response.statusCode)})`)
  // --endpoint-model the server's own list leaves out: said now, not after prompts were made for it by other means.
  if (model !== undefined && response.statusCode === 200 && entries.length > 0 && !entry)
    throw new UnavailableError(`${baseUrl}: --endpoint-model ${model} is not served there; GET /v1/models lists ${entries.map((m) => m.id).join(', ')}`)
  const maxModelLen = typeof entry?.max_model_len === 'number' ? entry.max_model_len : null
  return {model: model ?? entry!.id, maxModelLen}
}

/** What a 401 / 403 asks of the user: the key compare sends is OPENAI_API_KEY (a server's --api-key). */
function keyHint(status: number): string {
  if (status !== 401 && status !== 403) return ''
  return process.env.OPENAI_API_KEY ? ': the server refused the key in OPENAI_API_KEY' : ': the server wants an API key; set OPENAI_API_KEY to it'
}

/** Yields the JSON payload of each `data:` line of a server-sent-event stream, up to `[DONE]`; a stream that is not one throws. */
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
      try {
        yield JSON.parse(data)
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error
        throw new UnavailableError(`streamed an event that is not JSON: ${JSON.stringify(data.slice(0, 100))}`)
      }
    }
  }
  // OpenAI-compatible servers end every stream with [DONE]; without it the answer was cut off.
  throw new UnavailableError('the stream ended before "data: [DONE]"')
}

/** A streamed completion chunk as OpenAI shapes it, or a message saying what is wrong with it. */
function completionChunk(payload: unknown): CompletionChunk | string {
  if (typeof payload !== 'object' || payload === null) return `streamed ${JSON.stringify(payload)}, not a completion chunk`
  const chunk = payload as CompletionChunk
  const text = chunk.choices?.[0]?.text
  if (text !== undefined && typeof text !== 'string') return `streamed a choice whose text is ${JSON.stringify(text)}, not a string`
  for (const count of [chunk.usage?.completion_tokens, chunk.usage?.prompt_tokens])
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) return `streamed a usage count ${JSON.stringify(count)}, not a token count`
  return chunk
}

interface CompletionChunk {
  choices?: {text?: string}[]
  usage?: {prompt_tokens?: number; completion_tokens?: number} | null
}

/** One streamed completion: TTFT at the first chunk with text, e2e at the end of the stream. */
async function streamCompletion(...args: Parameters<typeof streamCompletionOnce>): ReturnType<typeof streamCompletionOnce> {
  const baseUrl = args[0]
  try {
    return await streamCompletionOnce(...args)
  } catch (error) {
    // An error status, a timeout, a reset connection, a malformed stream: one line that names the server.
    const code = (error as {code?: unknown}).code
    const why = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? `silent for longer than --endpoint-timeout (${(error as Error).message})` : (error as Error).message
    throw new UnavailableError(`${baseUrl}: POST /v1/completions: ${why}`, {cause: error})
  }
}

async function streamCompletionOnce(
  baseUrl: string,
  model: string,
  benchRequest: BenchRequest,
  promptText: string | undefined,
  settings: GenerationSettings,
  index: number,
  agent: Agent,
): Promise<{record: Omit<RequestRecord, 'arrivalTime'>; text: string}> {
  const response = await request(endpointUrl(baseUrl, '/v1/completions'), {
    method: 'POST',
    dispatcher: agent,
    headers: endpointHeaders(),
    body: JSON.stringify({
      model,
      prompt: promptText ?? benchRequest.promptTokenIds,
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
    throw new UnavailableError(`answered ${response.statusCode}: ${detail.slice(0, 300)}`)
  }
  let firstTokenTime = Number.NaN
  let text = ''
  let textChunks = 0
  let reportedTokens: number | null = null
  let reportedPromptTokens: number | null = null
  for await (const payload of serverSentData(response.body)) {
    const chunk = completionChunk(payload)
    if (typeof chunk === 'string') throw new UnavailableError(chunk)
    const delta = chunk.choices?.[0]?.text ?? ''
    if (delta !== '') {
      if (Number.isNaN(firstTokenTime)) firstTokenTime = nowSeconds()
      text += delta
      textChunks++
    }
    if (chunk.usage?.completion_tokens !== undefined) reportedTokens = chunk.usage.completion_tokens
    if (chunk.usage?.prompt_tokens !== undefined) reportedPromptTokens = chunk.usage.prompt_tokens
  }
  const finishTime = nowSeconds()
  // The server's usage counts are the token figures (its tokenizer, not ours). Without usage: one token per
  // streamed chunk (as vLLM streams), and the traced prompt length.
  const promptLen = reportedPromptTokens ?? benchRequest.promptTokenIds.length
  return {record: {promptLen, outputLen: reportedTokens ?? textChunks, firstTokenTime, finishTime}, text}
}

/**
 * Sends the requests at their arrival offsets to one server and measures each from its stream, while scraping
 * the server's /metrics. promptTexts (one per request): send text; without them, the token ids of the requests.
 */
export async function runOnEndpoint(
  baseUrl: string,
  requests: readonly BenchRequest[],
  settings: GenerationSettings,
  options: {model?: string; promptTexts?: readonly string[]; onRequestDone?: () => void; scrapeIntervalMs?: number; agent?: Agent} = {},
): Promise<EndpointRunResult> {
  const agent = options.agent ?? endpointAgent
  const model = options.model ?? (await describeEndpoint(baseUrl, undefined, agent)).model
  const outputHashes: Record<string, string> = {}
  const scraper = startMetricsScraper(baseUrl, agent, options.scrapeIntervalMs)
  const start = nowSeconds()
  const records = await Promise.all(
    requests.map(async (benchRequest, index): Promise<RequestRecord> => {
      const arrivalTime = start + benchRequest.arrivalOffset
      const wait = arrivalTime - nowSeconds()
      if (wait > 0) await sleep(wait * 1000)
      const {record, text} = await streamCompletion(baseUrl, model, benchRequest, options.promptTexts?.[index], settings, index, agent)
      outputHashes[benchRequest.requestId] = hashTokenIds([...Buffer.from(text, 'utf8')])
      options.onRequestDone?.()
      return {...record, arrivalTime}
    }),
  ).finally(() => scraper.stop())
  const durationS = Math.max(...records.map((r) => r.finishTime)) - start
  const server = await scraper.stop()
  const metrics = computeRunMetrics(records, [], {durationS, preemptions: server?.preemptions ?? 0})
  // The batch and KV columns of an endpoint come from the server's own gauges (engine runs: from their steps).
  if (server) {
    metrics.meanBatch = server.meanRunning
    metrics.maxBatch = server.maxRunning
    metrics.kvTokenShare = server.kvTokenShare ?? Number.NaN
    metrics.peakUsedBlocks = server.peakUsedBlocks ?? 0
  }
  return {metrics, outputHashes, model, server}
}
