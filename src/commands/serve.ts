// `pagedllm serve`: the OpenAI-compatible HTTP server over the local engine.
import {Args, Errors, Flags} from '@oclif/core'
import {DEFAULT_COMPILE_TIMEOUT_MS} from '../engine/guided/grammar-service.js'
import {LLMEngine} from '../engine/llm-engine.js'
import {parseAllowedOrigins} from '../server/cors.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../server/http-server.js'
import {TokenizerWorkers} from '../server/tokenizer-workers.js'
import {TOOL_CALL_PARSERS} from '../server/tool-calls.js'
import {REASONING_PARSERS} from '../server/reasoning-parsers.js'
import {CHAT_TEMPLATE_CONTENT_FORMATS, type ChatContentFormatOption} from '../engine/model/chat-content-format.js'
import {chatTemplateFlag, engineConfigFromFlags, engineFlags, parseByteSize, resolveEngineConfig} from '../cli/engine-flags.js'
import {MAX_TIMER_SECONDS} from '../cli/number-flag.js'
import {PagedLLMCommand} from '../cli/pagedllm-command.js'
import {reportInterrupt} from '../cli/interrupt.js'
import {announceBuiltinModel, describeEngine} from '../cli/start-engine.js'
import {BUILTIN_MODEL_DIR} from '../engine/model/builtin-model.js'
import {GENERATION_CONFIG_SAMPLING_KEYS} from '../engine/model/load-model.js'

