// Why a body waiting for --max-body-memory cannot be asked whether its client is still there (PERFORMANCE.md, "Round
// 14"): (1) a client that sent an 8 MB body and closed is not seen while the body stays unread, and two interim
// `100 Continue` replies would find it (the first draws a reset, the second fails); (2) but clients refuse unexpected
// interim replies: node's fetch (undici) fails on a 100 it did not ask for, and Python's http.client skips only 100s,
// taking any other 1xx (103 here) as the final reply.
// Usage: npx tsx scripts/probe-interim-replies.ts
import {spawn} from 'node:child_process'
import {createServer, request as httpRequest} from 'node:http'
import type {AddressInfo} from 'node:net'
import {connect} from 'node:net'

/** (1) A paused request whose client leaves: when does its response close, with and without probes? */
async function goneClient(probe: boolean): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer((_, response) => {
      const started = performance.now()
      const timer = setTimeout(() => (server.close(), resolve('not noticed in 4 s')), 4000)
      response.on('close', () => (clearTimeout(timer), server.close(), resolve(`noticed after ${(performance.now() - started).toFixed(0)} ms`)))
      const ask = (left: number) => left > 0 && !response.destroyed && (response.writeContinue(), setTimeout(() => ask(left - 1), 500))
      if (probe) setTimeout(() => ask(4), 500)
    })
    server.listen(0, '127.0.0.1', () => {
      const body = Buffer.alloc(8 << 20, 'x')
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n`)
      socket.write(body)
      setTimeout(() => socket.destroy(), 200)
    })
  })
}

/** (2) What each client makes of an interim reply of `status` it did not ask for, before a 200 "ok". */
async function clients(status: number): Promise<string[]> {
  const server = createServer((request, response) => {
    response.writeHead(200, {'content-length': 2})
    request.resume().on('end', () => response.end('ok'))
  })
  // node's writeContinue writes only 100s: other codes are written raw, as an interim reply goes out.
  server.prependListener('request', (_, response) => response.socket!.write(`HTTP/1.1 ${status} Interim\r\n\r\n`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const fetched = await fetch(url, {method: 'POST', body: 'hi'}).then(
    async (reply) => `node fetch: ${reply.status} ${await reply.text()}`,
    (error: Error) => `node fetch: ${(error.cause as Error | undefined)?.message ?? error.message}`,
  )
  const nodeHttp = await new Promise<string>((resolve) => {
    const call = httpRequest(url, {method: 'POST'}, (reply) => {
      let text = ''
      reply.on('data', (chunk) => (text += chunk)).on('end', () => resolve(`node http: ${reply.statusCode} ${text}`))
    })
    call.on('error', (error) => resolve(`node http: ${error.message}`))
    call.end('hi')
  })
  const python = await pythonClient(url)
  server.close()
  return [fetched, nodeHttp, python]
}

/** Python's http.client in a child process (the server runs on this thread's loop). */
function pythonClient(url: string): Promise<string> {
  const {port} = new URL(url)
  const script = `import http.client\nc=http.client.HTTPConnection('127.0.0.1',${port},timeout=5)\nc.request('POST','/',body=b'hi')\nr=c.getresponse()\nprint(r.status, r.read())`
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', script])
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (out += chunk))
    child.on('error', () => resolve('python http.client: no python3'))
    child.on('close', () => resolve(`python http.client: ${out.trim().split('\n').at(-1)}`))
  })
}

console.log(`a client that sent 8 MB and closed, body unread: ${await goneClient(false)}; with a 100 Continue every 500 ms: ${await goneClient(true)}`)
for (const status of [100, 103]) console.log(`an unasked ${status}: ${(await clients(status)).join('; ')}`)
process.exit(0)
