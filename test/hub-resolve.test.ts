// resolveModel against a fake Hub over real HTTP: download, cache layout and reuse, resume, offline, tokens, errors, shards, checksums.
import assert from 'node:assert/strict'
import {lstat, mkdir, readFile, readdir, readlink, utimes, writeFile} from 'node:fs/promises'
import {spawnSync} from 'node:child_process'
import net from 'node:net'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {AuthenticationError, InvalidRequestError, ModelLoadError, NotFoundError, UnavailableError} from '../src/engine/errors.js'
import {resolveModel, type ResolveModelOptions} from '../src/engine/hub/resolve-model.js'
import type {ProgressSink} from '../src/engine/hub/progress.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {FakeHub} from './support/fake-hub.js'
import {sha256} from './support/fake-hub-listing.js'
import {type IsolatedHubEnvironment, useHubSuite} from './support/hub-suite.js'
import {shardedCheckpointFiles} from './support/hub-checkpoints.js'
import {torchCheckpointBytes} from './support/torch-checkpoint-writer.js'
import {safetensorsAsTorch} from './support/torch-copy.js'

let hub: FakeHub
let tiny: Record<string, Buffer>
let environment: IsolatedHubEnvironment
let cacheDir: string

function options(extra: ResolveModelOptions = {}): ResolveModelOptions {
  return {endpoint: hub.endpoint, cacheDir, progress: false, ...extra}
}

/** Requests the fake hub receives while `body` runs. */
async function requestsDuring<T>(body: () => Promise<T>): Promise<{result: T; requests: FakeHub['requests']}> {
  const first = hub.requests.length
  const result = await body()
  return {result, requests: hub.requests.slice(first)}
}

