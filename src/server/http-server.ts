// The OpenAI-compatible HTTP server: routing, body and connection limits, API key, admission in sequences, loading state and graceful shutdown.
import {createHash, timingSafeEqual} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {AuthenticationError, InvalidRequestError, NotFoundError, PagedLLMError, UnavailableError} from '../engine/errors.js'
import {type ApiContext, ClientDisconnected, type RequestLimits, sendJson} from './api-context.js'
import {createChatCompletion} from './chat-completions.js'
import {closeIfBodyUnread, continueIfExpected, deferContinue} from './body-handshake.js'
import {answerRefusedRequests} from './client-errors.js'
import {ConnectionCap} from './connection-cap.js'
import {answerCors} from './cors.js'
import {createCompletion} from './completions.js'
import type {EngineLike} from './engine-like.js'
import {errorReply} from './error-reply.js'
import {ServerMetrics} from './metrics.js'
import {listModels, MODEL_PATH_PREFIX, retrieveModel} from './models-route.js'
import {PendingReplies} from './pending-replies.js'
import {PipelinedRequests} from './pipelined-requests.js'
import {InlinePromptTokenizer, type PromptTokenizer} from './prompt-tokenizer.js'
import {bodyAsUtf8, bodyTooLarge, checkBodyCodings, declaredCharset, readBody} from './request-body.js'
import type {CheckedByRoute, RouteName} from './request-checks.js'
import {RequestLimiter} from './request-limiter.js'
import {ClientTooSlow} from './sse.js'
import {createResponse} from './responses.js'
import {ResponseStore} from './response-store.js'
import {BackgroundResponses} from './responses-background.js'
import {RESPONSE_PATH_PREFIX, storedResponseRoute} from './responses-routes.js'
import {detokenize, tokenize} from './tokenize.js'
import type {ChatContentFormatOption} from '../engine/model/chat-content-format.js'
import type {ToolCallParserName} from './tool-calls.js'
import type {ReasoningParserName} from './reasoning-parsers.js'

