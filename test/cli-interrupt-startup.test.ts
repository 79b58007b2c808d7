// Ctrl-C while a command starts (its model still loading) prints the one "Interrupted: ..." line and exits 130, as it
// does later on; before, no handler was installed until the model was loaded, so the signal killed the process.
// The model comes from a Hub that takes the request and never answers: a load that lasts until interrupted.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer, type IncomingMessage} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {spawnCommand} from './support/run-command.js'

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('Ctrl-C while the model loads', () => {
  const held: IncomingMessage[] = []
  const asked: Array<() => void> = []
  const hub = createServer((request) => {
    held.push(request)
    asked.splice(0).forEach((wake) => wake())
  })
  const cache = mkdtempSync(join(tmpdir(), 'pagedllm-interrupt-'))
  const saved = {endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE}

  before(async () => {
    await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve))
    // The children inherit these: the model name resolves against this Hub and caches nowhere that matters.
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`
    process.env.HF_HUB_CACHE = cache
  })
  after(() => {
    hub.closeAllConnections()
    hub.close()
    rmSync(cache, {recursive: true, force: true})
    for (const [name, value] of [['HF_ENDPOINT', saved.endpoint], ['HF_HUB_CACHE', saved.cache]] as const) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  const cases: Array<[command: string, args: string[], line: RegExp]> = [
    ['generate', ['--model', 'test-org/slow-model', 'hi'], /\nInterrupted: nothing generated \(the command was starting: [^\n]*\)\n$/],
    ['serve', ['--model', 'test-org/slow-model', '--port', '0'], /\nInterrupted: nothing was served \(the server was starting: loading the model\)\n$/],
    ['bench/index', ['--model', 'test-org/slow-model', '--num-prompts', '2'], /\nInterrupted: no results \(tables come once every run has finished\)\n$/],
  ]
  for (const [command, args, line] of cases) {
    it(`${command}: prints the line and exits 130`, async () => {
      const requestsBefore = held.length
      const child = spawnCommand(command, args)
      let stderr = ''
      child.stderr!.on('data', (chunk) => (stderr += chunk))
      const exited = new Promise<{code: number | null; signal: string | null}>((resolve) => child.on('close', (code, signal) => resolve({code, signal})))
      // The command is loading once its request reaches the Hub (or it ended before: say how).
      await Promise.race([
        new Promise<void>((resolve) => (held.length > requestsBefore ? resolve() : asked.push(resolve))),
        exited.then(() => assert.fail(`${command} ended before loading:\n${stderr}`)),
      ])
      child.kill('SIGINT')
      const {code, signal} = await exited
      assert.deepEqual({code, signal}, {code: 130, signal: null}, stderr)
      assert.match(stderr, line)
    })
  }

  it('bin/run.js: Ctrl-C while node still loads the CLI (before any command runs) prints the line and exits 130', async () => {
    assert.ok(existsSync(join(REPO_ROOT, 'dist/cli/pagedllm-command.js')), 'dist/ is not built: run npm run build:ts')
    // The child signals itself as bin/run.js installs its handler, so the signal lands while oclif is still imported.
    const program =
      `const once = process.once.bind(process);` +
      ` process.once = (event, listener) => { const result = once(event, listener); if (event === 'pagedllm:command-started') process.kill(process.pid, 'SIGINT'); return result };` +
      ` process.argv = [process.argv[0], 'bin/run.js', 'generate', 'hi']; await import('./bin/run.js')`
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {cwd: REPO_ROOT})
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    const {code, signal} = await new Promise<{code: number | null; signal: string | null}>((resolve) => child.on('close', (code, signal) => resolve({code, signal})))
    assert.deepEqual({code, signal}, {code: 130, signal: null}, stderr)
    assert.equal(stderr, '\nInterrupted: nothing done (the command was starting)\n')
  })
})
