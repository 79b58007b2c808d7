// A streaming client that reads nothing keeps no sequence slots past its own generation: its prompts run through the
// engine at the engine's pace, their blocks are freed, the next client is admitted, and the reader still gets it all.
import assert from 'node:assert/strict'
import {it} from 'node:test'
import {FakeEngine} from './support/fake-engine.js'
import {openSocket, post, start, waitFor} from './support/server-harness.js'

/** A bound far above what the request takes alone (milliseconds) and far below the slow-client timeout (120 s). */
function within<T>(promise: Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

it('a stalled stream reader gives back its slots and blocks when its generation ends; the next client runs, and the reader is still served', async (t) => {
  const engine = new FakeEngine({maxModelLen: 600_000, totalBlocks: 10_000_000, stepMs: 1, maxNumSeqs: 32})
  // 32 sequences in all, and a slow-client timeout far past the test's bounds: only giving the slots back early lets the second client in.
  const {url} = await start({maxConcurrentRequests: 32, requestWindow: 32, slowClientTimeoutMs: 120_000}, engine)
  const slow = await openSocket(url)
  t.after(() => slow.destroy()) // a failure here must not leave the server waiting on it
  slow.pause() // reads nothing: the first prompt's 16 MB of echoes overfill the socket's buffers (a few MB on Linux's loopback) and the stream waits on them
  let received = ''
  const ended = new Promise<void>((resolve) => slow.once('close', resolve))
  slow.setEncoding('utf8').on('data', (text: string) => (received += text))
  // Two prompts of 32 samples each through a 32-sequence window: the second enters as the engine finishes the first.
  const body = JSON.stringify({prompt: ['y'.repeat(500_000), 'z'.repeat(1_000)], echo: true, n: 32, max_tokens: 40, stream: true})
  slow.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)

  await waitFor(() => engine.receivedParams.length === 2 && engine.stats().numRunning === 0, 'both prompts to run to their end in the engine, unread', 20_000)
  assert.equal(engine.stats().kv.usedBlocks, 0, 'the unread request still holds blocks')
  assert.ok(!received.includes('[DONE]'), 'the reply went out whole: the test no longer stalls its reader')
  const metrics = await (await fetch(`${url}/metrics`)).text()
  assert.match(metrics, /^pagedllm_admitted_sequences\{state="held"\} 0$/m, 'the unread request still holds its slots')

  // The next request needs all 32 slots: it runs now, not after the stalled reader is cut.
  const next = await within(post(`${url}/v1/completions`, {prompt: 'hello', n: 32, max_tokens: 5}), 'a request behind a stalled reader to complete')
  assert.equal(next.status, 200, next.text)
  assert.equal(next.json().choices.length, 32)
  assert.deepEqual(engine.abortedRequestIds, [], 'the stalled reader was cut')

  // The stalled reader, reading at last, gets every sample of both prompts and the end of the stream.
  slow.resume()
  await within(ended, 'the stalled reader to get the rest of its reply')
  assert.ok(received.startsWith('HTTP/1.1 200'), received.slice(0, 200))
  assert.match(received, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/, 'the stream did not end') // its last chunk, then chunked encoding's end
  assert.equal(received.match(/"finish_reason":"length"/g)?.length, 64)
})
