// Hostile HTTP the other server tests do not send: targets that are not URLs, framing node's parser refuses, compressed bodies, odd Expect headers.
import assert from 'node:assert/strict'
import {connect} from 'node:net'
import {describe, it} from 'node:test'
import {gzipSync} from 'node:zlib'
import {post, start} from './support/server-harness.js'

/** Writes raw bytes to the server and resolves with all it sent once it closes the connection. */
function exchange(url: string, request: string | Buffer): Promise<string> {
  const {hostname, port} = new URL(url)
  return new Promise((resolve, reject) => {
    let received = ''
    const socket = connect(Number(port), hostname, () => socket.write(request))
    socket.setEncoding('utf8').on('data', (text: string) => (received += text))
    socket.on('error', reject)
    socket.on('close', () => resolve(received))
  })
}

/** Status and OpenAI error object of a raw reply; fails unless the body is one. */
function errorOf(reply: string): {status: number; error: {message: string; type: string; param: unknown; code: unknown}} {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1])
  const body = reply.slice(reply.indexOf('\r\n\r\n') + 4)
  assert.match(reply, /content-type: application\/json/i, reply)
  const {error} = JSON.parse(body)
  assert.equal(typeof error.message, 'string')
  assert.equal(error.type, 'invalid_request_error')
  return {status, error}
}

