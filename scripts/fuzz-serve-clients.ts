// The client behaviour of scripts/fuzz-serve.ts: one request on a fresh connection, and clients that disconnect, never read, trickle bodies, crowd in, pipeline or speak broken HTTP.
import {request as httpRequest} from 'node:http'
import {connect} from 'node:net'
import {type FuzzRequest, generateRequest, type Random} from './fuzz-serve-bodies.js'
import {replyProblem} from './fuzz-serve-checks.js'

export const REQUEST_TIMEOUT_MS = 60_000

export interface Reply {
  status: number
  contentType: string
  text: string
}

/** Sends one request on a fresh connection; a body sent chunked goes in a few pieces. */
export function send(port: number, fuzz: FuzzRequest, timeoutMs = REQUEST_TIMEOUT_MS, abortAfterMs?: number): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const headers = {...fuzz.headers}
    if (fuzz.body && !fuzz.chunked) headers['content-length'] = String(fuzz.body.length)
    const req = httpRequest({host: '127.0.0.1', port, method: fuzz.method, path: fuzz.path, headers, agent: false}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        clearTimeout(timer)
        resolveReply({status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8')})
      })
      response.on('error', reject)
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no complete reply in ${timeoutMs / 1000} s`))
    }, timeoutMs)
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(new Error('aborted by the client')), abortAfterMs)
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    if (fuzz.body && fuzz.chunked) {
      const third = Math.ceil(fuzz.body.length / 3)
      for (let at = 0; at < fuzz.body.length; at += third) req.write(fuzz.body.subarray(at, at + third))
    } else if (fuzz.body) req.write(fuzz.body)
    req.end()
  })
}

export async function clientBehaviour(port: number, random: Random, fail: (kind: string, detail: string) => void): Promise<void> {
  const streamBody = (maxTokens: number) => Buffer.from(JSON.stringify({prompt: 'Once upon a time', max_tokens: maxTokens, ignore_eos: true, stream: true, n: random.int(1, 3)}))
  const kind = random.pick(['disconnect-mid-stream', 'disconnect-mid-body', 'never-read', 'slow-body', 'burst', 'disconnect-any', 'disconnect-any', 'disconnect-any', 'raw-http', 'raw-http', 'pipelined'])
  const socket = () => connect(port, '127.0.0.1')
  const post = (body: Buffer, length = body.length) => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`
  const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms))
  if (kind === 'raw-http') {
    // Framing node's parser refuses, or methods no route has: every answer is a status line and OpenAI's error object.
    const raw = random.pick(RAW_REQUESTS)
    const reply = await new Promise<string>((done) => {
      const client = socket()
      let text = ''
      client.on('data', (chunk) => (text += chunk))
      client.on('error', () => done(text))
      client.on('close', () => done(text))
      client.write(raw, 'latin1')
      setTimeout(() => client.end(), 1000)
    })
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1])
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4)
    // A reply to HEAD has no body (RFC 9110), so only its status can be checked.
    const head = raw.startsWith('HEAD ')
    const problem = !Number.isFinite(status) ? 'no status line' : status === 200 || status === 100 || (head && status < 500) ? null : replyProblem('', status, 'application/json', body, undefined)
    if (problem !== null) fail('raw-http', `${JSON.stringify(raw.slice(0, 60))}: ${problem} :: ${JSON.stringify(reply.slice(0, 200))}`)
  } else if (kind === 'pipelined') {
    // Generated requests pipelined on one connection (run in turn, past 16 waiting a 503 each), read or cut midway.
    const requests = Array.from({length: random.pick([2, 8, 40])}, () => generateRequest(random, ''))
    const wire = requests.map(({method, path, headers, body}) => {
      const lines = Object.entries({...headers, 'content-length': String(body?.length ?? 0)}).map(([name, value]) => `${name}: ${value}\r\n`)
      return Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${lines.join('')}\r\n`, 'latin1'), body ?? Buffer.alloc(0)])
    })
    const reply = await new Promise<string>((done) => {
      const client = socket()
      let text = ''
      client.on('data', (chunk) => (text += chunk.toString('latin1')))
      client.on('error', () => done(text))
      client.on('close', () => done(text))
      client.write(Buffer.concat(wire))
      setTimeout(() => client.destroy(), random.pick([200, 10_000]))
    })
    for (const [, status] of reply.matchAll(/HTTP\/1\.1 (\d{3}) /g))
      if (Number(status) >= 500 && Number(status) !== 503) fail('pipelined', `a ${status} among ${requests.length} pipelined requests`)
  } else if (kind === 'disconnect-any') {
    // Any generated request, cut at a random moment: while queued, tokenizing, compiling a grammar, or streaming.
    const fuzz = generateRequest(random, '')
    await send(port, fuzz, REQUEST_TIMEOUT_MS, random.pick([0, 5, 20, 50, 100, 300, 800])).catch(() => {})
  } else if (kind === 'disconnect-mid-stream') {
    const body = streamBody(40)
    const client = socket()
    client.write(post(body) + body)
    await new Promise<void>((done) => {
      client.once('data', () => done())
      setTimeout(done, 5000)
    })
    client.destroy()
  } else if (kind === 'disconnect-mid-body') {
    const body = streamBody(4)
    const client = socket()
    client.write(post(body, body.length + 1000) + body.subarray(0, random.int(0, body.length)))
    await sleep(random.int(0, 300))
    client.destroy()
  } else if (kind === 'never-read') {
    const body = streamBody(random.pick([60, 120]))
    const client = socket()
    client.pause()
    client.write(post(body) + body)
    await sleep(random.int(500, 5000))
    client.destroy()
  } else if (kind === 'slow-body') {
    const body = Buffer.from(JSON.stringify({prompt: 'slow', max_tokens: 2}))
    const client = socket()
    client.on('data', () => {})
    client.on('error', () => {})
    client.write(post(body))
    for (const byte of body) {
      client.write(Buffer.from([byte]))
      await sleep(60)
    }
    await sleep(1000)
    client.destroy()
  } else {
    const replies = await Promise.allSettled(
      Array.from({length: random.pick([50, 200])}, (_, i) =>
        send(port, {method: 'POST', path: '/v1/completions', headers: {'content-type': 'application/json'}, body: Buffer.from(JSON.stringify({prompt: `burst ${i}`, max_tokens: 2})), label: 'burst'}),
      ),
    )
    for (const reply of replies) {
      if (reply.status === 'rejected') fail('burst', `connection error: ${reply.reason.message}`)
      else if (reply.value.status !== 200) {
        const problem = replyProblem('/v1/completions', reply.value.status, reply.value.contentType, reply.value.text, undefined)
        if (problem !== null) fail('burst', problem)
      }
    }
  }
}

const RAW_REQUESTS = [
  'CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  'TRACE /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
  'BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}',
  'GET /v1/models HTTP/1.1\r\nHost: x\r\n' + 'X-Pad: y\r\n'.repeat(3000) + '\r\n',
  'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'z'.repeat(20_000) + '\r\n\r\n',
  'GET /\u00ff\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/models HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /v1/models\r\n\r\n',
  'POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
  'GET /v1/models/%E0%A4 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://other.example/v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
  '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003', // a TLS ClientHello on the plain port
]
