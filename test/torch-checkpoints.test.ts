// PyTorch .bin checkpoints (torch-checkpoint.ts): the tiny test model's weights as .bin load as its safetensors do, and
// hostile files are refused by name (the transformers-made fixture: transformers-saved-checkpoints.test.ts).
import assert from 'node:assert/strict'
import {cpSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {encodeFloats, readTensorFloat32, type TensorInfo} from '../src/engine/model/safetensors.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {readTorchCheckpoint} from '../src/engine/model/torch-checkpoint.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {tinyScratch} from './support/tiny-scratch.js'
import {torchCheckpointBytes, writeTorchCheckpoint, type StorageToWrite, type TensorView} from './support/torch-checkpoint-writer.js'
import {writeTorchCopy} from './support/torch-copy.js'
import {hostileTorchFiles, mutatedTorchFiles} from './support/torch-hostile-files.js'

const scratch = tinyScratch('pagedllm-torch-checkpoints-')

/** Same names, dtypes and shapes in the same order, and the same values read. */
function assertSameTensors(actual: TensorInfo[], expected: TensorInfo[]): void {
  assert.deepEqual(actual.map((t) => [t.name, t.dtype, t.shape]), expected.map((t) => [t.name, t.dtype, t.shape]))
  actual.forEach((t, i) => assert.deepEqual(readTensorFloat32(t), readTensorFloat32(expected[i]!), t.name))
}

async function greedyTokens(dir: string): Promise<number[][]> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})
    const results = await engine.generate([[1, 77, 333, 116, 280], [1, 5, 400, 22]].map((prompt) => ({prompt, params})))
    return results.map((r) => r.outputs[0]!.tokenIds)
  } finally {
    await engine.shutdown()
  }
}

const values = Float32Array.from({length: 24}, (_, i) => i / 8 - 1)
const storages: StorageToWrite[] = [{key: '0', dtype: 'F32', data: encodeFloats(values, 'F32')}, {key: '1', dtype: 'F16', data: encodeFloats(values.slice(0, 6), 'F16')}]
const views: TensorView[] = [{name: 'a', storage: '0', shape: [4, 6]}, {name: 'b', storage: '1', shape: [6]}]

describe('pytorch_model.bin', () => {
  it('the tiny model\'s weights as pytorch_model.bin load the same tensors and give the same greedy tokens as its safetensors', async () => {
    const dir = join(scratch.dir, 'bin')
    writeTorchCopy(scratch.tinyDir, dir, 1)
    const [fromBin, fromSafetensors] = [await loadModel(dir), await loadModel(scratch.tinyDir)]
    assert.ok(fromBin.tensors.every((t) => t.path === join(dir, 'pytorch_model.bin')))
    assertSameTensors(fromBin.tensors, fromSafetensors.tensors)
    assert.deepEqual(await greedyTokens(dir), await greedyTokens(scratch.tinyDir))
  })

  it('a bf16 model sharded in 3 through pytorch_model.bin.index.json loads the same tensors', async () => {
    const bf16 = await ensureTestModel('tiny', {dtype: 'BF16'})
    const dir = join(scratch.dir, 'sharded')
    writeTorchCopy(bf16, dir, 3)
    const model = await loadModel(dir)
    assert.equal(new Set(model.tensors.map((t) => t.path)).size, 3)
    assertSameTensors(model.tensors, (await loadModel(bf16)).tensors)
  })

  it('safetensors are preferred when both are present (as transformers prefers them)', async () => {
    const dir = scratch.copy('both')
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not read')
    assert.ok((await loadModel(dir)).tensors.every((t) => t.path.endsWith('model.safetensors')))
  })

  it('views share a storage (tied weights) and start at an offset in it; zip64 records read the same', () => {
    const shared: TensorView[] = [...views, {name: 'tied', storage: '0', shape: [4, 6]}, {name: 'slice', storage: '0', shape: [2, 3], storageOffset: 5}]
    const [plain, zip64] = [false, true].map((flag) => {
      const path = join(scratch.dir, `views-${flag}.bin`)
      writeTorchCheckpoint(path, storages, shared, {zip64: flag})
      return readTorchCheckpoint(path)
    })
    assert.deepEqual(plain.map((t) => [t.name, t.dtype, t.shape, t.nbytes]), [['a', 'F32', [4, 6], 96], ['b', 'F16', [6], 12], ['tied', 'F32', [4, 6], 96], ['slice', 'F32', [2, 3], 24]])
    assert.equal(plain[2]!.offset, plain[0]!.offset)
    assert.deepEqual(readTensorFloat32(plain[3]!), values.slice(5, 11))
    assert.deepEqual(zip64.map((t) => [t.name, t.offset]), plain.map((t) => [t.name, t.offset]))
  })

  it('integer buffers (position_ids) are left out, also where a shard index names them', async () => {
    const dir = join(scratch.dir, 'int-buffer')
    writeTorchCopy(scratch.tinyDir, dir, 2)
    const ids: StorageToWrite = {key: 'ids', dtype: 'I64', data: new Uint8Array(32)}
    writeTorchCheckpoint(join(dir, 'ids.bin'), [ids], [{name: 'model.position_ids', storage: 'ids', shape: [1, 4]}])
    assert.deepEqual(readTorchCheckpoint(join(dir, 'ids.bin')), [])
    const indexPath = join(dir, 'pytorch_model.bin.index.json')
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as {weight_map: Record<string, string>}
    index.weight_map['model.position_ids'] = 'ids.bin'
    writeFileSync(indexPath, JSON.stringify(index))
    assertSameTensors((await loadModel(dir)).tensors, (await loadModel(scratch.tinyDir)).tensors)
  })
})

