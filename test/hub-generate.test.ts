// A model downloaded from the (fake) Hub loads and generates exactly what the same checkpoint does from its own directory.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {resolveModel} from '../src/engine/hub/resolve-model.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {FakeHub} from './support/fake-hub.js'
import {isolatedHubEnvironment, shardedCheckpointFiles, tinyCheckpointFiles} from './support/hub-checkpoints.js'

async function greedyTokens(modelPath: string, prompt: string): Promise<number[]> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, device: 'cpu', kvMemoryBytes: 4 << 20, threads: 1}))
  try {
    const [result] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})}])
    return result!.outputs[0]!.tokenIds
  } finally {
    await engine.shutdown()
  }
}

let hub: FakeHub
let environment: Awaited<ReturnType<typeof isolatedHubEnvironment>>

describe('a hub-downloaded model', () => {
  before(async () => {
    hub = await FakeHub.start()
    environment = await isolatedHubEnvironment()
  })
  after(async () => {
    await hub.close()
    await environment.restore()
  })

  it('loads and generates the same greedy tokens as the original checkpoint, whole and sharded', async () => {
    hub.addRepo('acme/tiny', await tinyCheckpointFiles())
    hub.addRepo('acme/tiny-sharded', await shardedCheckpointFiles(2))
    const cacheDir = join(environment.home, 'hub')
    const downloaded = await resolveModel('acme/tiny', {endpoint: hub.endpoint, cacheDir, progress: false})
    const sharded = await resolveModel('acme/tiny-sharded', {endpoint: hub.endpoint, cacheDir, progress: false})
    const original = await ensureTestModel('tiny')

    const model = await loadModel(downloaded)
    assert.deepEqual(model.config, (await loadModel(original)).config)
    assert.ok(model.tokenizer.encode('Hello world').length > 0)

    const prompt = 'The quick brown fox'
    const expected = await greedyTokens(original, prompt)
    assert.equal(expected.length, 8)
    assert.deepEqual(await greedyTokens(downloaded, prompt), expected)
    assert.deepEqual(await greedyTokens(sharded, prompt), expected)
  })
})
