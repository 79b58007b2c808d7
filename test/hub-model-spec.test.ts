// --model parsing and the HF environment conventions: local dir vs ORG/NAME[@revision], cache dir, token, offline, endpoint.
import assert from 'node:assert/strict'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {repoFolderName, repoIdFromFolderName} from '../src/engine/hub/hf-cache.js'
import {hubCacheDir, hubEndpoint, hubToken, isOfflineByEnv} from '../src/engine/hub/hub-settings.js'
import {isValidRepoId, parseModelSpec} from '../src/engine/hub/model-spec.js'

let scratch: string

describe('parseModelSpec', () => {
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pagedllm-spec-'))
  })
  after(async () => rm(scratch, {recursive: true, force: true}))

  it('returns an existing directory as local, even when it looks like ORG/NAME', async () => {
    await mkdir(join(scratch, 'org', 'name'), {recursive: true})
    assert.deepEqual(parseModelSpec(scratch), {kind: 'local', dir: scratch})
    const cwd = process.cwd()
    process.chdir(scratch)
    try {
      assert.deepEqual(parseModelSpec('org/name'), {kind: 'local', dir: 'org/name'})
    } finally {
      process.chdir(cwd)
    }
  })

  it('reads hub ids with and without a revision', () => {
    assert.deepEqual(parseModelSpec('Qwen/Qwen2.5-0.5B-Instruct'), {kind: 'hub', repoId: 'Qwen/Qwen2.5-0.5B-Instruct', revision: null})
    assert.deepEqual(parseModelSpec('meta-llama/Llama-3.2-1B@v1.0'), {kind: 'hub', repoId: 'meta-llama/Llama-3.2-1B', revision: 'v1.0'})
    assert.deepEqual(parseModelSpec('org/name@refs/pr/1'), {kind: 'hub', repoId: 'org/name', revision: 'refs/pr/1'})
  })

  it('rejects a missing path, a file, and values that are neither path nor id, naming the value', async () => {
    const expectError = (spec: string, pattern: RegExp) =>
      assert.throws(() => parseModelSpec(spec), (error: unknown) => error instanceof InvalidRequestError && error.param === 'model' && pattern.test(error.message))
    expectError(join(scratch, 'nope'), /Model directory .*nope does not exist/)
    expectError('./relative-missing', /Model directory \.\/relative-missing does not exist/)
    expectError('~/surely-missing-pagedllm-model', new RegExp(`Model directory ${homedir()}/surely-missing-pagedllm-model does not exist`))
    const file = join(scratch, 'config.json')
    await writeFile(file, '{}')
    expectError(file, /is a file but not a GGUF file; give a GGUF file, the model's directory/)
    expectError('just-a-name', /neither an existing directory nor a Hugging Face model id/)
    // A GGUF file name as llama.cpp takes it, missing: named as a missing file, not as a bad hub id.
    expectError('mistral-7b.Q4_K_M.gguf', /^Model file mistral-7b\.Q4_K_M\.gguf does not exist\. Check the path\.$/)
    expectError(join(scratch, 'gone.GGUF'), /^Model file .*gone\.GGUF does not exist/)
    expectError('a/b/c', /neither an existing directory/)
    expectError('org--x/name', /neither an existing directory/)
    expectError('org/name@', /neither an existing directory/)
    expectError('  ', /--model is empty/)
  })

  it('validates repo ids the way the Hub does', () => {
    for (const good of ['Qwen/Qwen2.5-0.5B-Instruct', 'a/b', 'my_org/model.v2']) assert.ok(isValidRepoId(good), good)
    for (const bad of ['a', 'a/b/c', '-a/b', 'a/b.', 'a/b--c', 'a/b..c', 'a b/c', `a/${'x'.repeat(97)}`]) assert.ok(!isValidRepoId(bad), bad)
  })

  it('maps repo ids to cache folder names and back', () => {
    assert.equal(repoFolderName('Qwen/Qwen2.5-0.5B'), 'models--Qwen--Qwen2.5-0.5B')
    assert.equal(repoIdFromFolderName('models--Qwen--Qwen2.5-0.5B'), 'Qwen/Qwen2.5-0.5B')
    assert.equal(repoIdFromFolderName('datasets--org--data'), null)
    assert.equal(repoIdFromFolderName('.locks'), null)
  })
})

describe('hub settings from the environment', () => {
  it('finds the cache: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME or ~/.cache', () => {
    assert.equal(hubCacheDir({HF_HUB_CACHE: '/c', HF_HOME: '/h'}), '/c')
    assert.equal(hubCacheDir({HF_HOME: '/h'}), '/h/hub')
    assert.equal(hubCacheDir({XDG_CACHE_HOME: '/x'}), '/x/huggingface/hub')
    assert.equal(hubCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'))
  })

  it('reads HF_HUB_OFFLINE and HF_ENDPOINT like huggingface_hub', () => {
    for (const value of ['1', 'true', 'YES', 'on']) assert.equal(isOfflineByEnv({HF_HUB_OFFLINE: value}), true, value)
    for (const value of [undefined, '0', 'false', '']) assert.equal(isOfflineByEnv({HF_HUB_OFFLINE: value}), false, String(value))
    assert.equal(hubEndpoint({}), 'https://huggingface.co')
    assert.equal(hubEndpoint({HF_ENDPOINT: 'https://hf-mirror.com/'}), 'https://hf-mirror.com')
  })

  it('takes the token from HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the login file', async () => {
    const home = await mkdtemp(join(tmpdir(), 'pagedllm-token-'))
    try {
      assert.equal(hubToken({HF_HOME: home}), null)
      await writeFile(join(home, 'token'), 'hf_from_file\n')
      assert.equal(hubToken({HF_HOME: home}), 'hf_from_file')
      assert.equal(hubToken({HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old'}), 'hf_old')
      assert.equal(hubToken({HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old', HF_TOKEN: 'hf_new'}), 'hf_new')
    } finally {
      await rm(home, {recursive: true, force: true})
    }
  })
})
