// resolveModel for a repository whose tokenizer is GPT-2-style vocab.json + merges.txt (no tokenizer.json): those are
// fetched (with added_tokens.json), a cached snapshot holding them counts as complete, and they go unfetched beside tokenizer.json.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {resolveModel, type ResolveModelOptions} from '../src/engine/hub/resolve-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import type {FakeHub} from './support/fake-hub.js'
import {useHubSuite} from './support/hub-suite.js'

let hub: FakeHub
let cacheDir: string

function options(extra: ResolveModelOptions = {}): ResolveModelOptions {
  return {endpoint: hub.endpoint, cacheDir, progress: false, ...extra}
}

/** The tiny GPT-2 checkpoint's files, its tokenizer.json also written as vocab.json + merges.txt. */
async function gpt2Files(): Promise<{dir: string; files: Record<string, Buffer>}> {
  const dir = await ensureTestModel('tiny', {variant: 'gpt2'})
  const files = Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
  const model = JSON.parse(files['tokenizer.json']!.toString('utf8')).model as {vocab: Record<string, number>; merges: Array<string | string[]>}
  files['vocab.json'] = Buffer.from(JSON.stringify(model.vocab))
  files['merges.txt'] = Buffer.from(`#version: 0.2\n${model.merges.map((merge) => (typeof merge === 'string' ? merge : merge.join(' '))).join('\n')}\n`)
  files['added_tokens.json'] = Buffer.from('{}')
  return {dir, files}
}

describe('resolveModel with GPT-2-style vocab.json + merges.txt', () => {
  useHubSuite((state) => ({hub} = state), (state) => ({cacheDir} = state))

  it('fetches vocab.json, merges.txt and added_tokens.json without tokenizer.json (not a decoy tokenizer.model), and reuses the snapshot', async () => {
    const {dir: source, files} = await gpt2Files()
    const {'tokenizer.json': _dropped, ...slow} = files
    hub.addRepo('acme/gpt2-slow', {...slow, 'tokenizer.model': Buffer.from('never read')})
    const dir = await resolveModel('acme/gpt2-slow', options())
    const fetched = (await readdir(dir)).sort()
    assert.deepEqual(fetched, Object.keys(slow).sort())
    const reference = Tokenizer.load(source)
    assert.deepEqual(Tokenizer.load(dir).encode('Hello world, 2024!'), reference.encode('Hello world, 2024!'))
    const first = hub.requests.length
    assert.equal(await resolveModel('acme/gpt2-slow', options()), dir)
    assert.equal(hub.requests.length, first, 'the cached snapshot is complete without tokenizer.json')
  })

  it('leaves vocab.json and merges.txt on the Hub when tokenizer.json is there', async () => {
    const {files} = await gpt2Files()
    hub.addRepo('acme/gpt2-both', files)
    const fetched = await readdir(await resolveModel('acme/gpt2-both', options()))
    assert.ok(fetched.includes('tokenizer.json'))
    for (const unread of ['vocab.json', 'merges.txt', 'added_tokens.json']) assert.ok(!fetched.includes(unread), `${unread} is not fetched`)
  })
})
