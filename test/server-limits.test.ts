// Issue 12 case 7 over the fake engine: body memory reserved before reading, slow stream readers cut, header/body/keep-alive timeouts, connection cap.
import assert from 'node:assert/strict'
import type {Socket} from 'node:net'
import {describe, it} from 'node:test'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkLogprobEntries} from '../src/server/reply-logprobs-budget.js'
import {FakeEngine} from './support/fake-engine.js'
import {openSocket, post, start, waitFor} from './support/server-harness.js'

/** Resolves with what the server sent once it closes the connection. */
function closed(socket: Socket): Promise<string> {
  let received = ''
  socket.setEncoding('utf8').on('data', (text: string) => (received += text))
  socket.on('error', () => {})
  return new Promise((resolve) => socket.once('close', () => resolve(received)))
}

/** A bound far above the configured timeouts (200-400 ms) and far below node's defaults (5-60 s): a missing limit fails here. */
function within<T>(promise: Promise<T>, what: string, timeoutMs = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

describe('resource bounds (case 7)', () => {
  it('reserves body memory before reading: an upload beyond the budget waits, and with no queue gets a 503', async () => {
    const {url, server} = await start({maxBodyBytes: 1000, maxBodyBytesInFlight: 1000, maxQueuedRequests: 0})
    // The first upload declares 1000 bytes and sends 10: it holds the whole budget while it trickles.
    const slow = await openSocket(url)
    slow.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"prompt":')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const second = await post(`${url}/v1/completions`, {prompt: 'a', max_tokens: 1})
    assert.equal(second.status, 503)
    assert.match(second.json().error.message, /body bytes/)
    slow.destroy()
    await waitFor(() => (server as any).bodyBudget.unitsInUse === 0, 'the budget to be returned')
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'a', max_tokens: 1})).status, 200)
  })

  it('gives back the unused reservation of a chunked body once it is read', async () => {
    const engine = new FakeEngine({stepMs: 5})
    const {url} = await start({maxBodyBytes: 1000, maxBodyBytesInFlight: 1000, maxQueuedRequests: 0}, engine)
    const chunks = [JSON.stringify({prompt: 'x', max_tokens: 60})]
    // No Content-Length: it reserves the whole 1000-byte limit until its body is read.
    const body = new ReadableStream({pull: (controller) => void (chunks.length > 0 ? controller.enqueue(new TextEncoder().encode(chunks.shift())) : controller.close())})
    const first = fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body, duplex: 'half'} as RequestInit)
    await waitFor(() => engine.stats().numRunning === 1, 'the chunked request to run')
    assert.equal((await post(`${url}/v1/completions`, {prompt: 'y', max_tokens: 1})).status, 200)
    assert.equal((await first).status, 200)
  })

  it('refuses a declared Content-Length over the limit without waiting for the body', async () => {
    const {url} = await start({maxBodyBytes: 1000})
    const socket = await openSocket(url)
    const reply = closed(socket)
    socket.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5000000\r\n\r\n')
    assert.match(await reply, /^HTTP\/1\.1 413/)
  })

  it('cuts a stream whose client stops reading, aborting its request and freeing its blocks', async () => {
    const engine = new FakeEngine({maxModelLen: 300_000, totalBlocks: 1_000_000, stepMs: 1})
    const {url, logs} = await start({slowClientTimeoutMs: 300}, engine)
    const socket = await openSocket(url)
    socket.pause() // never reads: the socket buffers fill and the server's writes report backpressure
    const body = JSON.stringify({prompt: 'y'.repeat(100_000), echo: true, n: 32, max_tokens: 100_000, stream: true})
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await waitFor(() => engine.abortedRequestIds.length === 1, 'the stalled request to be aborted', 10_000)
    assert.ok(logs.some((line) => /cut a stream: the client did not read its stream for 300 ms/.test(line)), logs.join('\n'))
    await waitFor(() => engine.stats().kv.usedBlocks === 0, 'its blocks to be freed')
    socket.destroy()
  })

  it('cuts a client that does not take a reply sent whole (not streamed), so the reply does not stay in memory', async () => {
    const engine = new FakeEngine({maxModelLen: 300_000, totalBlocks: 1_000_000, stepMs: 1})
    const {url, logs} = await start({slowClientTimeoutMs: 1000}, engine)
    const socket = await openSocket(url)
    socket.pause() // never reads: a 16 MB reply cannot fit the socket's buffers
    const body = JSON.stringify({prompt: 'y'.repeat(200_000), echo: true, n: 80, max_tokens: 1})
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await waitFor(() => logs.some((line) => /cut a reply: the client took none of it for 1000 ms/.test(line)), 'the reply nobody takes to be cut', 10_000)
    socket.destroy()
    // A client reading the same reply slowly is not cut: what counts is a stall, not the time the reply takes.
    const slow = await openSocket(url)
    let received = 0
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length
      slow.pause()
      setTimeout(() => slow.resume(), 10)
    })
    const done = new Promise((resolve) => slow.once('close', resolve))
    slow.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await within(done, 'the slow reader to get its whole reply', 60_000)
    assert.ok(received > 16_000_000, `received ${received} bytes`)
  })

  it('closes a connection whose headers do not arrive in time, and one whose body does not', async () => {
    const {url} = await start({headersTimeoutMs: 200, requestTimeoutMs: 400})
    const headers = await openSocket(url)
    const headersClosed = closed(headers)
    headers.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\n')
    assert.match(await within(headersClosed, 'closing a connection without headers'), /^HTTP\/1\.1 408/)
    const body = await openSocket(url)
    const bodyClosed = closed(body)
    body.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"prompt"')
    await within(bodyClosed, 'closing a connection without its body')
  })

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const {url} = await start({keepAliveTimeoutMs: 200})
    const socket = await openSocket(url)
    const reply = closed(socket)
    socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n')
    assert.match(await within(reply, 'closing an idle keep-alive connection'), /^HTTP\/1\.1 200/)
  })

  it('serves at most --max-connections connections at once: the next get a 503 error reply, past twice the cap none', async () => {
    const {url} = await start({maxConnections: 2})
    const first = await openSocket(url)
    const second = await openSocket(url)
    const third = await openSocket(url)
    const fourth = await openSocket(url)
    const fifth = await openSocket(url)
    await within(closed(fifth), 'refusing a connection past twice the cap')
    for (const socket of [third, fourth]) {
      const reply = closed(socket)
      socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n')
      const text = await within(reply, 'answering and closing a connection over the cap')
      assert.match(text, /^HTTP\/1\.1 503/)
      assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'too_many_connections')
    }
    // The first two still work.
    for (const socket of [first, second]) {
      const reply = closed(socket)
      socket.write('GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
      assert.match(await reply, /^HTTP\/1\.1 200/)
    }
  })

  it('refuses a request whose reply would hold more logprob entries than one reply may, naming the field, before it runs', async () => {
    const {url, engine} = await start({}, new FakeEngine({maxModelLen: 2048}))
    // 100 prompts x 1,000 tokens x 21 (prompt_logprobs 20), twice with echo: 4.2M entries. 64 of 1,000 made a 126 MB
    // reply and 1.7 GB of server memory; 1,024 would have taken the server down.
    const prompt = Array.from({length: 100}, () => Array.from({length: 1000}, (_, i) => 32 + (i % 90)))
    const reply = await post(`${url}/v1/completions`, {prompt, max_tokens: 1, echo: true, logprobs: 20, prompt_logprobs: 20})
    assert.equal(reply.status, 400)
    assert.deepEqual([reply.json().error.param, reply.json().error.code], ['prompt_logprobs', 'too_many_logprobs'])
    assert.match(reply.json().error.message, /up to 4,202,100 logprob entries/)
    // Completion logprobs count per sample: n x max_tokens x (top_logprobs + 1).
    const chat = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], n: 64, max_tokens: 2000, logprobs: true, top_logprobs: 20})
    assert.deepEqual([chat.status, chat.json().error.param], [400, 'top_logprobs'])
    assert.equal(engine.receivedParams.length, 0)
    const fits = await post(`${url}/v1/completions`, {prompt: prompt.slice(0, 2), max_tokens: 1, echo: true, logprobs: 20, prompt_logprobs: 20})
    assert.equal(fits.status, 200, fits.text)
    // One sample's own logprobs are bounded by the context (a 128k-context chat with top_logprobs 20 runs); two are not.
    const longChat = {tokenIds: [1, 2, 3], text: '', params: makeSamplingParams({logprobs: 20, maxTokens: 128_000})}
    checkLogprobEntries([longChat], 1, false, 'top_logprobs')
    assert.throws(() => checkLogprobEntries([longChat], 2, false, 'top_logprobs'), /5,376,000 logprob entries/)
  })
})
