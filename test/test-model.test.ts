// Generated test models: deterministic per seed, consistent across dtypes, safe under concurrent writers, sized as documented.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import MakeTestModel from '../src/commands/make-test-model.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {readTensorFloat32} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelParameterCount} from '../src/engine/model/test-model.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-test-model-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

async function tensorValues(dir: string, name: string): Promise<Float32Array> {
  const model = await loadModel(dir)
  return readTensorFloat32(model.tensors.find((t) => t.name === name)!)
}

describe('ensureTestModel', () => {
  it('is deterministic in its seed', async () => {
    const a = await ensureTestModel('tiny', {seed: 5, dir: join(scratch, 'a')})
    const b = await ensureTestModel('tiny', {seed: 5, dir: join(scratch, 'b')})
    const c = await ensureTestModel('tiny', {seed: 6, dir: join(scratch, 'c')})
    assert.deepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')))
    assert.deepEqual(readFileSync(join(a, 'tokenizer.json')), readFileSync(join(b, 'tokenizer.json')))
    assert.notDeepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(c, 'model.safetensors')))
  })

  it('writes the same weights, rounded, in BF16 and F16', async () => {
    const f32 = await tensorValues(await ensureTestModel('tiny'), 'model.layers.0.self_attn.q_proj.weight')
    for (const [dtype, relative] of [['BF16', 2 ** -8], ['F16', 2 ** -11]] as const) {
      const narrow = await tensorValues(await ensureTestModel('tiny', {dtype}), 'model.layers.0.self_attn.q_proj.weight')
      assert.ok(narrow.some((v, i) => v !== f32[i]), `${dtype} actually rounds`)
      for (let i = 0; i < f32.length; i++) assert.ok(Math.abs(narrow[i] - f32[i]) <= relative * Math.abs(f32[i]) + 1e-7)
    }
  })

  it('caches under .cache/models/<preset>-<seed>-<dtype> and reuses the files the second time', async () => {
    const dir = await ensureTestModel('tiny', {seed: 0, dtype: 'F32'})
    assert.match(dir, /\.cache\/models\/tiny-0-f32$/)
    const written = readdirSync(dir).map((name) => [name, statSync(join(dir, name)).mtimeMs])
    assert.equal(await ensureTestModel('tiny'), dir)
    assert.deepEqual(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).mtimeMs]), written)
  })

  it('leaves complete models and no temporary directories when processes race to write the same one', async () => {
    const target = join(scratch, 'raced')
    const modulePath = fileURLToPath(new URL('../src/engine/model/test-model.ts', import.meta.url))
    const script = `import {ensureTestModel} from ${JSON.stringify(modulePath)}; console.log(await ensureTestModel('tiny', {seed: 9, dir: ${JSON.stringify(target)}}))`
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
    const results = await Promise.all([run(), run(), run()])
    for (const {stdout} of results) assert.equal(stdout.trim(), target)
    assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith('raced')), ['raced'])
    const model = await loadModel(target)
    assert.equal(model.tensors.length, 2 * 9 + 3)
  })

  it('writes into an empty directory but refuses a non-empty one it did not create', async () => {
    const empty = join(scratch, 'empty')
    mkdirSync(empty)
    await loadModel(await ensureTestModel('tiny', {dir: empty}))
    const occupied = join(scratch, 'occupied')
    mkdirSync(occupied)
    writeFileSync(join(occupied, 'notes.txt'), 'mine')
    await assert.rejects(ensureTestModel('tiny', {dir: occupied}), (error: unknown) => error instanceof ModelLoadError && /Refusing/.test(error.message))
    assert.deepEqual(readdirSync(occupied), ['notes.txt'])
  })

  it('has the documented sizes: tiny ~0.14M, small ~26M, bench ~58M parameters', () => {
    assert.equal(testModelParameterCount('tiny'), 106_816 + 32_768)
    assert.equal(testModelParameterCount('small'), 26_089_984)
    assert.equal(testModelParameterCount('bench'), 57_942_528)
    assert.equal(testModelParameterCount('tiny', 'qwen2'), testModelParameterCount('tiny') + 2 * (64 + 32 + 32))
  })

  it('is what `pagedllm make-test-model` runs, with exit code 3 for a directory it must not touch', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const out = join(scratch, 'from-cli')
    await MakeTestModel.run(['--preset', 'tiny', '--variant', 'qwen2', '--seed', '3', '--dtype', 'bf16', '--out', out], root)
    const model = await loadModel(out)
    assert.equal(model.config.architecture, 'Qwen2ForCausalLM')
    assert.equal(model.tensors[0].dtype, 'BF16')
    await assert.rejects(MakeTestModel.run(['--preset', 'tiny', '--out', join(root, 'src')], root), (error: {oclif?: {exit?: number}}) => error.oclif?.exit === 3)
    process.exitCode = 0 // oclif sets the process exit code for a CLI error; this process is the test runner's
  })
})
