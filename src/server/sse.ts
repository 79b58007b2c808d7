// Server-sent events as OpenAI streams them: `data: {json}\n\n` chunks closed by `data: [DONE]\n\n`, written no faster than the client reads.
import type {ServerResponse} from 'node:http'
import type {ReplySlicer} from './reply-slices.js'

/** The client read too slowly for too long: its stream was cut so the server does not buffer for it. */
export class ClientTooSlow extends Error {
  constructor(timeoutMs: number) {
    super(`the client did not read its stream for ${timeoutMs} ms`)
  }
}

export class SseStream {
  private started = false

  /** `stallTimeoutMs`: how long a full socket buffer may wait for the client before the stream is cut. */
  constructor(
    private readonly response: ServerResponse,
    private readonly stallTimeoutMs: number,
  ) {}

  /** Headers go out with the first event, so an error found before it can still be a plain JSON error reply. */
  get hasStarted(): boolean {
    return this.started
  }

  /**
   * Resolves once the event is handed to the socket and the socket can take more. The caller awaits it before
   * pulling the next engine output, so a slow reader holds back the reply instead of growing a buffer; one that
   * stays stalled past the timeout is disconnected (ClientTooSlow), which aborts its requests and frees their blocks.
   */
  async send(data: unknown, event?: string, slicer?: ReplySlicer): Promise<void> {
    // A big event (an echoed prompt's logprobs) is serialized a slice at a time (`slicer`), before any of it is written.
    return this.sendFrame(slicer === undefined ? eventFrame(data, event) : frameText((await slicer.json(data)).join(''), event))
  }

  /** send's wait, for an event already framed (eventFrame): a stored stream's replay serializes nothing. */
  async sendFrame(text: string): Promise<void> {
    this.start()
    if (this.response.write(text)) return
    await this.drained()
  }

  /**
   * Ends the stream; an error after the first event can only be told in-band, as vLLM does. `done: false` leaves out
   * the closing [DONE], for streams whose last event says they are over (the Responses API's).
   */
  finish(error?: object, {event, done = true}: {event?: string; done?: boolean} = {}): void {
    this.start()
    if (error) this.response.write(eventFrame(error, event))
    this.response.end(done ? 'data: [DONE]\n\n' : undefined)
  }

  private drained(): Promise<void> {
    const response = this.response
    // Already gone: its 'close' has fired, and the request's abort signal takes it from here.
    if (response.destroyed) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        response.off('drain', done)
        response.off('close', done)
        resolve()
      }
      const timer = setTimeout(() => {
        response.off('drain', done)
        response.off('close', done)
        response.destroy()
        reject(new ClientTooSlow(this.stallTimeoutMs))
      }, this.stallTimeoutMs)
      // 'close' (client gone) resolves too: the request's abort signal takes it from there.
      response.on('drain', done)
      response.on('close', done)
    })
  }

  private start(): void {
    if (this.started) return
    this.started = true
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // No Connection header: node keeps the connection as the request asks. 'keep-alive' here held a client that
      // sent Connection: close for the keep-alive timeout after the stream ended, waiting for the close.
      // Proxies such as nginx would otherwise buffer the whole stream.
      'x-accel-buffering': 'no',
    })
    this.response.flushHeaders()
  }
}

/** One SSE event: its JSON, and its name when the API names events (`event: response.created`). */
export function eventFrame(data: unknown, event: string | undefined): string {
  return frameText(JSON.stringify(data), event)
}

/** An event's frame around its JSON text, serialized beforehand. */
export function frameText(json: string, event: string | undefined): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${json}\n\n`
}