export interface ApiServerOptions {
  host: string
  /** 0 picks a free port (tests). */
  port: number
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>` (the scheme in any case). */
  apiKey?: string
  /** 'auto' (the default, as vLLM): requests' missing sampling fields come from the model's generation_config.json; 'vllm': never. */
  generationConfig?: 'auto' | 'vllm'
  /** Origins whose pages may read replies (CORS); '*' (the default) allows every origin, as vLLM does. */
  allowedOrigins?: readonly string[]
  /** Sequences (prompts x max(n, best_of), up to a request's window) handed to the engine at once; more wait in a queue. */
  maxConcurrentRequests: number
  /** Requests allowed to wait for a slot; beyond that, 503 at once. */
  maxQueuedRequests: number
  maxBodyBytes: number
  /** Request bodies held in memory at once, in bytes; a body's reservation (its Content-Length) is taken before it is read. */
  maxBodyBytesInFlight: number
  /** A body that sends nothing for this long, or is read this long and would not end before the request timeout at its rate, while other bodies wait for memory, loses its connection (and reservation). */
  bodyStallTimeoutMs: number
  maxSequencesPerRequest: number
  /** Sequences one request keeps in the engine at once; the rest of a prompt list waits its turn. */
  requestWindow: number
  slowClientTimeoutMs: number
  /** Bytes of replies written but not yet taken by their clients, all together; over it the stalest are cut (pending-replies.ts). */
  maxReplyBytesInFlight: number
  /** node's server.headersTimeout / requestTimeout / keepAliveTimeout / maxConnections. */
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  maxConnections: number
  /** How tool calls are read from free-form output (tool_choice "auto"); unset = auto tool choice is refused. */
  toolCallParser?: ToolCallParserName
  /** How chat replies' thinking is split from the answer (vLLM's --reasoning-parser); unset = not split. */
  reasoningParser?: ReasoningParserName
  /** vLLM's --chat-template-content-format; unset = auto. */
  chatTemplateContentFormat?: ChatContentFormatOption
  /** vLLM's --trust-request-chat-template: a request's chat_template is rendered instead of a 400. */
  trustRequestChatTemplate?: boolean
  /** vLLM's --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens on completions and chat. */
  enablePromptTokensDetails?: boolean
  /** serve --responses-store: the most finished /v1/responses kept (least recently used evicted); unset or 0 = none. */
  responsesStore?: number
  /** serve --responses-store-bytes: the most bytes (JSON text) the kept responses and their inputs hold. */
  responsesStoreBytes?: number
  version: string
  log: (message: string) => void
}

export const DEFAULT_SERVER_OPTIONS = {
  host: '127.0.0.1',
  port: 8000,
  maxConcurrentRequests: 256,
  maxQueuedRequests: 1024,
  maxBodyBytes: 4 * 1024 * 1024,
  maxBodyBytesInFlight: 64 * 1024 * 1024,
  bodyStallTimeoutMs: 5_000,
  maxSequencesPerRequest: 1024,
  requestWindow: 64,
  slowClientTimeoutMs: 30_000,
  maxReplyBytesInFlight: 256 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 2048,
} as const

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE'
type RouteHandler = (request: IncomingMessage, response: ServerResponse, signal: AbortSignal) => Promise<void>

type EngineState =
  | {kind: 'loading'}
  | {kind: 'ready'; engine: EngineLike; promptTokenizer: PromptTokenizer}
  | {kind: 'failed'; message: string}

export class ApiServer {
  readonly metrics = new ServerMetrics()
  private readonly server: Server
  private readonly limiter: RequestLimiter
  private readonly bodyBudget: RequestLimiter
  private readonly limits: RequestLimits
  private readonly connectionCap: ConnectionCap
  private engineState: EngineState = {kind: 'loading'}
  private readonly inFlight = new Set<AbortController>()
  private readonly pipelined = new PipelinedRequests()
  private readonly pendingReplies: PendingReplies
  private drainedListeners: (() => void)[] = []
  private shutdownPromise: Promise<void> | null = null
  private readonly routes: Record<string, Partial<Record<Method, RouteHandler>>>
  private readonly responseStore: ResponseStore | null
  private readonly backgroundResponses: BackgroundResponses | null

  constructor(private readonly options: ApiServerOptions) {
    if (options.headersTimeoutMs > options.requestTimeoutMs)
      throw new InvalidRequestError('--headers-timeout must not exceed --request-timeout', {param: 'headers-timeout'})
    // As much room again for requests within an equal share, so a small one reaches the engine, whose fair share serves it.
    this.limiter = new RequestLimiter(options.maxConcurrentRequests, options.maxQueuedRequests, 'sequences', options.maxConcurrentRequests)
    this.bodyBudget = new RequestLimiter(Math.max(options.maxBodyBytesInFlight, options.maxBodyBytes), options.maxQueuedRequests, 'body bytes')
    this.pendingReplies = new PendingReplies(options.maxReplyBytesInFlight, options.slowClientTimeoutMs, options.log)
    this.limits = {
      maxSequencesPerRequest: options.maxSequencesPerRequest,
      windowSequences: Math.min(options.requestWindow, options.maxConcurrentRequests),
      slowClientTimeoutMs: options.slowClientTimeoutMs,
    }
    this.server = createServer(
      {
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        // node checks the two timeouts on this period (30 s by default), so short timeouts need a short period.
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(options.headersTimeoutMs / 4))),
        // node's own refusal of a missing Host is a bare 400; handle() answers it with the error object instead.
        requireHostHeader: false,
      },
      (request, response) => this.pipelined.run(request.socket, response, (refusal) => this.handle(request, response, refusal)),
    )
    this.responseStore = options.responsesStore ? new ResponseStore(options.responsesStore, options.responsesStoreBytes) : null
    this.backgroundResponses = this.responseStore && new BackgroundResponses(this.responseStore, options.log)
    this.connectionCap = new ConnectionCap(this.server, options.maxConnections)
    answerRefusedRequests(this.server)
    deferContinue(this.server)
    this.routes = {
      '/health': getRoute(async (_, response) => this.health(response)),
      // vLLM's alias of /health (SageMaker's probe), on GET and POST.
      '/ping': {...getRoute(async (_, response) => this.health(response)), POST: async (_, response) => this.health(response)},
      '/version': getRoute(async (_, response) => sendJson(response, 200, {version: options.version})),
      '/metrics': getRoute(async (_, response) => this.renderMetrics(response)),
      '/v1/models': getRoute(async (_, response) => listModels(response, this.readyEngine())),
      [MODEL_PATH_PREFIX]: getRoute(async (request, response) => retrieveModel(response, this.readyEngine(), requestPath(request.url))),
      '/v1/completions': {POST: (request, response, signal) => this.generate(request, response, signal, 'completions', createCompletion)},
      '/v1/chat/completions': {POST: (request, response, signal) => this.generate(request, response, signal, 'chat', createChatCompletion)},
      '/v1/responses': {POST: (request, response, signal) => this.generate(request, response, signal, 'responses', createResponse)},
      '/tokenize': {POST: (request, response, signal) => this.generate(request, response, signal, 'tokenize', tokenize)},
      '/detokenize': {POST: (request, response, signal) => this.generate(request, response, signal, 'detokenize', detokenize)},
    }
  }

  /** Starts listening before the model is loaded, so /health can say "loading". */
  async listen(): Promise<{host: string; port: number; url: string}> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const {port} = this.server.address() as AddressInfo
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
    return {host: this.options.host, port, url: `http://${host}:${port}`}
  }

  /** `promptTokenizer`: worker threads in `serve`; by default prompts are tokenized inline (the fake engine, small tests). */
  attachEngine(engine: EngineLike, promptTokenizer: PromptTokenizer = new InlinePromptTokenizer(engine.tokenizer, engine.maxModelLen)): void {
    this.engineState = {kind: 'ready', engine, promptTokenizer}
  }

  /** The model failed to load: /health reports it until the process exits. */
  engineFailed(message: string): void {
    this.engineState = {kind: 'failed', message}
  }

  get isShuttingDown(): boolean {
    return this.shutdownPromise !== null
  }

  /**
   * Stops accepting connections, lets requests in flight finish for up to `graceMs`, aborts the rest
   * (they get a 503), then shuts the engine down.
   */
  shutdown(graceMs: number): Promise<void> {
    this.shutdownPromise ??= this.shutdownOnce(graceMs)
    return this.shutdownPromise
  }

  private async shutdownOnce(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    let graceTimer: NodeJS.Timeout | undefined
    const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)))
    await Promise.race([this.drained(), graceOver])
    clearTimeout(graceTimer)
    for (const controller of this.inFlight) controller.abort(new UnavailableError('The server is shutting down.', {code: 'shutting_down'}))
    await this.drained()
    this.server.closeAllConnections()
    await closed
    if (this.engineState.kind === 'ready') {
      await this.engineState.promptTokenizer.close()
      await this.engineState.engine.shutdown()
    }
  }

  private drained(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.drainedListeners.push(resolve))
  }

  /** `refusal`: the request is answered with this error (one pipelined too many on its connection). */
  private async handle(request: IncomingMessage, response: ServerResponse, refusal?: PagedLLMError): Promise<void> {
    const controller = new AbortController()
    this.inFlight.add(controller)
    // A reply whose client takes none of it for the slow-client timeout, or that holds the most stale bytes while all pass the cap, is cut.
    this.pendingReplies.track(response)
    // 'close' before the reply is finished means the client went away: stop generating and free its blocks now.
    response.on('close', () => {
      if (!response.writableFinished) controller.abort(new ClientDisconnected())
    })
    try {
      if (refusal) throw refusal
      if (this.shutdownPromise) {
        response.setHeader('connection', 'close')
        throw new UnavailableError('The server is shutting down.', {code: 'shutting_down'})
      }
      if (this.connectionCap.isOverCap(request.socket)) {
        response.setHeader('connection', 'close')
        throw new UnavailableError(`The server has its ${this.connectionCap.max} connections open (--max-connections); retry shortly.`, {code: 'too_many_connections'})
      }
      if (request.headers.host === undefined && request.httpVersion === '1.1') {
        response.setHeader('connection', 'close')
        throw new InvalidRequestError('The request has no Host header, which HTTP/1.1 requires.', {code: 'missing_host'})
      }
      if (answerCors(request, response, this.options.allowedOrigins)) return
      const path = requestPath(request.url)
      const route =
        this.routes[path] ??
        (path.startsWith(MODEL_PATH_PREFIX) ? this.routes[MODEL_PATH_PREFIX] : path.startsWith(RESPONSE_PATH_PREFIX) ? storedResponseRoute(path, this.responseStore, this.backgroundResponses, this.options.slowClientTimeoutMs) : undefined)
      if (!route) throw new NotFoundError(`No route for ${path}.`, {code: 'unknown_url'})
      const handler = route[request.method as Method]
      if (!handler) {
        response.setHeader('allow', Object.keys(route).join(', '))
        throw new MethodNotAllowedError(`Method ${request.method} is not allowed on ${path}; use ${Object.keys(route).join(' or ')}.`)
      }
      if (path.startsWith('/v1/')) this.authenticate(request)
      await handler(request, response, controller.signal)
    } catch (error) {
      if (!response.headersSent && !response.destroyed) {
        const reply = errorReply(error, this.options.log)
        sendJson(response, reply.status, reply.body)
      } else if (!response.writableEnded && !response.destroyed) {
        // Headers went out but the body cannot be finished sensibly: cut the connection so the client notices.
        this.options.log(`aborting a half-sent reply: ${error instanceof Error ? error.message : String(error)}`)
        response.destroy()
      }
    } finally {
      // A reply left in the socket's buffers, streamed or not, may push all of them over the cap.
      if (!response.writableFinished) this.pendingReplies.check()
      // 499 (nginx's "client closed request") for replies the client left before they were finished.
      this.metrics.countHttpResponse(response.writableEnded ? response.statusCode : 499)
      this.untrack(controller)
    }
  }

  private untrack(controller: AbortController): void {
    this.inFlight.delete(controller)
    if (this.inFlight.size === 0) for (const resolve of this.drainedListeners.splice(0)) resolve()
  }

  /** Moves the request's grants in `releases` to work that outlives its reply; shutdown waits for it, then aborts it. */
  private detach(releases: (() => void)[]) {
    const controller = new AbortController()
    this.inFlight.add(controller)
    const held = releases.splice(0)
    const release = () => {
      for (const each of held.splice(0)) each()
      this.untrack(controller)
    }
    return {signal: controller.signal, release}
  }

  private authenticate(request: IncomingMessage): void {
    const apiKey = this.options.apiKey
    if (!apiKey) return
    const header = request.headers.authorization ?? ''
    // The scheme is case-insensitive (RFC 9110 11.1): "bearer KEY" is as good as "Bearer KEY".
    const match = /^bearer +(.+)$/i.exec(header)
    const given = match ? match[1]!.trim() : ''
    // Compare digests, in constant time, so neither the key nor its length leaks through timing.
    const digest = (text: string) => createHash('sha256').update(text).digest()
    if (given === '' || !timingSafeEqual(digest(given), digest(apiKey)))
      throw new AuthenticationError('Invalid or missing API key: send it as "Authorization: Bearer <key>".', {code: 'invalid_api_key'})
  }

  private readyEngine(): EngineLike {
    return this.readyState().engine
  }

  private readyState(): {engine: EngineLike; promptTokenizer: PromptTokenizer} {
    if (this.engineState.kind === 'ready') return this.engineState
    if (this.engineState.kind === 'failed')
      throw new UnavailableError(`The model failed to load: ${this.engineState.message}`, {code: 'model_load_failed'})
    throw new UnavailableError('The model is still loading; retry shortly (GET /health says when it is ready).', {code: 'model_loading'})
  }

  private health(response: ServerResponse): void {
    if (this.shutdownPromise) return sendJson(response, 503, {status: 'shutting_down'})
    const state = this.engineState
    if (state.kind === 'ready') {
      const health = state.engine.health()
      return health.healthy ? sendJson(response, 200, {status: 'ok'}) : sendJson(response, 503, {status: 'unhealthy', message: health.reason})
    }
    if (state.kind === 'failed') return sendJson(response, 503, {status: 'error', message: state.message})
    sendJson(response, 503, {status: 'loading'})
  }

  private renderMetrics(response: ServerResponse): void {
    const engine = this.engineState.kind === 'ready' ? this.engineState.engine : null
    const admission = {sequences: this.limiter.unitsInUse, capacity: this.limiter.capacity, queued: this.limiter.numQueued, bodiesQueued: this.bodyBudget.numQueued}
    const text = this.metrics.render(engine && {stats: engine.stats(), modelName: engine.modelName}, admission, this.pendingReplies.bytesHeld)
    closeIfBodyUnread(response)
    response.writeHead(200, {'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text)})
    response.end(text)
  }

  private async generate<R extends RouteName>(
    request: IncomingMessage,
    response: ServerResponse,
    signal: AbortSignal,
    route: R,
    create: (context: ApiContext, checked: CheckedByRoute[R]) => Promise<void>,
  ): Promise<void> {
    const arrivalTime = performance.now() / 1000
    const {engine, promptTokenizer} = this.readyState()
    const releases: (() => void)[] = []
    try {
      // The body's memory is reserved before it is read (its Content-Length, or the most allowed when chunked) and
      // held for the whole request: the prompts parsed from it live that long.
      checkBodyCodings(request.headers)
      const charset = declaredCharset(request.headers['content-type'])
      const maxBodyBytes = this.options.maxBodyBytes
      const declared = Number(request.headers['content-length'])
      if (declared > maxBodyBytes) throw bodyTooLarge(maxBodyBytes)
      const chunked = !(Number.isFinite(declared) && declared > 0)
      const bodyGrant = await this.bodyBudget.acquire(signal, chunked ? maxBodyBytes : declared)
      releases.push(bodyGrant)
      const deadline = this.options.requestTimeoutMs > 0 ? arrivalTime * 1000 + this.options.requestTimeoutMs : Infinity
      const stall = {ms: this.options.bodyStallTimeoutMs, contended: () => this.bodyBudget.numQueued > 0, expectedBytes: chunked ? maxBodyBytes : declared, deadline}
      continueIfExpected(request, response)
      const bytes = await readBody(request, maxBodyBytes, stall)
      if (chunked) bodyGrant.shrinkTo(bytes.length)
      const checkOptions = {modelName: engine.modelName, contentFormat: this.options.chatTemplateContentFormat ?? 'auto', storeOn: this.responseStore !== null, trustRequestChatTemplate: this.options.trustRequestChatTemplate ?? false}
      const checked = await promptTokenizer.checkBody(bodyAsUtf8(bytes, charset), route, checkOptions, signal)
      const admit = async (sequences: number) => {
        const grant = await this.limiter.acquire(signal, sequences)
        releases.push(grant)
        return grant
      }
      const context: ApiContext = {engine, promptTokenizer, metrics: this.metrics, response, signal, arrivalTime, log: this.options.log, limits: this.limits, admit,
        toolCallParser: this.options.toolCallParser ?? null, reasoningParser: this.options.reasoningParser ?? null,
        chatTemplateContentFormat: this.options.chatTemplateContentFormat ?? 'auto', enablePromptTokensDetails: this.options.enablePromptTokensDetails ?? false,
        responseStore: this.responseStore, backgroundResponses: this.backgroundResponses, detach: () => this.detach(releases),
        samplingDefaults: this.options.generationConfig === 'vllm' ? {} : (engine.samplingDefaults ?? {})}
      await create(context, checked)
    } catch (error) {
      if (error instanceof ClientTooSlow) this.options.log(`cut a stream: ${error.message}`)
      throw error
    } finally {
      for (const release of releases) release()
    }
  }
}

/** HEAD answers as GET does, without the body (node drops the body of a HEAD reply). */
function getRoute(handler: RouteHandler): Partial<Record<Method, RouteHandler>> {
  return {GET: handler, HEAD: handler}
}

/**
 * The path of a request target, with runs of '/' as one and no trailing '/': `/v1/completions/` and `/v1//completions`
 * are served as `/v1/completions` (FastAPI, behind vLLM, redirects a trailing slash; nginx merges slashes), on every
 * route alike. One that is not a URL at all (`http://[x/`) is the client's error.
 */
function requestPath(target: string | undefined): string {
  try {
    // A path is appended to the base, not resolved against it: '//v1/completions' would be a URL of host 'v1'.
    const path = (target?.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target ?? '/', 'http://localhost')).pathname
    return path.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1')
  } catch {
    throw new InvalidRequestError(`The request target ${JSON.stringify(target)} is not a valid URL.`, {code: 'invalid_url'})
  }
}

class MethodNotAllowedError extends PagedLLMError {
  override readonly httpStatus = 405
  override readonly type = 'invalid_request_error' as const
}
