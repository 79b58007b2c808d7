// GGUF glm4, exaone4, smollm3, seed_oss, ernie4_5, hunyuan-dense, arcee and nemotron files, written from the HF test
// checkpoints (already checked against transformers) as llama.cpp's converter writes them, load as those checkpoints:
// the same features and bit-identical logits at f32.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {denseFamilyMetadata, denseFamilyTensors} from './support/dense-family-gguf.js'
import {ggufBytes, type GgufEntry} from './support/gguf-file.js'
import {withConfig} from './support/edited-checkpoint.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

/** What tells the families' runs apart, to be the same in the file as in the checkpoint. */
function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.rotaryDim, c.qkNorm, c.rmsVariant, c.attentionBias, c.attentionOutputBias, c.mlpBias, c.layerWindows, c.sandwichNorms, c.fusedProjections, c.hiddenAct, c.tieWordEmbeddings]
}

describe('GGUF glm4 / exaone4 / smollm3 / seed_oss / ernie4_5 / hunyuan-dense / arcee / nemotron files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-dense-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  /** Writes `hf` as `arch`'s converter does (metadata edited by `edit`) and returns the file's path. */
  const write = (hf: LoadedModel, arch: string, edit: (m: Record<string, GgufEntry>) => Record<string, GgufEntry> = (m) => m): string => {
    const path = join(dir, `${arch}.gguf`)
    writeFileSync(path, ggufBytes(edit(denseFamilyMetadata(arch, hf.config)), {tensors: denseFamilyTensors(hf, arch)}))
    return path
  }
  /** The same features and device rule, and bit-identical logits to the checkpoint's loaded in `format` (the file's own blocks run as stored). */
  const same = async (gguf: LoadedModel, hf: LoadedModel, format: 'f32' | 'q8_0' = 'f32') => {
    assert.deepEqual(features(gguf), features(hf))
    if (format === 'f32') assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, format)).logits), 0)
  }

  // glm4: sandwich norms, fused ffn_up, 12 of 16 values rotated interleaved (rows as stored). exaone4: window 8 on layer 0
  // (with rope), layer 1 full (without). seed_oss: q/k/v, o and MLP biases. ernie4_5: every bias, interleaved rope.
  // arcee: relu2 MLP with biases, rows permuted. nemotron: LayerNorm1P stored with its 1 added, half of each head rotated.
  for (const [arch, variant] of [['glm4', 'glm4'], ['exaone4', 'exaone4'], ['seed_oss', 'seedoss'], ['ernie4_5', 'ernie4_5'], ['arcee', 'arcee'], ['nemotron', 'nemotron']] as const) {
    it(`${arch}: the features and bit-identical f32 logits of the ${variant} checkpoint it was converted from`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      await same(await loadModel(write(hf, arch)), hf)
    })
  }

  it('smollm3: q/k rows permuted for llama.cpp\'s rope, every 4th layer without rope (llama.cpp\'s fixed step), no window', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'smollm3'}), (json) => ({...json, num_hidden_layers: 4, no_rope_layer_interval: 4, use_sliding_window: false}))
    assert.deepEqual(hf.config.rmsVariant?.ropeLayers, [true, true, true, false])
    await same(await loadModel(write(hf, 'smollm3')), hf)
  })

  it('exaone4 without attention.sliding_window (EXAONE 4.0 1.2B): every layer full, every layer with rope', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'exaone4'}), (json) => ({...json, sliding_window: null, layer_types: ['full_attention', 'full_attention']}))
    assert.equal(hf.config.rmsVariant?.ropeLayers, undefined)
    await same(await loadModel(write(hf, 'exaone4')), hf)
  })

  it('arcee: the YaRN its converter writes (rope.scaling.type yarn, factor, original context) as the checkpoint\'s rope_scaling', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'arcee'}), (json) => ({...json, rope_scaling: {rope_type: 'yarn', factor: 4, original_max_position_embeddings: 128}}))
    assert.equal(hf.config.ropeScaling.type, 'yarn')
    const gguf = await loadModel(write(hf, 'arcee'))
    assert.deepEqual(gguf.config.ropeScaling, hf.config.ropeScaling)
    await same(gguf, hf)
  })

  it('hunyuan-dense: the dynamic-alpha rope as the raised rope.freq_base the converter writes (an f32), q/k norms after rope', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'hunyuan'}))
    const gguf = await loadModel(write(hf, 'hunyuan-dense'))
    assert.equal(gguf.config.ropeTheta, Math.fround(hf.config.ropeTheta))
    await same(gguf, {...hf, config: {...hf.config, ropeTheta: Math.fround(hf.config.ropeTheta)}})
  })

  it('glm4: a q8_0 file written by the gguf Python package (llama.cpp\'s writer, name map and quantizer) runs as the checkpoint at q8_0', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'glm4'}))
    const gguf = await loadModel(join(import.meta.dirname, 'fixtures', 'glm4-tiny-q8_0.gguf'))
    await same(gguf, hf, 'q8_0')
  })

  it('refuses what the file cannot mean, naming the key', async () => {
    const glm4 = await loadModel(await ensureTestModel('tiny', {variant: 'glm4'}))
    const exaone4 = await loadModel(await ensureTestModel('tiny', {variant: 'exaone4'}))
    const broken: [string, LoadedModel, (m: Record<string, GgufEntry>) => Record<string, GgufEntry>, RegExp][] = [
      ['glm4', glm4, (m) => ({...m, 'glm4.rope.dimension_count': {type: 'u32', value: 7}}), /glm4\.rope\.dimension_count 7 is not an even part of the head size 16/],
      ['glm4', glm4, (m) => ({...m, 'glm4.rope.dimension_sections': {type: 'i32s', value: [8, -12, 12, 0]}}), /glm4\.rope\.dimension_sections must list up to 4 non-negative integers/],
      ['exaone4', exaone4, (m) => ({...m, 'exaone4.attention.sliding_window_pattern': {type: 'bools', value: [true]}}), /exaone4\.attention\.sliding_window_pattern must hold one true\/false per layer \(2\)/],
    ]
    for (const [arch, hf, edit, pattern] of broken) {
      await assert.rejects(loadModel(write(hf, arch, edit)), (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message))
    }
    // GLM-4's ffn_up must hold the gate rows too; a file with the up rows alone is refused by the tensor's name.
    const upOnly = join(dir, 'glm4-up-only.gguf')
    const tensors = denseFamilyTensors(glm4, 'glm4').map((t) => (t.name === 'blk.0.ffn_up.weight' ? {...t, dims: [t.dims[0]!, t.dims[1]! / 2], data: t.data.subarray(t.data.length / 2)} : t))
    writeFileSync(upOnly, ggufBytes(denseFamilyMetadata('glm4', glm4.config), {tensors}))
    await assert.rejects(loadModel(upOnly), /Tensor model\.layers\.0\.mlp\.gate_up_proj\.weight has shape \[128, 64\], but config\.json implies \[256, 64\]/)
  })
})
