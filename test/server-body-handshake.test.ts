// When a client may send its body: Expect: 100-continue is answered only when the body is wanted, and a refused body is
// not read on (found by scripts/serve-attacks.ts: node sent 100 Continue before a 413, then read a gigabyte to discard it).
import assert from 'node:assert/strict'
import {connect, type Socket} from 'node:net'
import {describe, it} from 'node:test'
import {start} from './support/server-harness.js'

/** Writes `head`, then (unless it closes first) `bodyBytes` more in 1 MiB chunks; what the server sent, and how much of the body it took. */
function send(url: string, head: string, bodyBytes = 0, pauseMs = 0): Promise<{reply: string; bodySent: number}> {
  const {hostname, port} = new URL(url)
  return new Promise((resolve) => {
    let reply = ''
    let bodySent = 0
    const socket = connect(Number(port), hostname, async () => {
      socket.write(head)
      await new Promise((wait) => setTimeout(wait, pauseMs))
      const chunk = Buffer.alloc(1 << 20, 32)
      while (bodySent < bodyBytes && !socket.destroyed) {
        bodySent += chunk.length
        if (!socket.write(chunk)) await drainedOrClosed(socket)
      }
      socket.end()
    })
    socket.setEncoding('latin1').on('data', (text: string) => (reply += text))
    socket.on('error', () => {})
    socket.on('close', () => resolve({reply, bodySent}))
  })
}

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done)
      resolve()
    }
    socket.on('drain', done).on('close', done)
  })
}

const statuses = (reply: string) => [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))
const head = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${headers}\r\n`

describe('the body handshake', () => {
  it('sends 100 Continue only for a body it will read: a refusal comes instead, on a closed connection', async () => {
    const {url} = await start({maxBodyBytes: 1000})
    const tooLarge = await send(url, head('/v1/completions', 'expect: 100-continue\r\ncontent-length: 1000000000\r\n'))
    assert.deepEqual(statuses(tooLarge.reply), [413], tooLarge.reply)
    assert.match(tooLarge.reply, /connection: close/i)
    const noRoute = await send(url, head('/v1/nothing', 'expect: 100-continue\r\ncontent-length: 10\r\n'))
    assert.deepEqual(statuses(noRoute.reply), [404], noRoute.reply)

    const body = JSON.stringify({prompt: 'hi', max_tokens: 1})
    const wanted = await send(url, head('/v1/completions', `expect: 100-continue\r\ncontent-length: ${body.length}\r\nconnection: close\r\n`) + body, 0, 50)
    assert.deepEqual(statuses(wanted.reply), [100, 200], wanted.reply)
  })

  it('closes the connection after refusing a body still on the wire instead of reading it all', async () => {
    const {url} = await start({maxBodyBytes: 1000})
    for (const headers of ['content-length: 1000000000\r\n', 'content-length: 1000000000\r\ncontent-encoding: gzip\r\n', 'transfer-encoding: chunked\r\ncontent-encoding: br\r\n']) {
      // 256 MiB offered: the server must hang up long before taking it (node would read and discard every byte).
      const refused = await send(url, head('/v1/completions', headers), 256 << 20)
      assert.match(refused.reply, /^HTTP\/1\.1 4\d\d .*connection: close/is, refused.reply)
      assert.ok(refused.bodySent < 128 << 20, `${headers.trim()}: the server read ${refused.bodySent >> 20} MiB of a refused body`)
    }
  })
})