/** A supervisor's stop (TERM), a closed terminal (HUP) and, once the model is loaded, Ctrl-C (INT) all mean: stop gracefully. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP']

export default class Serve extends PagedLLMCommand {
  static override description = 'Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /metrics)'
  static override examples = [
    '<%= config.bin %> serve    # the built-in 6M-parameter demo model, on port 8000',
    '<%= config.bin %> make-test-model --preset small --out ./test-model && <%= config.bin %> serve --model ./test-model',
    '<%= config.bin %> serve --model Qwen/Qwen2.5-0.5B-Instruct --port 8080 --api-key secret',
    '<%= config.bin %> serve ./test-model    # the model as an argument, as `vllm serve MODEL`',
  ]
  static override args = {model: Args.string({description: 'The model, as --model takes it (vLLM\'s `vllm serve MODEL`)'})}
  static override flags = {
    ...engineFlags,
    ...chatTemplateFlag,
    'trust-request-chat-template': Flags.boolean({
      description:
        "Accept a chat_template in /v1/chat/completions and /tokenize requests (vLLM's flag; off: a 400). A client's template runs in the tokenizer workers, bounded as the model's is (5 s, sizes), but it is code from the client: only for clients you trust",
      default: false,
    }),
    host: Flags.string({description: 'Address to listen on (0.0.0.0 for every interface)', default: DEFAULT_SERVER_OPTIONS.host}),
    port: Flags.integer({description: 'Port to listen on (0 = any free port)', default: DEFAULT_SERVER_OPTIONS.port, min: 0, max: 65535}),
    'api-key': Flags.string({description: 'Require "Authorization: Bearer <key>" on /v1/*', env: 'PAGEDLLM_API_KEY'}),
    'generation-config': Flags.string({
      description:
        "auto: requests' missing temperature, top_p, top_k, min_p, repetition_penalty come from the model's generation_config.json, whose max_new_tokens caps max_tokens (vLLM's default); vllm: ignore it",
      options: ['auto', 'vllm'],
      default: 'auto',
    }),
    'allowed-origins': Flags.string({
      description: 'Origins whose web pages may read replies (CORS), repeatable or as a JSON list like vLLM\'s; default "*", every origin',
      multiple: true,
    }),
    'max-concurrent-requests': Flags.integer({
      description:
        'Sequences handed to the engine at once, counted as prompts x max(n, best_of) (a prompt list counts its --request-window) and given back when generation ends, however slowly the client reads; more requests wait in a queue, except one asking for no more than an equal share (this / (requests in + 1)), which goes on to the engine and its fair share, up to as many sequences again',
      default: DEFAULT_SERVER_OPTIONS.maxConcurrentRequests,
      min: 1,
    }),
    'max-queued-requests': Flags.integer({
      description: 'Requests that may wait for a slot; beyond that the server answers 503',
      default: DEFAULT_SERVER_OPTIONS.maxQueuedRequests,
      min: 0,
    }),
    'max-sequences-per-request': Flags.integer({
      description: 'Most sequences one request may ask for, prompts x max(n, best_of) (400 beyond)',
      default: DEFAULT_SERVER_OPTIONS.maxSequencesPerRequest,
      min: 1,
    }),
    'request-window': Flags.integer({
      description: "Sequences of one request in the engine at once; the rest of a prompt list waits, so other clients' requests interleave",
      default: DEFAULT_SERVER_OPTIONS.requestWindow,
      min: 1,
    }),
    'max-body-size': Flags.string({description: 'Largest request body accepted (413 beyond)', default: '4MiB'}),
    'max-body-memory': Flags.string({
      description: 'Request bodies held in memory at once; a body reserves its Content-Length before it is read, others wait',
      default: '64MiB',
    }),
    // Each worker is a thread with its own copy of the tokenizer: thousands of them would exhaust memory.
    'tokenizer-threads': Flags.integer({description: 'Worker threads that tokenize prompts and render chat templates off the event loop (at most 64)', default: 2, min: 1, max: 64}),
    'grammar-compile-timeout': Flags.integer({
      description: 'Seconds one grammar compile (response_format, guided_*, tool_choice required) may run before its request is a 400 (a compile waiting behind live matchers gets at most 5)',
      default: DEFAULT_COMPILE_TIMEOUT_MS / 1000,
      min: 1,
      max: MAX_TIMER_SECONDS,
    }),
    'max-reply-memory': Flags.string({
      description: 'Bytes of replies written but not yet read by their clients, all together; past it the connections whose clients read nothing for longest are cut (their requests aborted)',
      default: '256MiB',
    }),
    'slow-client-timeout': Flags.integer({description: 'Seconds a streaming client may leave its socket full before the stream is cut and its request aborted', default: 30, min: 1, max: MAX_TIMER_SECONDS}),
    'headers-timeout': Flags.integer({description: 'Seconds a client has to send the request headers', default: 10, min: 1, max: MAX_TIMER_SECONDS}),
    'request-timeout': Flags.integer({description: 'Seconds a client has to send the whole request (headers and body)', default: 30, min: 1, max: MAX_TIMER_SECONDS}),
    'keep-alive-timeout': Flags.integer({description: 'Seconds an idle keep-alive connection stays open', default: 5, min: 0, max: MAX_TIMER_SECONDS}),
    'max-connections': Flags.integer({description: 'Open connections served at once; more get a 503 and are closed', default: DEFAULT_SERVER_OPTIONS.maxConnections, min: 1}),
    'shutdown-grace': Flags.integer({description: 'Seconds requests in flight may take to finish on SIGTERM/SIGINT/SIGHUP', default: 10, min: 0, max: MAX_TIMER_SECONDS}),
    'tool-call-parser': Flags.string({
      description:
        'Read tool calls from the output for tool_choice "auto", vLLM\'s names: hermes (<tool_call> JSON: Qwen2.5/3, Hermes), llama3_json, mistral ([TOOL_CALLS]), pythonic / llama4_pythonic ([f(a=1)]: Llama 3.2/4, Gemma 3), deepseek_v3, deepseek_v31, granite (<|tool_call|>[...]), phi4_mini_json (functools[...]) or internlm',
      options: [...TOOL_CALL_PARSERS],
    }),
    'reasoning-parser': Flags.string({
      description:
        "Split chat replies' thinking into message.reasoning (and reasoning_content) from the answer in content, vLLM's names: deepseek_r1 (DeepSeek-R1 and distills, QwQ) or qwen3",
      options: [...REASONING_PARSERS],
    }),
    'chat-template-content-format': Flags.string({
      description:
        "How the chat template gets a message's content (vLLM's flag): string (the text parts joined by newlines) or openai (the list of {type: \"text\", text} parts); auto detects which from the template (a loop over message['content'] means openai)",
      options: [...CHAT_TEMPLATE_CONTENT_FORMATS],
      default: 'auto',
    }),
    'enable-prompt-tokens-details': Flags.boolean({
      description:
        "Report usage.prompt_tokens_details.cached_tokens on /v1/completions and /v1/chat/completions (streamed usage too): the prompt tokens whose KV came from the prefix cache (vLLM's flag; /v1/responses always reports them)",
      default: false,
    }),
    'responses-store': Flags.integer({
      description:
        'Keep up to N finished /v1/responses in memory (least recently used evicted) for previous_response_id, GET/DELETE /v1/responses/{id} and its input_items, and runs background: true ones (cancel, stream resume); store defaults to true with it on (off by default, as vLLM)',
      min: 1,
    }),
    'responses-store-bytes': Flags.string({description: 'The most the kept responses and their input items hold, as JSON text (with --responses-store; default 64MiB)'}),
  }

  async run(): Promise<void> {
    const {args, flags: parsedFlags} = await this.parse(Serve)
    const flags = {...parsedFlags, model: modelFromArgument(args.model, parsedFlags.model)}
    const log = (message: string) => process.stderr.write(`${message}\n`)
    // Until the model is loaded, Ctrl-C ends serve at once: nothing is served yet, and a load cannot stop half way.
    const stopLoadingReport = reportInterrupt(() => 'nothing was served (the server was starting: loading the model)')
    // Bad flags fail here, before the port is taken.
    engineConfigFromFlags(flags, flags.model ?? BUILTIN_MODEL_DIR)
    const server = new ApiServer({
      host: flags.host,
      port: flags.port,
      apiKey: flags['api-key'],
      allowedOrigins: parseAllowedOrigins(flags['allowed-origins']),
      maxConcurrentRequests: flags['max-concurrent-requests'],
      maxQueuedRequests: flags['max-queued-requests'],
      maxBodyBytes: parseByteSize(flags['max-body-size'], 'max-body-size', {min: 1}),
      maxBodyBytesInFlight: parseByteSize(flags['max-body-memory'], 'max-body-memory'),
      bodyStallTimeoutMs: DEFAULT_SERVER_OPTIONS.bodyStallTimeoutMs,
      maxSequencesPerRequest: flags['max-sequences-per-request'],
      requestWindow: flags['request-window'],
      slowClientTimeoutMs: flags['slow-client-timeout'] * 1000,
      maxReplyBytesInFlight: parseByteSize(flags['max-reply-memory'], 'max-reply-memory'),
      headersTimeoutMs: flags['headers-timeout'] * 1000,
      requestTimeoutMs: flags['request-timeout'] * 1000,
      keepAliveTimeoutMs: flags['keep-alive-timeout'] * 1000,
      maxConnections: flags['max-connections'],
      toolCallParser: flags['tool-call-parser'] as (typeof TOOL_CALL_PARSERS)[number] | undefined,
      reasoningParser: flags['reasoning-parser'] as (typeof REASONING_PARSERS)[number] | undefined,
      chatTemplateContentFormat: flags['chat-template-content-format'] as ChatContentFormatOption,
      trustRequestChatTemplate: flags['trust-request-chat-template'],
      enablePromptTokensDetails: flags['enable-prompt-tokens-details'],
      responsesStore: flags['responses-store'],
      responsesStoreBytes: flags['responses-store-bytes'] === undefined ? undefined : parseByteSize(flags['responses-store-bytes'], 'responses-store-bytes', {min: 1}),
      generationConfig: flags['generation-config'] as 'auto' | 'vllm',
      version: this.config.version,
      log,
    })
    announceBuiltinModel(flags, log)

    // Listen first: /health answers "loading" while the weights load.
    const address = await server.listen().catch((error: Error) => this.error(`cannot listen on ${flags.host}:${flags.port}: ${error.message}`, {exit: 1}))
    log(`pagedllm ${this.config.version}: listening on ${address.url}, loading ${flags.model ?? 'the built-in model'} ...`)
    const signals = this.stopOnSignals(server, flags['shutdown-grace'] * 1000, log)
    const stopped = signals.stopped

    let engine: LLMEngine
    try {
      engine = await LLMEngine.create({...(await resolveEngineConfig(flags)), grammarCompileTimeoutMs: flags['grammar-compile-timeout'] * 1000})
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      server.engineFailed(message)
      await server.shutdown(0)
      throw error
    } finally {
      stopLoadingReport()
      signals.watch('SIGINT')
    }
    if (server.isShuttingDown) {
      // A signal came while the model loaded: nothing was served, just release the engine.
      await engine.shutdown()
      return stopped
    }
    server.attachEngine(engine, new TokenizerWorkers(engine.model.dir, engine.maxModelLen, flags['tokenizer-threads'], engine.tokenizer, engine.config.chatTemplate))
    log(describeEngine(engine))
    const defaults = engine.samplingDefaults
    const recommended = Object.entries(GENERATION_CONFIG_SAMPLING_KEYS).filter(([, field]) => defaults[field] !== undefined).map(([key, field]) => `${key} ${defaults[field]}`)
    if (flags['generation-config'] === 'auto' && recommended.length > 0)
      log(`sampling defaults from the model's generation_config.json: ${recommended.join(', ')} (requests override them; --generation-config vllm ignores them)`)
    log(`ready: model "${engine.modelName}" at ${address.url}/v1 (completions, chat/completions, responses, models); /health, /metrics${flags['api-key'] ? '; API key required' : ''}`)
    await stopped
  }

  /**
   * First stop signal: stop gracefully; a second one: exit at once. SIGTERM and SIGHUP from the start (a supervisor's
   * stop waits for the load, then releases the engine); SIGINT once `watch`ed, after the load (before, reportInterrupt).
   */
  private stopOnSignals(server: ApiServer, graceMs: number, log: (message: string) => void): {stopped: Promise<void>; watch: (signal: NodeJS.Signals) => void} {
    const watched: NodeJS.Signals[] = []
    let stopping = false
    let resolveStopped!: () => void
    const stopped = new Promise<void>((resolve) => (resolveStopped = resolve))
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(`${signal} again: exiting now`)
        process.exit(1)
      }
      stopping = true
      log(`${signal}: no new requests; waiting up to ${graceMs / 1000} s for requests in flight`)
      server.shutdown(graceMs).then(
        () => {
          log('shut down')
          for (const signal of watched) process.off(signal, onSignal)
          resolveStopped()
        },
        (error: unknown) => {
          log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
          process.exit(1)
        },
      )
    }
    const watch = (signal: NodeJS.Signals) => {
      watched.push(signal)
      process.on(signal, onSignal)
    }
    for (const signal of STOP_SIGNALS) watch(signal)
    return {stopped, watch}
  }
}

/** `serve MODEL` and `serve --model MODEL` are the same; both at once must agree. */
function modelFromArgument(argument: string | undefined, flag: string | undefined): string | undefined {
  if (argument === '') throw new Errors.CLIError('the MODEL argument cannot be empty')
  if (argument !== undefined && flag !== undefined && argument !== flag)
    throw new Errors.CLIError(`the model is given twice, as the argument ${JSON.stringify(argument)} and as --model ${JSON.stringify(flag)}: give one`)
  return argument ?? flag
}
