// Server-sent events as OpenAI streams them: `data: {json}\n\n` chunks closed by `data: [DONE]\n\n`.
import type {ServerResponse} from 'node:http'

export class SseStream {
  private started = false

  constructor(private readonly response: ServerResponse) {}

  /** Headers go out with the first event, so an error found before it can still be a plain JSON error reply. */
  get hasStarted(): boolean {
    return this.started
  }

  send(data: unknown): void {
    this.start()
    this.response.write(`data: ${JSON.stringify(data)}\n\n`)
  }

  /** Ends the stream; an error after the first event can only be told in-band, as vLLM does. */
  finish(error?: {error: unknown}): void {
    this.start()
    if (error) this.response.write(`data: ${JSON.stringify(error)}\n\n`)
    this.response.end('data: [DONE]\n\n')
  }

  private start(): void {
    if (this.started) return
    this.started = true
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise buffer the whole stream.
      'x-accel-buffering': 'no',
    })
    this.response.flushHeaders()
  }
}