describe('resolveModel with the Hugging Face Hub', () => {
  useHubSuite((state) => ({hub, tiny} = state), (state) => ({environment, cacheDir} = state))

  it('downloads a fresh model into the standard cache layout', async () => {
    const commit = hub.addRepo('acme/tiny-fresh', tiny)
    const {result: dir, requests} = await requestsDuring(() => resolveModel('acme/tiny-fresh', options()))
    const repoRoot = join(cacheDir, 'models--acme--tiny-fresh')
    assert.equal(dir, join(repoRoot, 'snapshots', commit))
    assert.deepEqual((await readdir(dir)).sort(), Object.keys(tiny).sort())
    for (const [name, data] of Object.entries(tiny)) {
      assert.ok((await lstat(join(dir, name))).isSymbolicLink(), `${name} is a link into blobs/`)
      assert.match(await readlink(join(dir, name)), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/)
      assert.ok((await readFile(join(dir, name))).equals(data), `${name} has the published bytes`)
    }
    // LFS files are stored under their sha256, small files under their git blob sha, as huggingface_hub does.
    assert.equal(await readlink(join(dir, 'model.safetensors')), `../../blobs/${sha256(tiny['model.safetensors']!)}`)
    assert.equal((await readFile(join(repoRoot, 'refs', 'main'), 'utf8')).trim(), commit)
    assert.ok(!(await readdir(join(repoRoot, 'blobs'))).some((name) => name.includes('.incomplete') || name.includes('.tmp')))
    assert.equal(requests.filter((request) => request.url.startsWith('/api/models/acme/tiny-fresh/revision/main')).length, 1)
    assert.equal(requests.filter((request) => request.host === 'cdn').length, 1, 'the safetensors came through the CDN redirect')
  })

  it('reuses a complete cached snapshot without any request, from cacheDir or HF_HUB_CACHE', async () => {
    hub.addRepo('acme/tiny-reuse', tiny)
    const first = await resolveModel('acme/tiny-reuse', options())
    const {result: second, requests} = await requestsDuring(() => resolveModel('acme/tiny-reuse', options()))
    assert.equal(second, first)
    assert.equal(requests.length, 0)
    process.env.HF_HUB_CACHE = cacheDir
    const {result: viaEnv, requests: envRequests} = await requestsDuring(() => resolveModel('acme/tiny-reuse', {endpoint: hub.endpoint, progress: false}))
    assert.equal(viaEnv, first)
    assert.equal(envRequests.length, 0)
  })

  it('takes the endpoint from HF_ENDPOINT and, without cacheDir or HF_HUB_CACHE, caches in HF_HOME/hub', async () => {
    hub.addRepo('acme/tiny-home', tiny)
    process.env.HF_ENDPOINT = `${hub.endpoint}/`
    const dir = await resolveModel('acme/tiny-home', {progress: false})
    assert.ok(dir.startsWith(join(environment.home, 'hub', 'models--acme--tiny-home')))
  })

  it('resumes with a Range request after the connection drops mid-file', async () => {
    hub.addRepo('acme/tiny-drop', tiny)
    const weights = tiny['model.safetensors']!
    const cutAt = 100_000
    hub.dropConnection('model.safetensors', cutAt)
    const {result: dir, requests} = await requestsDuring(() => resolveModel('acme/tiny-drop', options()))
    const transfers = requests.filter((request) => request.host === 'cdn')
    assert.equal(transfers.length, 2)
    assert.equal(transfers[0]!.headers.range, undefined)
    assert.equal(transfers[0]!.bodyBytes, cutAt)
    assert.equal(transfers[1]!.headers.range, `bytes=${cutAt}-`)
    assert.equal(transfers[1]!.status, 206)
    assert.equal(transfers[1]!.bodyBytes, weights.length - cutAt, 'only the rest is transferred again')
    assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(weights))
  })

  it('after repeated drops keeps the partial file, says to run again, and the next run resumes', async () => {
    hub.addRepo('acme/tiny-flaky', tiny)
    const weights = tiny['model.safetensors']!
    hub.dropConnection('model.safetensors', 100_000, 3)
    await assert.rejects(resolveModel('acme/tiny-flaky', options()), (error: unknown) => {
      assert.ok(error instanceof UnavailableError)
      assert.equal(error.code, 'download_interrupted')
      assert.match(error.message, new RegExp(`interrupted 3 times \\(300000 of ${weights.length} bytes kept`))
      assert.match(error.message, /run the command again: it resumes/)
      return true
    })
    const {result: dir, requests} = await requestsDuring(() => resolveModel('acme/tiny-flaky', options()))
    const transfers = requests.filter((request) => request.host === 'cdn')
    assert.deepEqual(transfers.map((request) => [request.headers.range, request.bodyBytes]), [['bytes=300000-', weights.length - 300_000]])
    assert.equal(requests.filter((request) => /\/resolve\/.*\.json$/.test(request.url)).length, 0, 'finished files are not fetched again')
    assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(weights))
  })

  it('resumes a partial <blob>.incomplete left by an earlier, killed run', async () => {
    hub.addRepo('acme/tiny-killed', tiny)
    const weights = tiny['model.safetensors']!
    const blobs = join(cacheDir, 'models--acme--tiny-killed', 'blobs')
    await mkdir(blobs, {recursive: true})
    await writeFile(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 200_000))
    const progressEvents: string[] = []
    const sink: ProgressSink = {
      fileStarted: (file, total, resumed) => progressEvents.push(`start ${file} ${total} ${resumed}`),
      bytesReceived: () => {},
      fileFinished: () => progressEvents.push('finish'),
    }
    const {result: dir, requests} = await requestsDuring(() => resolveModel('acme/tiny-killed', options({progress: sink})))
    const transfer = requests.find((request) => request.host === 'cdn')!
    assert.equal(transfer.headers.range, 'bytes=200000-')
    assert.equal(transfer.bodyBytes, weights.length - 200_000)
    assert.ok(progressEvents.includes(`start model.safetensors ${weights.length} 200000`), progressEvents.join('\n'))
    assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(weights))
  })

  it('offline mode serves cached models without requests and names the missing model clearly', async () => {
    hub.addRepo('acme/tiny-offline', tiny)
    const dir = await resolveModel('acme/tiny-offline', options())
    process.env.HF_HUB_OFFLINE = '1'
    const {result: offlineDir, requests} = await requestsDuring(() => resolveModel('acme/tiny-offline', options()))
    assert.equal(offlineDir, dir)
    const missing = await requestsDuring(() =>
      assert.rejects(resolveModel('acme/not-downloaded', options()), (error: unknown) => {
        assert.ok(error instanceof NotFoundError)
        assert.equal(error.code, 'model_not_cached')
        assert.match(error.message, /acme\/not-downloaded@main/)
        assert.match(error.message, /HF_HUB_OFFLINE/)
        return true
      }),
    )
    delete process.env.HF_HUB_OFFLINE
    await assert.rejects(resolveModel('acme/tiny-offline@v2', options({offline: true})), NotFoundError)
    assert.equal(requests.length + missing.requests.length, 0)
  })

  it('sends the token as a Bearer header and downloads a gated model with it', async () => {
    hub.addRepo('acme/tiny-gated', tiny, {gatedToken: 'hf_secret'})
    const {requests} = await requestsDuring(() => resolveModel('acme/tiny-gated', options({token: 'hf_secret'})))
    const hubRequests = requests.filter((request) => request.host !== 'cdn')
    assert.ok(hubRequests.length > 0)
    for (const request of hubRequests) assert.equal(request.headers.authorization, 'Bearer hf_secret')
    process.env.HF_TOKEN = 'hf_from_env'
    hub.addRepo('acme/tiny-gated-env', tiny, {gatedToken: 'hf_from_env'})
    const viaEnv = await requestsDuring(() => resolveModel('acme/tiny-gated-env', options()))
    assert.equal(viaEnv.requests[0]!.headers.authorization, 'Bearer hf_from_env')
  })

  it('a gated model without an accepted token says to accept the license and set HF_TOKEN', async () => {
    hub.addRepo('acme/tiny-locked', tiny, {gatedToken: 'hf_right'})
    await assert.rejects(resolveModel('acme/tiny-locked', options()), (error: unknown) => {
      assert.ok(error instanceof AuthenticationError)
      assert.equal(error.code, 'gated_model')
      assert.match(error.message, /HTTP 401/)
      assert.match(error.message, new RegExp(`accept its license on ${hub.endpoint}/acme/tiny-locked`))
      assert.match(error.message, /set HF_TOKEN/)
      return true
    })
    await assert.rejects(resolveModel('acme/tiny-locked', options({token: 'hf_wrong'})), (error: unknown) => {
      assert.ok(error instanceof AuthenticationError)
      assert.match(error.message, /HTTP 403/)
      assert.match(error.message, /HF_TOKEN is set but was refused/)
      return true
    })
    await assert.rejects(readFile(join(cacheDir, 'models--acme--tiny-locked', 'refs', 'main')), 'no ref for an unfinished model')
  })

  it('an unknown model or revision is a NotFoundError that says what to check', async () => {
    hub.addRepo('acme/tiny-known', tiny)
    await assert.rejects(resolveModel('acme/no-such-model', options()), (error: unknown) => {
      assert.ok(error instanceof NotFoundError)
      assert.equal(error.code, 'model_not_found')
      assert.match(error.message, /acme\/no-such-model was not found/)
      return true
    })
    await assert.rejects(resolveModel('acme/no-such-model', options({token: 'hf_any'})), /HTTP 404/)
    await assert.rejects(resolveModel('acme/tiny-known@no-such-branch', options()), (error: unknown) => {
      assert.ok(error instanceof NotFoundError)
      assert.equal(error.code, 'revision_not_found')
      assert.match(error.message, /Revision 'no-such-branch' of acme\/tiny-known/)
      return true
    })
  })

  it('downloads pytorch_model.bin only where there are no safetensors, and it loads as they do', async () => {
    const {'model.safetensors': _weights, ...metadata} = tiny
    const {storages, views} = safetensorsAsTorch(await ensureTestModel('tiny'))
    const bin = torchCheckpointBytes(storages, views)
    hub.addRepo('acme/bin-only', {...metadata, 'pytorch_model.bin': bin})
    const dir = await resolveModel('acme/bin-only', options())
    assert.deepEqual((await readdir(dir)).sort(), [...Object.keys(metadata), 'pytorch_model.bin'].sort())
    const whole = await loadModel(await resolveModel('acme/tiny-for-bin', (hub.addRepo('acme/tiny-for-bin', tiny), options())))
    assert.deepEqual((await loadModel(dir)).tensors.map((t) => [t.name, t.shape]), whole.tensors.map((t) => [t.name, t.shape]))
    hub.addRepo('acme/both', {...tiny, 'pytorch_model.bin': bin})
    assert.ok(!(await readdir(await resolveModel('acme/both', options()))).includes('pytorch_model.bin'), 'safetensors are preferred')
  })

  it('rejects a repository without weights it can load and downloads none', async () => {
    const {'model.safetensors': _weights, ...metadata} = tiny
    const commit = hub.addRepo('acme/ckpt-only', {...metadata, 'model.ckpt': Buffer.from('not loaded')})
    const {requests} = await requestsDuring(() =>
      assert.rejects(resolveModel('acme/ckpt-only', options()), (error: unknown) => {
        assert.ok(error instanceof ModelLoadError)
        assert.equal(error.code, 'no_weights')
        assert.match(error.message, /has no weights pagedllm loads \(model\.safetensors\.index\.json, model\.safetensors, pytorch_model\.bin\.index\.json, pytorch_model\.bin\); it has only model\.ckpt/)
        return true
      }),
    )
    assert.deepEqual(requests.map((request) => request.url.split('?')[0]), ['/api/models/acme/ckpt-only/revision/main', `/api/models/acme/ckpt-only/tree/${commit}`], 'only the commit and its file list were fetched')
  })

  it('downloads a sharded checkpoint through its index, and it loads', async () => {
    const sharded = await shardedCheckpointFiles(3)
    hub.addRepo('acme/tiny-sharded', sharded)
    const dir = await resolveModel('acme/tiny-sharded', options())
    assert.deepEqual((await readdir(dir)).sort(), Object.keys(sharded).sort())
    const model = await loadModel(dir)
    const whole = await loadModel(await resolveModel('acme/tiny-single', (hub.addRepo('acme/tiny-single', tiny), options())))
    assert.equal(new Set(model.tensors.map((tensor) => tensor.path)).size, 3)
    assert.deepEqual(model.tensors.map((tensor) => tensor.name), whole.tensors.map((tensor) => tensor.name))
    // A second run finds every shard in the cache.
    const {requests} = await requestsDuring(() => resolveModel('acme/tiny-sharded', options()))
    assert.equal(requests.length, 0)
  })

  it('rejects a download whose sha256 does not match and caches nothing of it', async () => {
    hub.addRepo('acme/tiny-corrupt', tiny)
    hub.corrupt('model.safetensors')
    try {
      await assert.rejects(resolveModel('acme/tiny-corrupt', options()), (error: unknown) => {
        assert.ok(error instanceof ModelLoadError)
        assert.equal(error.code, 'download_corrupt')
        assert.match(error.message, /model\.safetensors of acme\/tiny-corrupt is corrupt \(sha256 [0-9a-f]{64} instead of [0-9a-f]{64}\)/)
        return true
      })
    } finally {
      hub.repair('model.safetensors')
    }
    const repoRoot = join(cacheDir, 'models--acme--tiny-corrupt')
    const blobs = await readdir(join(repoRoot, 'blobs'))
    assert.ok(!blobs.includes(sha256(tiny['model.safetensors']!)), 'no blob under the advertised sha256')
    assert.ok(!blobs.some((name) => name.endsWith('.incomplete')), 'the bad bytes are not kept for resuming')
    await assert.rejects(readFile(join(repoRoot, 'refs', 'main')))
  })

  it('pins @revision to its commit, and shares blobs between revisions', async () => {
    const mainCommit = hub.addRepo('acme/tiny-revs', tiny)
    const changedConfig = {...JSON.parse(tiny['config.json']!.toString()), pagedllm_note: 'v2'}
    const v2Commit = hub.addRepo('acme/tiny-revs', {...tiny, 'config.json': Buffer.from(JSON.stringify(changedConfig))}, {branch: 'v2'})
    assert.ok((await resolveModel('acme/tiny-revs', options())).endsWith(mainCommit))
    const {result: v2Dir, requests} = await requestsDuring(() => resolveModel('acme/tiny-revs@v2', options()))
    assert.ok(v2Dir.endsWith(v2Commit))
    assert.equal(requests.filter((request) => request.host === 'cdn').length, 0, 'the unchanged weights blob is reused')
    assert.equal(JSON.parse(await readFile(join(v2Dir, 'config.json'), 'utf8')).pagedllm_note, 'v2')
    assert.equal((await readFile(join(cacheDir, 'models--acme--tiny-revs', 'refs', 'v2'), 'utf8')).trim(), v2Commit)
    assert.equal(await resolveModel('acme/tiny-revs', options({revision: v2Commit})), v2Dir)
    await assert.rejects(resolveModel('acme/tiny-revs@v2', options({revision: 'main'})), InvalidRequestError)
  })

  it('lets concurrent runs download a blob once, and takes over a lock left by a dead process', async () => {
    hub.addRepo('acme/tiny-concurrent', tiny)
    const {result: dirs, requests} = await requestsDuring(() =>
      Promise.all([resolveModel('acme/tiny-concurrent', options()), resolveModel('acme/tiny-concurrent', options())]),
    )
    assert.equal(dirs[0], dirs[1])
    assert.equal(requests.filter((request) => request.host === 'cdn').length, 1)
    assert.ok((await readFile(join(dirs[0], 'model.safetensors'))).equals(tiny['model.safetensors']!))

    // Stale locks: a dead process of this host, an earlier process that had our pid, a silent holder elsewhere.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid
    const owners = [
      {pid: deadPid, host: hostname(), instance: 'x'},
      {pid: process.pid, host: hostname(), instance: 'an-earlier-run'},
      {pid: 1, host: 'another-host', instance: 'y', heartbeatSecondsAgo: 60},
    ]
    for (const [index, {heartbeatSecondsAgo, ...owner}] of owners.entries()) {
      const repoId = `acme/tiny-stale-lock-${index}`
      hub.addRepo(repoId, tiny)
      const lockDir = join(cacheDir, `models--acme--tiny-stale-lock-${index}`, 'blobs', `${sha256(tiny['model.safetensors']!)}.pagedllm-lock`)
      await mkdir(lockDir, {recursive: true})
      await writeFile(join(lockDir, 'owner.json'), JSON.stringify(owner))
      if (heartbeatSecondsAgo !== undefined) {
        const then = new Date(Date.now() - heartbeatSecondsAgo * 1000)
        await utimes(join(lockDir, 'owner.json'), then, then)
      }
      const dir = await resolveModel(repoId, options())
      assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(tiny['model.safetensors']!))
      await assert.rejects(lstat(lockDir), 'the lock is released')
    }
  })

  it('reports an unreachable Hub with advice to check the network or go offline', async () => {
    const closed = net.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as net.AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    await assert.rejects(resolveModel('acme/tiny-anything', options({endpoint: `http://127.0.0.1:${port}`})), (error: unknown) => {
      assert.ok(error instanceof UnavailableError)
      assert.equal(error.code, 'hub_unreachable')
      assert.match(error.message, /ECONNREFUSED/)
      assert.match(error.message, /Check your network connection/)
      assert.match(error.message, /HF_HUB_OFFLINE=1/)
      return true
    })
  })

  it('returns an existing local directory unchanged without touching the Hub', async () => {
    const local = join(environment.home, 'my-model')
    await mkdir(local)
    const {result, requests} = await requestsDuring(() => resolveModel(local, options()))
    assert.equal(result, local)
    assert.equal(requests.length, 0)
    await assert.rejects(resolveModel(join(environment.home, 'missing-model'), options()), /Model directory .*missing-model does not exist/)
  })
})