describe('hostile HTTP framing', () => {
  it('answers a request target that is not a URL with a 400, not a 500', async () => {
    const {url, logs} = await start()
    const reply = errorOf(await exchange(url, 'GET http://[bad/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'))
    assert.equal(reply.status, 400)
    assert.equal(reply.error.code, 'invalid_url')
    assert.deepEqual(logs.filter((line) => /internal error/.test(line)), [])
  })

  it('reads a target that starts with // as a path, not a host', async () => {
    const {url} = await start()
    // Resolved against a base, '//v1/models' was host 'v1' and path '/models' (a 404 naming a path nobody sent); doubled slashes are one.
    const reply = await exchange(url, 'GET //v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.match(reply, /^HTTP\/1\.1 200/)
    assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).object, 'list')
    const unknown = await exchange(url, 'GET //v1/modelz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.equal(JSON.parse(unknown.slice(unknown.indexOf('\r\n\r\n') + 4)).error.message, 'No route for /v1/modelz.')
    assert.match(await exchange(url, 'GET http://x/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 200/)
  })

  it("answers what node's parser refuses with node's status and an OpenAI error body", async () => {
    const {url} = await start({headersTimeoutMs: 200, requestTimeoutMs: 400})
    const conflicting = 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'
    const conflict = errorOf(await exchange(url, conflicting))
    assert.deepEqual([conflict.status, conflict.error.code], [400, 'malformed_http'])
    const garbage = errorOf(await exchange(url, '\x00\x01 nonsense\r\n\r\n'))
    assert.equal(garbage.status, 400)
    const bigHeaders = errorOf(await exchange(url, `GET /health HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`))
    assert.deepEqual([bigHeaders.status, bigHeaders.error.code], [431, 'headers_too_large'])
    const slowBody = errorOf(await exchange(url, 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"prompt"'))
    assert.deepEqual([slowBody.status, slowBody.error.code], [408, 'request_timeout'])
  })

  it('answers an HTTP/1.1 request without Host with a 400 error object (node sent a bare 400); HTTP/1.0 needs none', async () => {
    const {url, engine} = await start()
    const body = JSON.stringify({prompt: 'hi', max_tokens: 1})
    const reply = errorOf(await exchange(url, `POST /v1/completions HTTP/1.1\r\ncontent-length: ${body.length}\r\n\r\n${body}`))
    assert.deepEqual([reply.status, reply.error.code], [400, 'missing_host'])
    assert.equal(engine.receivedParams.length, 0)
    assert.match(await exchange(url, 'GET /health HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200/)
  })

  it('closes a stream sent to a client that asked for Connection: close as soon as it ends', {timeout: 20_000}, async () => {
    const {url} = await start({keepAliveTimeoutMs: 60_000})
    const body = JSON.stringify({prompt: 'hi', max_tokens: 2, stream: true})
    const reply = await exchange(url, `POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
    assert.match(reply, /^connection: close\r$/im)
    assert.ok(reply.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n'), reply.slice(-80))
  })

  it('refuses a compressed body with a 415 naming Content-Encoding, and serves the same body sent plain', async () => {
    const {url, engine} = await start()
    const body = JSON.stringify({prompt: 'hi', max_tokens: 2})
    const gzipped = gzipSync(body)
    const head = `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gzipped.length}\r\nconnection: close\r\n\r\n`
    const reply = errorOf(await exchange(url, Buffer.concat([Buffer.from(head), gzipped])))
    assert.deepEqual([reply.status, reply.error.code], [415, 'unsupported_content_encoding'])
    assert.match(reply.error.message, /Content-Encoding 'gzip'/)
    assert.equal(engine.receivedParams.length, 0)
    const identity = head.replace('gzip', 'identity').replace(`content-length: ${gzipped.length}`, `content-length: ${body.length}`)
    assert.match(await exchange(url, identity + body), /^HTTP\/1\.1 200/)
    // The same body as a gzip transfer coding: node passes it on undecoded.
    const chunk = Buffer.concat([Buffer.from(`${gzipped.length.toString(16)}\r\n`), gzipped, Buffer.from('\r\n0\r\n\r\n')])
    const transferHead = 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n'
    const transfer = errorOf(await exchange(url, Buffer.concat([Buffer.from(transferHead), chunk])))
    assert.deepEqual([transfer.status, transfer.error.code], [415, 'unsupported_content_encoding'])
    assert.match(transfer.error.message, /Transfer-Encoding 'gzip'/)
    assert.equal(engine.receivedParams.length, 1)
  })

  it('reads a body in the charset its Content-Type declares; one node cannot decode is a 415 naming it', async () => {
    const {url, engine} = await start()
    const send = (body: Buffer, contentType: string) =>
      exchange(url, Buffer.concat([Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]))
    const json = JSON.stringify({prompt: 'héllo', max_tokens: 1})
    // Before, both were 'not valid UTF-8' 400s (Python's json.loads, behind vLLM, reads UTF-16).
    assert.match(await send(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')]), 'application/json; charset=utf-16'), /^HTTP\/1\.1 200/)
    // Big-endian, its byte-order mark saying so: TextDecoder's 'utf-16' alone read it little-endian (a 400 'not valid JSON').
    assert.match(await send(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(json, 'utf16le').swap16()]), 'application/json; charset=utf-16'), /^HTTP\/1\.1 200/)
    assert.match(await send(Buffer.from(json, 'latin1'), 'application/json; charset=ISO-8859-1'), /^HTTP\/1\.1 200/)
    assert.deepEqual(engine.receivedParams.length, 3)
    const unknown = errorOf(await send(Buffer.from(json), 'application/json; charset=klingon'))
    assert.deepEqual([unknown.status, unknown.error.code], [415, 'unsupported_charset'])
    assert.match(unknown.error.message, /charset 'klingon'/)
    const broken = errorOf(await send(Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x00, 0xd8, 0x7d, 0x00]), 'application/json; charset=utf-16le'))
    assert.deepEqual([broken.status, broken.error.code], [400, 'invalid_encoding'])
    assert.match(broken.error.message, /not valid utf-16le/)
  })

  it('finds a UTF-16 body without a charset as json.loads does (byte-order mark, or zero bytes); UTF-32 is a 415 naming it', async () => {
    const {url, engine} = await start()
    const send = (body: Buffer) =>
      exchange(url, Buffer.concat([Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]))
    const json = JSON.stringify({prompt: 'héllo 😀', max_tokens: 1, echo: true})
    const le = Buffer.from(json, 'utf16le')
    const be = Buffer.from(le).swap16()
    // Before, each was a 400 'not valid UTF-8' (or 'not valid JSON').
    for (const body of [Buffer.concat([Buffer.from([0xff, 0xfe]), le]), Buffer.concat([Buffer.from([0xfe, 0xff]), be]), le, be, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])]) {
      const reply = await send(body)
      assert.match(reply, /^HTTP\/1\.1 200/)
      assert.ok(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).choices[0].text.startsWith('héllo 😀'), reply)
    }
    assert.equal(engine.receivedParams.length, 5)
    const utf32le = Buffer.alloc(json.length * 4)
    ;[...json].forEach((char, i) => utf32le.writeUInt32LE(char.codePointAt(0)!, i * 4))
    const utf32be = Buffer.from(utf32le).swap32()
    for (const [body, order] of [[utf32le, 'little'], [utf32be, 'big'], [Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), utf32le]), 'little'], [Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), utf32be]), 'big']] as const) {
      const refused = errorOf(await send(body))
      assert.deepEqual([refused.status, refused.error.code], [415, 'unsupported_charset'])
      assert.match(refused.error.message, new RegExp(`UTF-32 \\(${order}-endian\\)`))
    }
    const broken = errorOf(await send(Buffer.from([0x7b, 0x00, 0x00, 0xd8, 0x7d, 0x00])))
    assert.deepEqual([broken.status, broken.error.code], [400, 'invalid_encoding'])
    assert.match(broken.error.message, /not valid utf-16le \(the encoding its zero bytes say\)/)
  })

  it('serves a path with a trailing slash or doubled slashes as the route it names, on every route', async () => {
    const {url, engine} = await start()
    // Before, a 404 (that named the route meant, for a trailing slash only).
    for (const path of ['/v1/completions/', '/v1//completions', '//v1/completions//']) {
      const completions = await post(`${url}${path}`, {prompt: 'hi', max_tokens: 1})
      assert.equal(completions.status, 200, `${path}: ${completions.text}`)
      assert.equal(completions.json().object, 'text_completion')
    }
    assert.equal(engine.receivedParams.length, 3)
    for (const path of ['/v1/models/', '/v1//models', '/health/', '/v1/models/fake-model/', '/v1/models//fake-model']) {
      const reply = await fetch(`${url}${path}`)
      assert.equal(reply.status, 200, `${path}: ${await reply.text()}`)
    }
    const models = (await (await fetch(`${url}/v1/models/`)).json()) as {object: string}
    assert.equal(models.object, 'list')
    const unknown = await fetch(`${url}/v1/completion/`)
    assert.equal(unknown.status, 404)
    assert.equal(((await unknown.json()) as {error: {message: string}}).error.message, 'No route for /v1/completion.')
  })

  it('answers a Connection: close request whole when the client sends more after it, and nothing after it', async () => {
    const {url, engine} = await start()
    const post = (body: unknown) => {
      const text = JSON.stringify(body)
      return `POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: ${text.length}\r\n\r\n${text}`
    }
    const health = 'GET /health HTTP/1.1\r\nhost: x\r\n\r\n'
    // In one write: node's parser fails on the bytes after the request; that request was answered with a 400 and dropped.
    const whole = await exchange(url, post({prompt: 'hi', max_tokens: 2}) + health)
    assert.deepEqual([...whole.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) => match[1]), ['200'])
    assert.equal(JSON.parse(whole.slice(whole.indexOf('\r\n\r\n') + 4)).object, 'text_completion')
    // Sent while the request streams: the stream was cut where the bytes came.
    const {hostname, port} = new URL(url)
    const streamed = await new Promise<string>((resolve) => {
      let received = ''
      const socket = connect(Number(port), hostname, () => socket.write(post({prompt: 'hi', max_tokens: 8, stream: true})))
      socket.setEncoding('utf8').once('data', () => socket.write(health))
      socket.on('data', (text: string) => (received += text))
      socket.on('error', () => {})
      socket.on('close', () => resolve(received))
    })
    assert.deepEqual([...streamed.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) => match[1]), ['200'])
    assert.ok(streamed.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n'), streamed.slice(-80))
    assert.equal(engine.receivedParams.length, 2)
  })

  it('answers an Expect header other than 100-continue with a 417 error body', async () => {
    const {url} = await start()
    const body = JSON.stringify({prompt: 'hi', max_tokens: 1})
    const reply = errorOf(await exchange(url, `POST /v1/completions HTTP/1.1\r\nhost: x\r\nexpect: teapot\r\ncontent-length: ${body.length}\r\n\r\n${body}`))
    assert.deepEqual([reply.status, reply.error.code], [417, 'expectation_failed'])
  })
})

describe('hostile field values', () => {
  it('reads 200,000 tools in one pass: a repeated name is found without comparing every pair', {timeout: 30_000}, async () => {
    const {url} = await start({maxBodyBytes: 16 << 20})
    // Each tool was compared with every one before it: 80,000 tools (a 4 MB body) held the event loop for minutes.
    const tools = Array.from({length: 200_000}, (_, i) => ({type: 'function', function: {name: `f${i}`}}))
    const body = {messages: [{role: 'user', content: 'hi'}], max_tokens: 1, tools, tool_choice: 'none'}
    assert.equal((await post(`${url}/v1/chat/completions`, body)).status, 200)
    const repeated = await post(`${url}/v1/chat/completions`, {...body, tools: [...tools, {type: 'function', function: {name: 'f17'}}]})
    assert.equal(repeated.status, 400)
    assert.equal(repeated.json().error.param, 'tools[200000].function.name')
  })

  it('quotes at most 1,000 characters of what the client sent back in an error message', async () => {
    const {url} = await start()
    const name = 'm'.repeat(200_000)
    const reply = await post(`${url}/v1/completions`, {model: name, prompt: 'hi', max_tokens: 1})
    assert.equal(reply.status, 404)
    const {message} = reply.json().error
    assert.ok(message.length < 1100, `message of ${message.length} characters`)
    assert.match(message, /^The model 'm+\.\.\. \(\d+ more characters\)$/)
  })
})
