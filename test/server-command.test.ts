// `pagedllm serve` as a process: start-up report, serving with an API key, the built-in model, and a graceful exit on SIGTERM, SIGINT and SIGHUP.
import assert from 'node:assert/strict'
import {spawn, type StdioOptions} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {spawnCommand} from './support/run-command.js'

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
let modelDir: string

/**
 * Runs the serve command in a child process: as spawnCommand runs a command (the sources under tsx, or bin/run.js on
 * the build in CI), or always as a supervisor runs it, `node bin/run.js serve` (the built dist/), so that signals reach
 * the server itself.
 */
function startServe(args: string[], how: 'command' | 'bin' = 'command') {
  const stdio: StdioOptions = ['ignore', 'ignore', 'pipe']
  const child = how === 'bin' ? spawn(process.execPath, ['bin/run.js', 'serve', ...args], {cwd: REPO_ROOT, stdio}) : spawnCommand('serve', args, {stdio})
  let stderr = ''
  const lineWaiters: {pattern: RegExp; resolve: (match: RegExpMatchArray) => void}[] = []
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
    for (const waiter of [...lineWaiters]) {
      const match = stderr.match(waiter.pattern)
      if (match) {
        lineWaiters.splice(lineWaiters.indexOf(waiter), 1)
        waiter.resolve(match)
      }
    }
  })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const waitForLog = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const match = stderr.match(pattern)
      if (match) return resolve(match)
      lineWaiters.push({pattern, resolve})
      void exit.then((code) => reject(new Error(`serve exited (${code}) before logging ${pattern}:\n${stderr}`)))
    })
  return {child, exit, waitForLog, stderr: () => stderr}
}

describe('pagedllm serve', () => {
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('reports what it loaded (the model given as the argument, as `vllm serve MODEL`), serves with an API key, and exits 0 on SIGTERM', async () => {
    const serve = startServe([modelDir, '--port', '0', '--threads', '1', '--num-blocks', '64', '--api-key', 'k', '--served-model-name', 'tiny-test'])
    const [, url] = await serve.waitForLog(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    await serve.waitForLog(/ready: model "tiny-test"/)
    assert.match(serve.stderr(), /kv cache: 64 blocks x 16 tokens = 1024 tokens/)
    assert.match(serve.stderr(), /backend: cpu/)
    assert.equal((await fetch(`${url}/health`)).status, 200)
    assert.equal((await fetch(`${url}/v1/models`)).status, 401)
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: {authorization: 'Bearer k', 'content-type': 'application/json'},
      body: JSON.stringify({model: 'tiny-test', prompt: 'hi', max_tokens: 3}),
    })
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as {model: string}).model, 'tiny-test')
    serve.child.kill('SIGTERM')
    assert.equal(await serve.exit, 0, serve.stderr())
    assert.match(serve.stderr(), /shut down/)
  })

  it('a bad flag fails before the port is taken: the message, one usage line, exit 2', async () => {
    const serve = startServe(['--port', '0', '--gpu-memory-utilization', 'most'])
    assert.equal(await serve.exit, 2)
    assert.equal(serve.stderr(), 'Error: --gpu-memory-utilization: "most" is not a number\nUsage: pagedllm serve [MODEL] [FLAGS]   (all flags: pagedllm serve --help)\n')
  })

  it('a model given both as the argument and as --model must agree', async () => {
    const serve = startServe(['./a', '--model', './b', '--port', '0'])
    assert.equal(await serve.exit, 2)
    assert.equal(serve.stderr(), 'Error: the model is given twice, as the argument "./a" and as --model "./b": give one\n')
  })

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`node bin/run.js serve without --model serves the built-in model and shuts down on ${signal}, closing its port`, async () => {
      assert.ok(existsSync(`${REPO_ROOT}/dist/commands/serve.js`), 'dist/ is not built: run npm run build:ts (npm install does it)')
      const serve = startServe(['--port', '0', '--threads', '1', '--num-blocks', '64'], 'bin')
      const [, url] = await serve.waitForLog(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
      await serve.waitForLog(/ready: model "tinychat"/)
      assert.equal(serve.stderr().match(/built-in tinychat demo model \(6M parameters/g)?.length, 1, serve.stderr())
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({messages: [{role: 'user', content: 'What is the capital of France?'}], max_tokens: 4}),
      })
      assert.equal(response.status, 200)
      assert.equal(((await response.json()) as {model: string}).model, 'tinychat')
      serve.child.kill(signal)
      assert.equal(await serve.exit, 0, serve.stderr())
      assert.match(serve.stderr(), new RegExp(`${signal}: no new requests[^]*shut down`))
      await assert.rejects(fetch(`${url}/health`), 'nothing listens on the port any more')
    })
  }
})
