// `pagedllm serve`: the OpenAI-compatible HTTP server over the local engine.
import {Command, Flags} from '@oclif/core'
import {PagedLLMError} from '../engine/errors.js'
import {LLMEngine} from '../engine/llm-engine.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../server/http-server.js'
import {TOOL_CALL_PARSERS} from '../server/tool-calls.js'
import {engineConfigFromFlags, engineFlags, parseByteSize, resolveEngineConfig} from '../cli/engine-flags.js'
import {describeEngine, NO_MODEL_HELP} from '../cli/start-engine.js'

export default class Serve extends Command {
  static override description = 'Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /metrics)'
  static override examples = [
    '<%= config.bin %> serve --model ./my-model',
    '<%= config.bin %> serve --model Qwen/Qwen2.5-0.5B-Instruct --port 8080 --api-key secret',
  ]
  static override flags = {
    ...engineFlags,
    host: Flags.string({description: 'Address to listen on (0.0.0.0 for every interface)', default: DEFAULT_SERVER_OPTIONS.host}),
    port: Flags.integer({description: 'Port to listen on (0 = any free port)', default: DEFAULT_SERVER_OPTIONS.port, min: 0, max: 65535}),
    'api-key': Flags.string({description: 'Require "Authorization: Bearer <key>" on /v1/*', env: 'PAGEDLLM_API_KEY'}),
    'max-concurrent-requests': Flags.integer({
      description: 'HTTP generation requests handed to the engine at once; more wait in a queue',
      default: DEFAULT_SERVER_OPTIONS.maxConcurrentRequests,
      min: 1,
    }),
    'max-queued-requests': Flags.integer({
      description: 'Requests that may wait for a slot; beyond that the server answers 503',
      default: DEFAULT_SERVER_OPTIONS.maxQueuedRequests,
      min: 0,
    }),
    'max-body-size': Flags.string({description: 'Largest request body accepted (413 beyond)', default: '4MiB'}),
    'shutdown-grace': Flags.integer({description: 'Seconds requests in flight may take to finish on SIGTERM/SIGINT', default: 10, min: 0}),
    'tool-call-parser': Flags.string({
      description: 'Read tool calls from the output for tool_choice "auto": hermes (<tool_call> JSON, Qwen2.5) or llama3_json',
      options: [...TOOL_CALL_PARSERS],
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve)
    if (!flags.model) this.error(NO_MODEL_HELP, {exit: 2})
    const log = (message: string) => process.stderr.write(`${message}\n`)
    let server: ApiServer
    try {
      // Bad flags fail here, before the port is taken.
      engineConfigFromFlags(flags, flags.model)
      server = new ApiServer({
        host: flags.host,
        port: flags.port,
        apiKey: flags['api-key'],
        maxConcurrentRequests: flags['max-concurrent-requests'],
        maxQueuedRequests: flags['max-queued-requests'],
        maxBodyBytes: parseByteSize(flags['max-body-size'], 'max-body-size'),
        toolCallParser: flags['tool-call-parser'] as (typeof TOOL_CALL_PARSERS)[number] | undefined,
        version: this.config.version,
        log,
      })
    } catch (error) {
      if (error instanceof PagedLLMError) this.error(error.message, {exit: error.exitCode})
      throw error
    }

    // Listen first: /health answers "loading" while the weights load.
    const address = await server.listen().catch((error: Error) => this.error(`cannot listen on ${flags.host}:${flags.port}: ${error.message}`, {exit: 1}))
    log(`pagedllm ${this.config.version}: listening on ${address.url}, loading ${flags.model} ...`)
    const stopped = this.stopOnSignals(server, flags['shutdown-grace'] * 1000, log)

    let engine: LLMEngine
    try {
      engine = await LLMEngine.create(await resolveEngineConfig(flags))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      server.engineFailed(message)
      await server.shutdown(0)
      if (error instanceof PagedLLMError) this.error(message, {exit: error.exitCode})
      throw error
    }
    if (server.isShuttingDown) {
      // A signal came while the model loaded: nothing was served, just release the engine.
      await engine.shutdown()
      return stopped
    }
    server.attachEngine(engine)
    log(describeEngine(engine))
    log(`ready: model "${engine.modelName}" at ${address.url}/v1 (completions, chat/completions, models); /health, /metrics${flags['api-key'] ? '; API key required' : ''}`)
    await stopped
  }

  /** First SIGTERM/SIGINT: stop gracefully; a second one: exit at once. */
  private stopOnSignals(server: ApiServer, graceMs: number, log: (message: string) => void): Promise<void> {
    return new Promise((resolve) => {
      let stopping = false
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
            process.off('SIGTERM', onSignal)
            process.off('SIGINT', onSignal)
            resolve()
          },
          (error: unknown) => {
            log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
            process.exit(1)
          },
        )
      }
      process.on('SIGTERM', onSignal)
      process.on('SIGINT', onSignal)
    })
  }
}
