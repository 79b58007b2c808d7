// `pagedllm models list` / `models rm` over a cache filled through the fake Hub: sizes, revisions, removal and its confirmation.
import assert from 'node:assert/strict'
import {access, mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import Models from '../src/commands/models/index.js'
import ModelsList from '../src/commands/models/list.js'
import ModelsRm from '../src/commands/models/rm.js'
import {listCachedModels} from '../src/engine/hub/cache-inventory.js'
import {resolveModel} from '../src/engine/hub/resolve-model.js'
import type {FakeHub} from './support/fake-hub.js'
import {useHubSuite} from './support/hub-suite.js'

// A config without a commands folder: oclif then loads only the command under test, not every built command in dist/.
const commandConfig = {root: new URL('..', import.meta.url).pathname, pjson: {name: 'pagedllm', version: '0.0.0', oclif: {bin: 'pagedllm'}}}

/** Runs an oclif command class in-process and returns what it printed and how it exited (message: its error line on stderr). */
async function runCommand(command: typeof ModelsList | typeof ModelsRm, argv: string[]): Promise<{stdout: string; exitCode: number | undefined; message: string}> {
  let stdout = ''
  let stderr = ''
  const write = process.stdout.write.bind(process.stdout)
  const writeError = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write
  try {
    await command.run(argv, commandConfig as never)
    return {stdout, exitCode: undefined, message: ''}
  } catch (error) {
    const oclifError = error as {oclif?: {exit?: number}; message: string}
    return {stdout, exitCode: oclifError.oclif?.exit, message: stderr || oclifError.message}
  } finally {
    process.stdout.write = write
    process.stderr.write = writeError
    // oclif marks the process as failed when a command errors; here the failure is the expected outcome under test.
    process.exitCode = undefined
  }
}

let hub: FakeHub
let tiny: Record<string, Buffer>
let cacheDir: string

describe('pagedllm models', () => {
  useHubSuite((state) => ({hub, tiny} = state), (state) => ({cacheDir} = state))

  it('lists cached models with blob sizes and revisions', async () => {
    const mainCommit = hub.addRepo('acme/listed', tiny)
    const v2Commit = hub.addRepo('acme/listed', {...tiny, 'generation_config.json': Buffer.from('{"temperature": 0.5}')}, {branch: 'v2'})
    await resolveModel('acme/listed', {endpoint: hub.endpoint, cacheDir, progress: false})
    await resolveModel('acme/listed@v2', {endpoint: hub.endpoint, cacheDir, progress: false})
    // A dataset folder and stray files in the cache are not models.
    await writeFile(join(cacheDir, 'version.txt'), '1')
    await mkdir(join(cacheDir, 'datasets--acme--data', 'blobs'), {recursive: true})

    const [model, ...others] = await listCachedModels(cacheDir)
    assert.equal(others.length, 0)
    const uniqueBytes = Object.values(tiny).reduce((sum, data) => sum + data.length, 0) + '{"temperature": 0.5}'.length
    assert.equal(model!.repoId, 'acme/listed')
    assert.equal(model!.sizeBytes, uniqueBytes, 'blobs shared by both revisions count once')
    assert.deepEqual(model!.refs, {main: mainCommit, v2: v2Commit})
    assert.deepEqual(model!.snapshots, [mainCommit, v2Commit].sort())

    const table = await runCommand(ModelsList, ['--cache-dir', cacheDir])
    assert.match(table.stdout, /^MODEL\s+SIZE\s+REVISIONS\s+PATH$/m)
    assert.match(table.stdout, new RegExp(`acme/listed\\s+\\d+\\.\\d KiB\\s+main@${mainCommit.slice(0, 8)}, v2@${v2Commit.slice(0, 8)}`))
    const viaEnv = await runCommand(Models, ['--json'])
    assert.equal(JSON.parse(viaEnv.stdout).models[0].sizeBytes, uniqueBytes, 'the bare `models` command lists HF_HOME/hub')
  })

  it('says so when the cache is empty', async () => {
    const result = await runCommand(ModelsList, ['--cache-dir', cacheDir])
    assert.match(result.stdout, /No models in/)
  })

  it('rm removes one model with --yes and refuses without it when not interactive', async () => {
    hub.addRepo('acme/keep', tiny)
    hub.addRepo('acme/drop', tiny)
    for (const id of ['acme/keep', 'acme/drop']) await resolveModel(id, {endpoint: hub.endpoint, cacheDir, progress: false})

    const refused = await runCommand(ModelsRm, ['acme/drop', '--cache-dir', cacheDir])
    assert.equal(refused.exitCode, 2)
    assert.match(refused.message, /pass --yes/)
    await access(join(cacheDir, 'models--acme--drop'))

    const removed = await runCommand(ModelsRm, ['acme/drop', '--yes', '--cache-dir', cacheDir])
    assert.match(removed.stdout, /Removed acme\/drop \(\d+\.\d KiB\)/)
    assert.deepEqual((await listCachedModels(cacheDir)).map((model) => model.repoId), ['acme/keep'])

    const missing = await runCommand(ModelsRm, ['acme/drop', '--yes', '--cache-dir', cacheDir])
    assert.equal(missing.exitCode, 2)
    assert.match(missing.message, /acme\/drop is not in the Hugging Face cache/)
    const invalid = await runCommand(ModelsRm, ['acme/keep@main', '--yes', '--cache-dir', cacheDir])
    assert.match(invalid.message, /not a model id of the form ORG\/NAME/)
  })
})
