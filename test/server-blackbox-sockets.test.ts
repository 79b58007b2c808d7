// Black-box hostile clients on raw sockets (a fake engine, so it runs in moments): one that idles mid-body and never reads its error reply must not keep other clients waiting.
import assert from 'node:assert/strict'
import {connect, type Socket} from 'node:net'
import {describe, it} from 'node:test'
import {MAX_PIPELINED} from '../src/server/pipelined-requests.js'
import {FakeEngine} from './support/fake-engine.js'
import {post, start, waitFor} from './support/server-harness.js'

/** A raw connection that reads nothing and never closes its side: the server alone decides when it ends. */
async function deafClient(url: string, request: string): Promise<Socket> {
  const {hostname, port} = new URL(url)
  const socket = await new Promise<Socket>((resolve, reject) => {
    const opened = connect(Number(port), hostname, () => resolve(opened))
    opened.once('error', reject)
  })
  socket.on('error', () => {})
  socket.pause()
  socket.write(request)
  return socket
}

function within<T>(promise: Promise<T>, what: string, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

describe('hostile clients on raw sockets', () => {
  it('a client that idles mid-body and never reads its 408 gives back its body reservation: the next client is served', async () => {
    // One body in memory at a time: the idle client's reservation is all there is.
    // The timeouts leave room for a loaded machine: the next request itself must arrive within the request timeout.
    const {url} = await start({headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxBodyBytes: 1000, maxBodyBytesInFlight: 1000})
    const idle = await deafClient(url, 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"prompt"')
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const reply = await within(post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 2}), 'the next request', 10_000)
      assert.equal(reply.status, 200, reply.text)
    } finally {
      idle.destroy()
    }
  })

  it('bodies that send nothing while others wait for body memory lose their connections; alone, one is left to its timeout', async () => {
    // Sixteen idle bodies hold all the body memory; the request timeout (30 s) is far off, only the stall cut can help.
    const {url} = await start({requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, maxBodyBytes: 1000, maxBodyBytesInFlight: 16_000, bodyStallTimeoutMs: 300})
    const announce = 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"prompt"'
    const idle = await Promise.all(Array.from({length: 16}, () => deafClient(url, announce)))
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const reply = await within(post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 2}), 'the request behind the idle bodies', 5000)
      assert.equal(reply.status, 200, reply.text)
    } finally {
      for (const socket of idle) socket.destroy()
    }
    // No one waiting: a slow body keeps its connection past the stall time.
    const lone = await deafClient(url, announce)
    try {
      const closed = new Promise<boolean>((resolve) => {
        lone.once('close', () => resolve(true))
        setTimeout(() => resolve(false), 1000)
      })
      lone.resume()
      assert.equal(await closed, false, 'a lone slow body is not cut')
    } finally {
      lone.destroy()
    }
  })

  it('bodies that trickle a byte at a time while others wait lose their connections; a body sent steadily is served', async () => {
    // Sixteen bodies that never go quiet long enough to stall, but at a byte per 50 ms would end long after the request
    // timeout: they held all the body memory until it cut them (30 s), and with it every other request.
    const {url} = await start({requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, maxBodyBytes: 1000, maxBodyBytesInFlight: 16_000, bodyStallTimeoutMs: 300})
    const announce = 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"prompt"'
    const trickling = await Promise.all(Array.from({length: 16}, () => deafClient(url, announce)))
    const drip = setInterval(() => trickling.forEach((socket) => socket.write(' ')), 50)
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const reply = await within(post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 2}), 'the request behind the trickling bodies', 5000)
      assert.equal(reply.status, 200, reply.text)
    } finally {
      clearInterval(drip)
      for (const socket of trickling) socket.destroy()
    }
    // One body in memory at a time, another request waiting all along: a body sent in 100-byte pieces over ~0.6 s
    // would end in time, so it is read to the end.
    const one = await start({requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, maxBodyBytes: 1000, maxBodyBytesInFlight: 1000, bodyStallTimeoutMs: 300})
    const body = JSON.stringify({prompt: 'steady', max_tokens: 2}).padEnd(1000, ' ')
    const steady = await deafClient(one.url, 'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n')
    steady.resume()
    let steadyReply = ''
    steady.on('data', (chunk) => (steadyReply += chunk))
    const steadyDone = new Promise((resolve) => steady.once('close', resolve))
    try {
      steady.write(body.slice(0, 100))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const waiting = post(`${one.url}/v1/completions`, {prompt: 'hi', max_tokens: 2})
      for (let at = 100; at < body.length; at += 100) {
        await new Promise((resolve) => setTimeout(resolve, 60))
        steady.write(body.slice(at, at + 100))
      }
      await within(steadyDone, "the steady body's reply", 5000)
      assert.match(steadyReply, /^HTTP\/1\.1 200 /, steadyReply)
      assert.equal((await within(waiting, 'the request behind it', 5000)).status, 200)
    } finally {
      steady.destroy()
    }
  })

  it('requests pipelined on one connection run one at a time, in order; those still waiting when the client leaves never run', async () => {
    // node handed all of them to the server at once: one connection took as many sequence slots as it sent requests,
    // and the replies queued behind the first never heard their client leave, so they ran on for no one.
    const engine = new FakeEngine({stepMs: 10})
    const {url} = await start({}, engine)
    const pipelined = (maxTokens: number) =>
      Array.from({length: 6}, (_, i) => {
        const body = JSON.stringify({prompt: `p${i}`, max_tokens: maxTokens})
        return `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
      }).join('')
    const client = await deafClient(url, pipelined(3))
    client.resume()
    let replies = ''
    client.on('data', (chunk) => (replies += chunk))
    let mostRunning = 0
    await within(
      (async () => {
        while ((replies.match(/HTTP\/1\.1 200 /g) ?? []).length < 6) {
          mostRunning = Math.max(mostRunning, engine.stats().numRunning)
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      })(),
      'six replies',
      10_000,
    )
    client.destroy()
    assert.equal(mostRunning, 1, 'one request of the connection at a time')
    assert.deepEqual([...replies.matchAll(/"text":"[^"]*"/g)].length, 6)

    const before = engine.receivedParams.length
    const leaving = await deafClient(url, pipelined(200))
    await waitFor(() => engine.receivedParams.length > before, 'the first pipelined request to start')
    leaving.destroy()
    await waitFor(() => engine.stats().numRunning === 0, 'the first one aborted')
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(engine.receivedParams.length - before, 1, 'the five waiting behind it never ran')

    // A flood: the first runs, MAX_PIPELINED wait their turn, the rest are refused at once (in order, after them).
    const flood = Array.from({length: 3}, () => pipelined(2)).join('') + pipelined(2).replaceAll('/v1/completions', '/v1/models').replaceAll('POST', 'GET')
    const flooding = await deafClient(url, flood)
    flooding.resume()
    let floodReplies = ''
    flooding.on('data', (chunk) => (floodReplies += chunk))
    await waitFor(() => (floodReplies.match(/HTTP\/1\.1 /g) ?? []).length === 24, 'the 24 replies')
    flooding.destroy()
    const statuses = [...floodReplies.matchAll(/HTTP\/1\.1 (\d+)/g)].map((match) => Number(match[1]))
    assert.deepEqual(statuses, [...Array(1 + MAX_PIPELINED).fill(200), ...Array(24 - 1 - MAX_PIPELINED).fill(503)])
    assert.match(floodReplies, /"code":"too_many_pipelined_requests"/)
  })

  it('a CONNECT gets a 405 with the error object, not a connection closed unanswered', async () => {
    const {url} = await start()
    const socket = await deafClient(url, 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n')
    socket.resume()
    let reply = ''
    socket.on('data', (chunk) => (reply += chunk))
    await within(new Promise((resolve) => socket.once('close', resolve)), 'the reply', 5000)
    assert.match(reply, /^HTTP\/1\.1 405 /)
    const error = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'])
    assert.match(error.message, /CONNECT/)
    const after = await post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 2})
    assert.equal(after.status, 200, 'the server serves on')
  })
  it('requests waiting for body memory are counted in /metrics, and served once it is free', async () => {
    // One body in memory at a time, held by a client that idles mid-body far from every timeout.
    const {url} = await start({requestTimeoutMs: 120_000, headersTimeoutMs: 10_000, maxBodyBytes: 3 << 20, maxBodyBytesInFlight: 3 << 20, bodyStallTimeoutMs: 120_000})
    const queued = async () => Number(/^pagedllm_requests_queued_for_body_memory (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1])
    const holder = await deafClient(url, `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${3 << 20}\r\n\r\n{"prompt"`)
    try {
      const waiting = post(`${url}/v1/completions`, {prompt: 'hi', max_tokens: 2})
      for (const deadline = Date.now() + 10_000; (await queued()) !== 1; await new Promise((resolve) => setTimeout(resolve, 20)))
        if (Date.now() > deadline) assert.fail('the request behind the holder was never counted as waiting for body memory')
      holder.destroy()
      assert.equal((await within(waiting, 'the waiting request', 10_000)).status, 200)
      assert.equal(await queued(), 0)
    } finally {
      holder.destroy()
    }
  })
})
