// Hostile names from a user or a Hub (revisions with '..', ETags '.'/'..', listed files that climb) never become paths outside the cache.
import assert from 'node:assert/strict'
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {InvalidRequestError, PagedLLMError} from '../src/engine/errors.js'
import type {FetchImpl} from '../src/engine/hub/hub-client.js'
import {assertInside, isSafeEtag, isSafeRepoFile, isValidRevision} from '../src/engine/hub/hub-names.js'
import {resolveModel} from '../src/engine/hub/resolve-model.js'
import type {FakeHub} from './support/fake-hub.js'
import {type IsolatedHubEnvironment, useHubSuite} from './support/hub-suite.js'

describe('hub name rules', () => {
  it('revisions follow git ref rules: branches may hold / but never .. or empty or dot-leading parts', () => {
    for (const good of ['main', 'v1.0', 'refs/pr/1', 'feature/x-y_z', 'a'.repeat(40), 'release-2024.01']) assert.ok(isValidRevision(good), good)
    const bad = ['', '..', '../x', 'a/../b', 'a/..', 'a//b', '/a', 'a/', '.hidden', 'a/.b', 'x.lock', 'a.', 'a b', 'a\\b', 'a:b', 'a~1', 'a^', 'a?', 'a*', 'a[', '@', 'a@{1}', 'a\x00b', 'a\nb', 'x'.repeat(256)]
    for (const name of bad) assert.ok(!isValidRevision(name), JSON.stringify(name))
  })

  it('ETags must be one safe segment, never . or ..; listed files must not climb', () => {
    assert.ok(isSafeEtag('a'.repeat(64)))
    assert.ok(isSafeEtag('abc-1.2_3'))
    for (const etag of ['.', '..', '...', '', '../x', 'a/b', 'a\\b', 'x'.repeat(129)]) assert.ok(!isSafeEtag(etag), etag)
    for (const file of ['config.json', 'sub/dir/model.safetensors', '.gitattributes']) assert.ok(isSafeRepoFile(file), file)
    for (const file of ['', '../x', 'a/../../b', './a', 'a//b', '/etc/passwd', 'a\\..\\b', 'a/.', 'a\x00']) assert.ok(!isSafeRepoFile(file), file)
  })

  it('assertInside allows only paths strictly inside the folder', () => {
    assertInside('/cache/repo', '/cache/repo/refs/main')
    for (const path of ['/cache/repo', '/cache/repo/../other', '/cache/repo-2/x', '/etc']) assert.throws(() => assertInside('/cache/repo', path), PagedLLMError)
  })
})

describe('resolveModel against hostile revisions and ETags', () => {
  let hub: FakeHub
  let tiny: Record<string, Buffer>
  let environment: IsolatedHubEnvironment
  let cacheDir: string

  useHubSuite((state) => ({hub, tiny} = state), (state) => ({environment, cacheDir} = state))

  /** Everything under the isolated HF_HOME, so a test can see that nothing landed outside the repo's folder. */
  async function filesUnderHome(): Promise<string[]> {
    return (await readdir(environment.home, {recursive: true})).map(String).sort()
  }

  it('refuses a revision with .. (from @rev or --revision) before any request or file', async () => {
    hub.addRepo('acme/tiny-rev', tiny, {branch: 'x/../../../../escape'})
    const before = hub.requests.length
    for (const [spec, revision] of [['acme/tiny-rev@../../../../escape', undefined], ['acme/tiny-rev', 'x/../../../../escape'], ['acme/tiny-rev', '..']] as const) {
      await assert.rejects(resolveModel(spec, {endpoint: hub.endpoint, cacheDir, progress: false, revision}), (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError, String(error))
        assert.equal(error.param, 'revision')
        assert.match(error.message, /not a valid branch, tag or commit name/)
        return true
      })
    }
    assert.equal(hub.requests.length, before, 'no request was made')
    assert.deepEqual(await filesUnderHome(), [])
  })

  /** The fake hub's responses with one header replaced: a hostile mirror. */
  function rewritingHeaders(rewrite: (name: string, value: string | null) => string | null): FetchImpl {
    return async (url, init) => {
      const response = await fetch(url, init)
      return {
        status: response.status,
        headers: {get: (name: string) => rewrite(name.toLowerCase(), response.headers.get(name))},
        body: response.body,
        text: () => response.text(),
      } as Awaited<ReturnType<FetchImpl>>
    }
  }

  for (const hostile of ['.', '..', '"../../../escape"']) {
    it(`refuses an ETag of ${hostile}, writing nothing outside the repo's folder`, async () => {
      hub.addRepo('acme/tiny-etag', tiny)
      const fetchImpl = rewritingHeaders((name, value) => (name === 'etag' || name === 'x-linked-etag' ? (value === null ? null : `"${hostile.replace(/"/g, '')}"`) : value))
      await assert.rejects(resolveModel('acme/tiny-etag', {endpoint: hub.endpoint, cacheDir, progress: false, fetchImpl}), (error: unknown) => {
        assert.ok(error instanceof PagedLLMError, String(error))
        assert.equal(error.code, 'hub_error')
        assert.match(error.message, /without a usable ETag/)
        return true
      })
      const outside = (await filesUnderHome()).filter((path) => !path.startsWith(join('hub', 'models--acme--tiny-etag', '')) && path !== 'hub' && path !== join('hub', 'models--acme--tiny-etag'))
      assert.deepEqual(outside, [])
    })
  }

  it('refuses a revision whose file list climbs out of the snapshot', async () => {
    hub.addRepo('acme/tiny-files', {...tiny, '../../../escape.json': '{}'})
    await assert.rejects(resolveModel('acme/tiny-files', {endpoint: hub.endpoint, cacheDir, progress: false}), (error: unknown) => {
      assert.ok(error instanceof PagedLLMError, String(error))
      assert.match(error.message, /lists a file named "..\/..\/..\/escape.json", which would leave the cache folder/)
      return true
    })
    assert.deepEqual(await filesUnderHome(), [])
  })
})
