// GGUF qwen2vl, qwen3vl, qwen3vlmoe and mistral3 files (the text model llama.cpp's converter writes of Qwen2-VL, Qwen3-VL,
// Qwen3-VL-MoE and Ministral 3 checkpoints), written from the HF test checkpoints, run text only as those checkpoints do:
// the same config, logits within 1e-5 of the HF path at f32, and transformers' greedy tokens where a fixture holds them.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'
import {ministral3Keys, vlTextGgufBytes, vlTextKeys, type VlTextArch} from './support/vl-text-gguf.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

/** What tells the runs apart, to be the same in the file as in the checkpoint (whose experts' storage, fused or not, is its own). */
function features(m: LoadedModel): unknown {
  const c = m.config
  const {fusedExperts: _stored, ...moe} = c.moe ?? {}
  return [c.architecture, c.headDim, c.ropeTheta, c.ropeScaling, c.qkNorm, c.attentionBias, moe, c.layerWindows, c.tieWordEmbeddings, Math.fround(c.rmsNormEps)]
}

describe('GGUF qwen2vl / qwen3vl / qwen3vlmoe / mistral3 files (text only)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-vl-text-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  // The test checkpoints' mrope sections (2 + 3 + 3 blocks; 6 + 5 + 5 interleaved) and Qwen3-VL's one DeepStack layer.
  const cases = [
    {variant: 'qwen2-vl', arch: 'qwen2vl', sections: [2, 3, 3], deepstack: 0},
    {variant: 'qwen3-vl', arch: 'qwen3vl', sections: [6, 5, 5], deepstack: 1},
    {variant: 'qwen3-vl-moe', arch: 'qwen3vlmoe', sections: [6, 5, 5], deepstack: 1},
  ] as const
  const write = (hf: LoadedModel, arch: VlTextArch, name: string, keys: Parameters<typeof vlTextGgufBytes>[2], options: Parameters<typeof vlTextGgufBytes>[3] = {}): string => {
    const path = join(dir, `${name}.gguf`)
    writeFileSync(path, vlTextGgufBytes(hf, arch, keys, options))
    return path
  }

  for (const {variant, arch, sections, deepstack} of cases) {
    it(`${arch}: the ${variant} checkpoint's config, its f32 logits within 1e-5, transformers' greedy tokens`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const path = write(hf, arch, arch, vlTextKeys(arch, sections, deepstack))
      const gguf = await loadModel(path)
      assert.deepEqual(features(gguf), features(hf))
      assert.equal(gguf.config.ropeScaling.type, 'none')
      assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
      await checkDirAgainstTransformers(path, readTransformersFixture(variant))
    })
  }

  it('mistral3 (Ministral 3): the ministral3 checkpoint\'s YaRN and capped context, its f32 logits within 1e-5', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'ministral3'}))
    const gguf = await loadModel(write(hf, 'mistral3', 'mistral3', ministral3Keys(hf, 1, 0.1)))
    assert.deepEqual(features(gguf), features(hf))
    assert.deepEqual([gguf.config.ropeScaling.type, gguf.config.maxPositionEmbeddings], ['yarn', 64])
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
  })

  it('qwen3vl at q8_0: the checkpoint run at q8_0, bit for bit', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3-vl'}))
    const gguf = await loadModel(write(hf, 'qwen3vl', 'qwen3vl-q8_0', vlTextKeys('qwen3vl', [6, 5, 5], 1), {q8_0: true}))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  })

  it('refuses what it cannot mean or run, naming the key or the tensor', async () => {
    const qwen3 = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3-vl'}))
    const keys = vlTextKeys('qwen3vl', [6, 5, 5], 1)
    const broken: [string, Parameters<typeof vlTextGgufBytes>[3], RegExp][] = [
      ['no-sections', {edit: (m) => ({...m, 'qwen3vl.rope.dimension_sections': undefined})}, /GGUF metadata qwen3vl\.rope\.dimension_sections is missing/],
      ['bad-sections', {edit: (m) => ({...m, 'qwen3vl.rope.dimension_sections': {type: 'i32s', value: [6, -5, 5, 0]}})}, /qwen3vl\.rope\.dimension_sections must list up to 4 non-negative integers, got \[6,-5,5,0\]/],
      ['deepstack', {edit: (m) => ({...m, 'qwen3vl.n_deepstack_layers': {type: 'u32', value: 3}})}, /qwen3vl\.n_deepstack_layers must be a whole number of layers from 0 to 2, got 3/],
    ]
    for (const [name, options, pattern] of broken) await assert.rejects(loadModel(write(qwen3, 'qwen3vl', name, keys, options)), loadError(pattern))
    // A mistral3 file without Ministral 3's YaRN.
    const ministral3 = await loadModel(await ensureTestModel('tiny', {variant: 'ministral3'}))
    await assert.rejects(loadModel(write(ministral3, 'mistral3', 'no-yarn', ministral3Keys(ministral3, 1, 0.1), {edit: (m) => ({...m, 'mistral3.rope.scaling.type': undefined})})),
      loadError(/mistral3\.rope\.scaling\.type must be "yarn" \(Ministral 3's rope\), got undefined/))
    // A qwen3vl file without Qwen3's q norm is refused by the tensor's name.
    const path = join(dir, 'no-q-norm.gguf')
    const bytes = vlTextGgufBytes({...qwen3, tensors: qwen3.tensors.filter((t) => t.name !== 'model.layers.1.self_attn.q_norm.weight')}, 'qwen3vl', keys)
    writeFileSync(path, bytes)
    await assert.rejects(loadModel(path), loadError(/Tensor model\.layers\.1\.self_attn\.q_norm\.weight is missing/))
    // A qwen3vlmoe file's experts are read as qwen3moe's: without expert_count it is refused by that key.
    const moe = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3-vl-moe'}))
    await assert.rejects(loadModel(write(moe, 'qwen3vlmoe', 'no-experts', vlTextKeys('qwen3vlmoe', [6, 5, 5], 1), {edit: (m) => ({...m, 'qwen3vlmoe.expert_count': undefined})})),
      loadError(/GGUF metadata qwen3vlmoe\.expert_count is missing/))
  })
})
