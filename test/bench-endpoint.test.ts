// The HTTP endpoint driver against a fake OpenAI-compatible server that streams /v1/completions.
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {runOnEndpoint, serverSentData} from '../src/bench/endpoint-run.js'
import {UnavailableError} from '../src/engine/errors.js'

const TOKEN_DELAY_MS = 3
const received: Record<string, unknown>[] = []

/** Streams max_tokens chunks "<prompt length>:<i> " then a usage chunk (unless ?no-usage), then [DONE]. */
function fakeServer(): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({object: 'list', data: [{id: 'fake-model', object: 'model'}]}))
      return
    }
    let raw = ''
    req.on('data', (chunk) => (raw += chunk))
    req.on('end', async () => {
      const body = JSON.parse(raw)
      received.push(body)
      if (body.model !== 'fake-model') {
        res.statusCode = 404
        res.end(JSON.stringify({error: {message: 'no such model'}}))
        return
      }
      res.setHeader('content-type', 'text/event-stream')
      for (let i = 0; i < body.max_tokens; i++) {
        await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS))
        res.write(`data: ${JSON.stringify({choices: [{index: 0, text: `${body.prompt.length}:${i} `, finish_reason: null}]})}\n\n`)
      }
      if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({choices: [], usage: {prompt_tokens: body.prompt.length, completion_tokens: body.max_tokens}})}\n\n`)
      res.end('data: [DONE]\n\n')
    })
  })
}

describe('endpoint driver', () => {
  const server = fakeServer()
  let baseUrl = ''
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => server.close())

  const requests = [
    {requestId: 'r0', promptTokenIds: [5, 6, 7], outputLen: 4, arrivalOffset: 0},
    {requestId: 'r1', promptTokenIds: [8, 9], outputLen: 6, arrivalOffset: 0.02},
  ]

  it('streams completions and measures TTFT, TPOT and e2e from the stream', async () => {
    received.length = 0
    const result = await runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0})
    assert.equal(result.model, 'fake-model')
    const body = received.find((b) => (b.prompt as number[]).length === 3)!
    assert.deepEqual(body.prompt, [5, 6, 7])
    assert.equal(body.max_tokens, 4)
    assert.equal(body.ignore_eos, true)
    assert.equal(body.stream, true)
    const m = result.metrics
    assert.equal(m.numRequests, 2)
    assert.equal(m.outputTokensPerSecond * m.durationS, 10)
    assert.ok(m.ttftS.mean >= TOKEN_DELAY_MS / 1000 * 0.9, `ttft ${m.ttftS.mean}`)
    assert.ok(m.ttftS.mean < m.e2eLatencyS.mean)
    assert.ok(m.tpotS.mean >= TOKEN_DELAY_MS / 1000 * 0.9, `tpot ${m.tpotS.mean}`)
    // r1 arrives 20 ms late, so the run lasts at least 20 ms + its 6 tokens.
    assert.ok(m.durationS >= 0.02 + 6 * TOKEN_DELAY_MS / 1000 * 0.9)
    assert.deepEqual(Object.keys(result.outputHashes).sort(), ['r0', 'r1'])
    const again = await runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0})
    assert.deepEqual(again.outputHashes, result.outputHashes)
  })

  it('reports a server error with its status', async () => {
    await assert.rejects(runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0}, {model: 'other'}), (error: unknown) => {
      assert.ok(error instanceof UnavailableError)
      assert.match((error as Error).message, /404/)
      return true
    })
  })

  it('parses server-sent events split across chunks', async () => {
    async function* chunks() {
      yield 'data: {"a":'
      yield '1}\n\n: comment\ndata: {"a":2}\n'
      yield '\ndata: [DONE]\n\ndata: {"a":3}\n\n'
    }
    const seen: unknown[] = []
    for await (const payload of serverSentData(chunks())) seen.push(payload)
    assert.deepEqual(seen, [{a: 1}, {a: 2}])
  })
})
