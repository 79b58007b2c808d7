// `pagedllm serve` as a process: start-up report, serving with an API key, and exit 0 on SIGTERM.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
let modelDir: string

/** Runs the serve command through oclif in a child process (sources through tsx, no build needed). */
function startServe(args: string[]) {
  // oclif's handle() turns a command error into its message and exit code, as bin/run.js does.
  const program =
    `const {handle} = await import('@oclif/core'); const {default: Serve} = await import('./src/commands/serve.ts');` +
    ` await Serve.run(${JSON.stringify(args)}, import.meta.url).catch(handle)`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe']})
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

  it('reports what it loaded, serves with an API key, and exits 0 on SIGTERM', async () => {
    const serve = startServe(['--model', modelDir, '--port', '0', '--threads', '1', '--num-blocks', '64', '--api-key', 'k', '--served-model-name', 'tiny-test'])
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

  it('without --model says how to get one and exits 2', async () => {
    const serve = startServe(['--port', '0'])
    assert.equal(await serve.exit, 2)
    assert.match(serve.stderr(), /make-test-model/)
  })
})
