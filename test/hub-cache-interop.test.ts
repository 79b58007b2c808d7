// The cache as huggingface_hub writes and reads it: trees/<commit>.json, CACHEDIR.TAG, .locks/, and partial files of either tool.
import assert from 'node:assert/strict'
import {mkdir, readFile, readdir, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ABANDONED_AFTER_MS} from '../src/engine/hub/partial-downloads.js'
import {resolveModel, type ResolveModelOptions} from '../src/engine/hub/resolve-model.js'
import type {FakeHub} from './support/fake-hub.js'
import {useHubSuite} from './support/hub-suite.js'
import {gitBlobSha, lfsPointer, sha256} from './support/fake-hub-listing.js'

let hub: FakeHub
let tiny: Record<string, Buffer>
let cacheDir: string

function options(extra: ResolveModelOptions = {}): ResolveModelOptions {
  return {endpoint: hub.endpoint, cacheDir, progress: false, ...extra}
}

/** Makes a file look untouched for longer than any live writer would leave it. */
async function abandon(path: string): Promise<void> {
  const past = new Date(Date.now() - ABANDONED_AFTER_MS - 60_000)
  await utimes(path, past, past)
}

describe('the cache huggingface_hub shares', () => {
  useHubSuite((state) => ({hub, tiny} = state), (state) => ({cacheDir} = state))

  it('writes trees/<commit>.json with every file of the commit, CACHEDIR.TAG and the .locks files, in their formats', async () => {
    const files = {...tiny, 'README.md': Buffer.from('# not downloaded\n'), 'onnx/model.onnx': Buffer.from('onnx')}
    const commit = hub.addRepo('acme/tree', files)
    await resolveModel('acme/tree', options())
    const repoRoot = join(cacheDir, 'models--acme--tree')
    const tree = JSON.parse(await readFile(join(repoRoot, 'trees', `${commit}.json`), 'utf8')) as {format_version: number; files: Record<string, Record<string, unknown>>}
    assert.equal(tree.format_version, 1)
    assert.deepEqual(Object.keys(tree.files), Object.keys(files).sort(), 'the whole commit, sorted, downloaded or not')
    const weights = tiny['model.safetensors']!
    assert.deepEqual(tree.files['model.safetensors'], {size: weights.length, blob_id: gitBlobSha(lfsPointer(weights)), lfs_sha256: sha256(weights), lfs_size: weights.length})
    assert.deepEqual(tree.files['config.json'], {size: tiny['config.json']!.length, blob_id: gitBlobSha(tiny['config.json']!)})

    const tag = await readFile(join(cacheDir, 'CACHEDIR.TAG'), 'utf8')
    assert.ok(tag.startsWith('Signature: 8a477f597d28d172789f06886806bc55'), 'the Cache Directory Tagging Standard signature')
    const locks = await readdir(join(cacheDir, '.locks', 'models--acme--tree'))
    const blobs = (await readdir(join(repoRoot, 'blobs'))).filter((name) => !name.includes('.'))
    assert.deepEqual(locks.sort(), blobs.map((blob) => `${blob}.lock`).sort(), 'one lock file per blob, as huggingface_hub leaves them')
    assert.equal((await stat(join(cacheDir, '.locks', 'models--acme--tree', locks[0]!))).mode & 0o777 & ~process.umask(), 0o664 & ~process.umask())
  })

  it('reads a cached tree listing instead of asking for it again', async () => {
    const commit = hub.addRepo('acme/tree-reuse', tiny)
    await resolveModel('acme/tree-reuse', options())
    const repoRoot = join(cacheDir, 'models--acme--tree-reuse')
    // Lose the snapshot and the ref, keep blobs and the listing: only the commit is asked for.
    await rm(join(repoRoot, 'snapshots'), {recursive: true})
    await rm(join(repoRoot, 'refs'), {recursive: true})
    const first = hub.requests.length
    const dir = await resolveModel('acme/tree-reuse', options())
    const requests = hub.requests.slice(first)
    assert.equal(requests[0]!.url, '/api/models/acme/tree-reuse/revision/main')
    assert.ok(!requests.some((request) => request.url.includes('/tree/')), 'no tree request')
    assert.ok(!requests.some((request) => request.host === 'cdn'), 'the blobs were still cached')
    assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(tiny['model.safetensors']!))
    assert.ok(dir.endsWith(commit))
  })

  it("resumes huggingface_hub's abandoned <etag>.<uuid8>.incomplete, and removes the other abandoned partials once the blob is whole", async () => {
    hub.addRepo('acme/adopt', tiny)
    const weights = tiny['model.safetensors']!
    const blobs = join(cacheDir, 'models--acme--adopt', 'blobs')
    await mkdir(blobs, {recursive: true})
    const theirs = join(blobs, `${sha256(weights)}.1a2b3c4d.incomplete`)
    const older = join(blobs, `${sha256(weights)}.99999999.incomplete`)
    const ours = join(blobs, `${sha256(weights)}.incomplete`)
    await writeFile(theirs, weights.subarray(0, 150_000))
    await writeFile(older, weights.subarray(0, 10_000))
    await writeFile(ours, weights.subarray(0, 50_000))
    for (const path of [theirs, older, ours]) await abandon(path)
    const live = join(blobs, `${sha256(weights)}.0f0f0f0f.incomplete`)
    await writeFile(live, weights.subarray(0, 300_000)) // just written: another process may still be downloading into it

    const first = hub.requests.length
    const dir = await resolveModel('acme/adopt', options())
    const transfer = hub.requests.slice(first).find((request) => request.host === 'cdn')!
    assert.equal(transfer.headers.range, 'bytes=150000-', 'resumed from the longest abandoned partial')
    assert.ok((await readFile(join(dir, 'model.safetensors'))).equals(weights))
    const left = (await readdir(blobs)).filter((name) => name.endsWith('.incomplete'))
    assert.deepEqual(left, [`${sha256(weights)}.0f0f0f0f.incomplete`], 'only the partial a live process may still write is left')
  })

  it('removes an abandoned partial of a blob another tool already finished', async () => {
    const weights = tiny['model.safetensors']!
    hub.addRepo('acme/finished', tiny)
    await resolveModel('acme/finished', options())
    const blobs = join(cacheDir, 'models--acme--finished', 'blobs')
    const leftovers = [join(blobs, `${sha256(weights)}.incomplete`), join(blobs, `${sha256(weights)}.deadbeef.incomplete`)]
    for (const path of leftovers) {
      await writeFile(path, weights.subarray(0, 1000))
      await abandon(path)
    }
    // A new revision that shares the weights blob: nothing is downloaded for it, and the leftovers go.
    const changed = {...tiny, 'config.json': Buffer.from(JSON.stringify({...JSON.parse(tiny['config.json']!.toString()), note: 'v2'}))}
    hub.addRepo('acme/finished', changed, {branch: 'v2'})
    await resolveModel('acme/finished@v2', options())
    assert.deepEqual((await readdir(blobs)).filter((name) => name.endsWith('.incomplete')), [])
  })
})
