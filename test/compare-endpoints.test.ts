// `pagedllm compare` against two `serve` processes (paged vs orca-max) and a stub OpenAI server that knows nothing of our tokenizer.
import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {spawnCommand} from './support/run-command.js'

/** Starts `serve` (added to `children` at once, so it is stopped even if the other fails) and resolves with its URL once loaded. */
function startServe(args: string[], children: ChildProcess[]): Promise<string> {
  const child = spawnCommand('serve', args)
  children.push(child)
  let stderr = ''
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
      const ready = /ready: model "[^"]*" at (http:\/\/[^ ]+)\/v1 /.exec(stderr)
      if (ready) resolve(ready[1])
    })
    child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${stderr}`)))
  })
}

/**
 * A text-only OpenAI-compatible server: a 400 for token-id prompts, one "token" per word (plus a BOS) in its
 * usage counts, no /tokenize and no /metrics.
 */
function textOnlyStub(promptTokenCounts: number[]): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') return void res.end(JSON.stringify({object: 'list', data: [{id: 'stub', object: 'model'}]}))
    if (req.method !== 'POST' || req.url !== '/v1/completions') {
      res.statusCode = 404
      return void res.end(JSON.stringify({error: {message: `no route ${req.url}`, type: 'invalid_request_error'}}))
    }
    let raw = ''
    req.on('data', (chunk) => (raw += chunk))
    req.on('end', async () => {
      const body = JSON.parse(raw)
      if (typeof body.prompt !== 'string') {
        res.statusCode = 400
        return void res.end(JSON.stringify({error: {message: 'prompt must be text', type: 'invalid_request_error', param: 'prompt'}}))
      }
      const promptTokens = body.prompt.split(/\s+/).filter(Boolean).length + 1
      promptTokenCounts.push(promptTokens)
      res.setHeader('content-type', 'text/event-stream')
      for (let i = 0; i < body.max_tokens; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2))
        res.write(`data: ${JSON.stringify({choices: [{index: 0, text: ` w${i}`, finish_reason: null}]})}\n\n`)
      }
      res.write(`data: ${JSON.stringify({choices: [], usage: {prompt_tokens: promptTokens, completion_tokens: body.max_tokens}})}\n\n`)
      res.end('data: [DONE]\n\n')
    })
  })
}

describe('pagedllm compare --endpoint', () => {
  const servers: ChildProcess[] = []
  const stubCounts: number[] = []
  const stub = textOnlyStub(stubCounts)
  let modelDir = ''
  let pagedUrl = ''
  let orcaUrl = ''
  let stubUrl = ''
  before(async () => {
    modelDir = await ensureTestModel('tiny')
    // 64 blocks of 16: orca-max reserves the whole 512-token context per request, so it runs at most 2 at once.
    const common = ['--model', modelDir, '--port', '0', '--threads', '1', '--num-blocks', '64']
    ;[pagedUrl, orcaUrl] = await Promise.all([startServe([...common, '--policy', 'paged'], servers), startServe([...common, '--policy', 'orca-max'], servers)])
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve))
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`
  })
  after(() => {
    for (const child of servers) child.kill('SIGTERM')
    stub.close()
  })

  it('sends text sized by each server, reports its usage counts and /metrics, and labels every endpoint apart', {timeout: 300_000}, async () => {
    const out = mkdtempSync(join(tmpdir(), 'pagedllm-compare-'))
    // No --model: text prompts from a synthetic trace need no local model.
    const child = spawnCommand('compare', [
      '--endpoint', pagedUrl, '--endpoint-label', 'paged', '--endpoint', orcaUrl, '--endpoint-label', 'orca-max',
      '--endpoint', stubUrl, '--trace', 'synthetic', '--input-len', '24', '--output-len', '24', '--num-prompts', '6',
      '--request-rates', '10,20', '--out', out,
    ])
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk) => (stdout += chunk))
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise((resolve) => child.on('close', resolve))
    assert.equal(code, 0, stderr + stdout)

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    const stubLabel = stubUrl.replace('http://', '')
    assert.deepEqual(results.endpoints.map((e: {label: string}) => e.label), ['paged', 'orca-max', stubLabel])
    assert.match(results.endpoints[0].prompts, /\/tokenize/)
    assert.match(results.endpoints[1].prompts, /\/tokenize/)
    assert.match(results.endpoints[2].prompts, /filler/)
    assert.equal(results.runs.length, 6)

    const runOf = (label: string, rate: number | string) => results.runs.find((r: any) => r.label === label && r.requestRate === rate)
    for (const rate of [10, 20]) {
      // Our servers tokenize the text to exactly the traced lengths, and report them in usage.
      const expectedPromptTokens = results.workload.stats.prompt.mean * 6
      for (const label of ['paged', 'orca-max']) {
        const run = runOf(label, rate)
        assert.ok(Math.abs(run.metrics.inputTokensPerSecond * run.metrics.durationS - expectedPromptTokens) < 1e-6, `${label} prompt tokens`)
        assert.ok(Math.abs(run.metrics.outputTokensPerSecond * run.metrics.durationS - results.workload.stats.output.mean * 6) < 1e-6, `${label} output tokens`)
        assert.equal(run.server.source, 'pagedllm')
        assert.equal(run.server.preemptions, 0)
      }
      assert.ok(runOf('orca-max', rate).server.maxRunning <= 2, 'orca-max fits two requests in its pool')
      // The stub's own counts (words + 1) are the token figures for it, and it has no /metrics.
      const stubRun = runOf(stubLabel, rate)
      assert.equal(stubRun.server, null)
      assert.ok(stubRun.metrics.inputTokensPerSecond > 0)
    }
    const stubInput = (rate: number | string) => runOf(stubLabel, rate).metrics.inputTokensPerSecond * runOf(stubLabel, rate).metrics.durationS
    assert.ok(Math.abs(stubInput(10) + stubInput(20) - stubCounts.reduce((a, b) => a + b, 0)) < 1e-6)

    // The legend names each endpoint in full: no two cut to the same "http://127.0.0...." string.
    const svg = readFileSync(join(out, 'latency-vs-rate.svg'), 'utf8')
    for (const label of ['paged', 'orca-max', stubLabel]) assert.ok(svg.includes(`>${label}<`), `legend label ${label}`)
    assert.ok(!svg.includes('…'))
    assert.match(stdout, /orca-max/)
  })
})