describe('hostile PyTorch checkpoints', () => {
  for (const hostile of hostileTorchFiles(storages, views)) {
    it(`${hostile.label}: a one-line ModelLoadError`, () => {
      const path = join(scratch.dir, 'hostile.bin')
      writeFileSync(path, hostile.bytes)
      assert.throws(() => readTorchCheckpoint(path), (error: unknown) => {
        assert.ok(error instanceof ModelLoadError, String(error))
        assert.match(error.message, hostile.error)
        assert.doesNotMatch(error.message, /\n/)
        return true
      })
    })
  }

  it('in a model directory the loader refuses it the same way', async () => {
    const dir = scratch.copy('hostile-dir')
    rmSync(join(dir, 'model.safetensors'))
    writeFileSync(join(dir, 'pytorch_model.bin'), hostileTorchFiles(storages, views).find((h) => h.label === 'the global os.system')!.bytes)
    await assert.rejects(loadModel(dir), (error: unknown) => error instanceof ModelLoadError && /the global "os\.system", which is not allowed/.test(error.message))
  })

  it('600 random byte mutations of a good file either load or give a one-line ModelLoadError', () => {
    const path = join(scratch.dir, 'mutated.bin')
    const good = torchCheckpointBytes(storages, views)
    const outcomes = {loaded: 0, refused: 0}
    for (const mutation of mutatedTorchFiles(good, new SeededRandom(7), 600)) {
      writeFileSync(path, mutation.bytes)
      try {
        readTorchCheckpoint(path)
        outcomes.loaded++
      } catch (error) {
        assert.ok(error instanceof ModelLoadError && !error.message.includes('\n'), `${mutation.label}: ${String(error)}`)
        outcomes.refused++
      }
    }
    assert.ok(outcomes.refused > 300, JSON.stringify(outcomes))
  })
})

describe('the directory without weights', () => {
  it('names the PyTorch file names when only another .bin / .pt file is there', async () => {
    const dir = join(scratch.dir, 'pt-only')
    mkdirSync(dir)
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) cpSync(join(scratch.tinyDir, file), join(dir, file))
    writeFileSync(join(dir, 'weights.pt'), '')
    await assert.rejects(loadModel(dir), (error: unknown) => error instanceof ModelLoadError && /No model\.safetensors.*PyTorch checkpoints load as pytorch_model\.bin or pytorch_model\.bin\.index\.json/.test(error.message))
  })
})
