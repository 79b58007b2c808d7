// Finished replies waiting for clients that never read them are capped in bytes across clients (--max-reply-memory):
// past the cap the stalest connections are cut, long before the slow-client timeout, and the server keeps serving.
import assert from 'node:assert/strict'
import {it} from 'node:test'
import {FakeEngine} from './support/fake-engine.js'
import {openSocket, post, start, waitFor} from './support/server-harness.js'

it('replies unread by their clients are cut once together they pass --max-reply-memory; one is spared, and others are served', async (t) => {
  const engine = new FakeEngine({maxModelLen: 600_000, totalBlocks: 10_000_000, stepMs: 1})
  const cap = 4 * 1024 * 1024
  // A slow-client timeout far past the test's bounds: only the cap cuts anything here.
  const {url, logs} = await start({maxReplyBytesInFlight: cap, slowClientTimeoutMs: 120_000}, engine)
  // Each reply echoes a 500 KB prompt 12 times: 6 MB of JSON, more than loopback's socket buffers take from a client that reads nothing.
  const body = JSON.stringify({prompt: 'y'.repeat(500_000), echo: true, n: 12, max_tokens: 1})
  const stalled: {received: Buffer[]; ended: Promise<void>; resume: () => void}[] = []
  for (let i = 0; i < 3; i++) {
    const socket = await openSocket(url)
    t.after(() => socket.destroy())
    socket.pause() // a paused socket also holds back 'close': what reached it is read once it resumes
    const received: Buffer[] = []
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (chunk: Buffer) => received.push(chunk)).on('error', () => {})
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    stalled.push({received, ended, resume: () => socket.resume()})
    // One at a time, so that each is stalled (its bytes untaken) before the next reply is written.
    await waitFor(() => engine.receivedParams.length === i + 1 && engine.stats().numRunning === 0, `reply ${i} to be generated`, 20_000)
  }
  const cuts = () => logs.filter((line) => /over --max-reply-memory/.test(line)).length
  await waitFor(() => cuts() >= 2, 'the replies over the cap to be cut', 20_000)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const waiting = Number(/^pagedllm_reply_bytes_waiting (\d+)$/m.exec(metrics)?.[1])
  assert.ok(waiting > cap, `one reply, bigger than the cap, is spared: ${waiting} bytes wait`)

  const next = await post(`${url}/v1/completions`, {prompt: 'hello', max_tokens: 3})
  assert.equal(next.status, 200, next.text)

  // Read at last: the two stalest were cut short, the freshest comes whole.
  const whole = await Promise.all(stalled.map(async ({received, ended, resume}) => {
    resume()
    await ended
    const text = Buffer.concat(received).toString('utf8')
    const json = text.slice(text.indexOf('\r\n\r\n') + 4)
    try {
      return JSON.parse(json).choices.length === 12
    } catch {
      return false
    }
  }))
  assert.deepEqual(whole, [false, false, true])
  assert.equal(cuts(), 2, logs.join('\n'))
})
