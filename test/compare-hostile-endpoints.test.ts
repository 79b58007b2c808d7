// `pagedllm compare` against servers that hang, stream garbage or cut their streams: it stops with one line naming the server, never hangs.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {runCommand} from './support/run-command.js'

/** How /v1/completions misbehaves, chosen by the model name the client sends. */
const BEHAVIOURS: Record<string, (res: ServerResponse) => void> = {
  'no-headers': () => {}, // accepts the request and never answers
  'stalls-mid-stream': (res) => {
    res.writeHead(200, {'content-type': 'text/event-stream'})
    res.write('data: {"choices":[{"text":"a"}]}\n\n')
  },
  'not-json': (res) => {
    res.writeHead(200, {'content-type': 'text/event-stream'})
    res.end('data: {not json\n\ndata: [DONE]\n\n')
  },
  'wrong-shape': (res) => {
    res.writeHead(200, {'content-type': 'text/event-stream'})
    res.end('data: {"choices":[{"text":5}]}\n\ndata: [DONE]\n\n')
  },
  'cut-off': (res) => {
    res.writeHead(200, {'content-type': 'text/event-stream'})
    res.end('data: {"choices":[{"text":"a"}]}\n\n')
  },
}

describe('compare against misbehaving endpoints', () => {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      if (req.url === '/v1/models') return void res.end(JSON.stringify({data: Object.keys(BEHAVIOURS).map((id) => ({id, max_model_len: 512}))}))
      if (req.url !== '/v1/completions') return void res.writeHead(404).end()
      BEHAVIOURS[JSON.parse(body).model]!(res)
    })
  })
  let url: string
  const out = mkdtempSync(join(tmpdir(), 'pagedllm-compare-hostile-'))
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
    rmSync(out, {recursive: true, force: true})
  })

  const expected: Record<string, string> = {
    'no-headers': 'silent for longer than --endpoint-timeout (Headers Timeout Error)',
    'stalls-mid-stream': 'silent for longer than --endpoint-timeout (Body Timeout Error)',
    'not-json': 'streamed an event that is not JSON: "{not json"',
    'wrong-shape': 'streamed a choice whose text is 5, not a string',
    'cut-off': 'the stream ended before "data: [DONE]"',
  }
  for (const [model, why] of Object.entries(expected))
    it(model, async () => {
      const result = await runCommand('compare', [
        '--endpoint', url, '--endpoint-model', model, '--endpoint-timeout', '1', '--num-prompts', '2', '--request-rates', 'inf', '--out', out,
      ])
      assert.equal(result.code, 1, result.stderr)
      const lines = result.stderr.trimEnd().split('\n')
      assert.equal(lines.at(-1), `Error: ${url}: POST /v1/completions: ${why}`)
      assert.ok(lines.every((line) => !/^\s+at /.test(line)), result.stderr)
    })
})
