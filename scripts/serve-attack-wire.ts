// Raw-socket and fetch helpers for scripts/serve-attacks.ts: bytes exactly as an attacker writes them, replies read back whole.
import {connect, type Socket} from 'node:net'
import {replyProblem} from './fuzz-serve-checks.js'

export interface Target {
  host: string
  port: number
  url: string
}

export interface RawReply {
  /** Every status line the server wrote, in order (interim 100s included). */
  statuses: number[]
  text: string
  /** The server closed the connection before `idleMs` of silence. */
  closed: boolean
}

/**
 * Writes `pieces` on one connection (a number is a pause in ms), then reads until the server closes it or stays quiet
 * for `idleMs`.
 */
export function raw(target: Target, pieces: (string | Buffer | number)[], idleMs = 1500): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(target.port, target.host)
    const chunks: Buffer[] = []
    let idle: NodeJS.Timeout | undefined
    const finish = (closed: boolean) => {
      clearTimeout(idle)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      resolve({statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1])), text, closed})
    }
    const armIdle = () => {
      clearTimeout(idle)
      idle = setTimeout(() => finish(false), idleMs)
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      armIdle()
    })
    socket.on('close', () => finish(true))
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? finish(true) : reject(error)))
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (typeof piece === 'number') await new Promise((wait) => setTimeout(wait, piece))
        else if (!socket.destroyed) socket.write(piece)
      }
      armIdle()
    })
  })
}

/** A POST request's bytes with a correct Content-Length unless `headers` sets framing itself. */
export function postBytes(path: string, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const framing = Object.keys(headers).some((name) => /^(content-length|transfer-encoding)$/i.test(name)) ? {} : {'content-length': String(bytes.length)}
  const all = {host: 'x', 'content-type': 'application/json', ...framing, ...headers}
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes])
}

export interface Reply {
  status: number
  contentType: string
  text: string
}

export async function request(target: Target, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Reply> {
  const response = await fetch(target.url + path, {
    method,
    headers: body === undefined ? headers : {'content-type': 'application/json', ...headers},
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(60_000),
  })
  return {status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text()}
}

/** The fuzzer's reply invariants (scripts/fuzz-serve-checks.ts): a well-formed 200, or a 4xx / 503 with OpenAI's error object. */
export function problemOf(path: string, reply: Reply, sent: unknown): string | null {
  return replyProblem(path, reply.status, reply.contentType, reply.text, sent)
}

/** The error object's message of a reply (or its start), for findings. */
export function gist(reply: Reply | RawReply): string {
  return ('status' in reply ? `${reply.status} ` : `${reply.statuses.join(',')} `) + reply.text.replace(/\s+/g, ' ').slice(0, 160)
}
