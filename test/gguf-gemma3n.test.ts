// GGUF gemma3n files (Gemma 3n as llama.cpp's converter writes it), written from the HF test checkpoints: the same
// layers, the HF path's logits bit for bit at f32 (and the checkpoint's q8_0 run at q8_0), transformers' greedy tokens,
// the converter's sparsity quantiles read back into shares, and malformed files refused by key or tensor.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {gemma3nGgufBytes, type Gemma3nGgufOptions} from './support/gemma3n-gguf.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

/** What tells the runs apart, to be the same in the file as in the checkpoint (the sparsity shares as the float32 the engine takes). */
function features(m: LoadedModel): unknown {
  const c = m.config
  const g3n = c.gemma3n!
  return [
    c.architecture, c.gemma4, {...g3n, activationSparsity: g3n.activationSparsity.map(Math.fround)}, c.headDim, c.numKvHeads, c.ropeTheta, c.layerWindows,
    c.tieWordEmbeddings, Math.fround(c.rmsNormEps), Math.fround(c.finalLogitSoftcap), c.normWeightOffset, c.attentionScale, c.embeddingScale, c.hiddenAct,
  ]
}

describe('GGUF gemma3n files', () => {
  const {dir} = ggufScratch('pagedllm-gguf-gemma3n-')
  const write = (hf: LoadedModel, name: string, options: Gemma3nGgufOptions = {}): string => {
    const path = join(dir, `${name}.gguf`)
    writeFileSync(path, gemma3nGgufBytes(hf, options))
    return path
  }

  // gemma3n-defaults: Gemma3nTextConfig's defaults (4 streams on stream 0, LAuReL of rank 64, the first ten of eleven
  // gates cut at 0.95), which is all the converter converts; gemma3n: 3 streams on stream 1, per-layer MLP widths and
  // shares, which the file's keys carry though the converter asserts 4 streams.
  for (const variant of ['gemma3n-defaults', 'gemma3n'] as const) {
    it(`${variant}: the checkpoint's layers and logits (f32 and q8_0, bit for bit), transformers' greedy tokens`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const path = write(hf, variant)
      const gguf = await loadModel(path)
      assert.deepEqual(features(gguf), features(hf))
      // The checkpoint's numbers, AltUp's stacks cut back per stream, the shared layers' unused k / v left unread.
      assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
      const q8_0 = await loadModel(write(hf, `${variant}-q8_0`, {q8_0: true}))
      assert.equal(maxAbsDifference((await promptLogits(q8_0, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
      await checkDirAgainstTransformers(path, readTransformersFixture(variant))
    })
  }

  it('activation_sparsity_scale as torch wrote it: icdf(0.95) (llama.cpp\'s f_sparsity_std_mul) is a share of 0.95, -inf a dense layer', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gemma3n-defaults'}))
    // llama.cpp's models.h: f_sparsity_std_mul = 1.6448533535003662f, "normal_dist.icdf(0.95)" as the converter computes it.
    const scales = [...Array(5).fill(1.6448533535003662), ...Array(6).fill(-Infinity)]
    const gguf = await loadModel(write(hf, 'torch-scales', {edit: (m) => ({...m, 'gemma3n.activation_sparsity_scale': {type: 'f32s', value: scales}})}))
    assert.deepEqual(gguf.config.gemma3n!.activationSparsity, [...Array(5).fill(Math.fround(0.95)), ...Array(6).fill(0)])
  })

  it('refuses what it cannot mean or run, naming the key or the tensor', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gemma3n-defaults'}))
    const drop = (key: string): Gemma3nGgufOptions => ({edit: (m) => ({...m, [`gemma3n.${key}`]: undefined})})
    const broken: [string, Gemma3nGgufOptions, RegExp][] = [
      ['no-streams', drop('altup.num_inputs'), /GGUF metadata gemma3n\.altup\.num_inputs is missing/],
      ['no-active', drop('altup.active_idx'), /GGUF metadata gemma3n\.altup\.active_idx is missing/],
      ['no-shared', drop('attention.shared_kv_layers'), /GGUF metadata gemma3n\.attention\.shared_kv_layers is missing/],
      ['no-sparsity', drop('activation_sparsity_scale'), /GGUF metadata gemma3n\.activation_sparsity_scale is missing/],
      ['no-width', drop('embedding_length_per_layer_input'), /GGUF metadata gemma3n\.embedding_length_per_layer_input is missing/],
      ['no-window', drop('attention.sliding_window'), /GGUF metadata gemma3n\.attention\.sliding_window is missing/],
      ['short-pattern', {edit: (m) => ({...m, 'gemma3n.attention.sliding_window_pattern': {type: 'bools', value: [true, false]}})}, /gemma3n\.attention\.sliding_window_pattern must hold one true\/false per layer \(11\)/],
      ['short-sparsity', {edit: (m) => ({...m, 'gemma3n.activation_sparsity_scale': {type: 'f32s', value: [1.5]}})}, /gemma3n\.activation_sparsity_scale must hold one normal quantile .* per layer \(11\)/],
      ['every-gate-cut', {edit: (m) => ({...m, 'gemma3n.activation_sparsity_scale': {type: 'f32s', value: [20, ...Array(10).fill(0)]}})}, /gemma3n\.activation_sparsity_scale 20 would cut every gate activation/],
      ['active-stream', {edit: (m) => ({...m, 'gemma3n.altup.active_idx': {type: 'u32', value: 4}})}, /"altup_active_idx" 4 names no stream of altup_num_inputs 4/],
      ['scaling', {edit: (m) => ({...m, 'gemma3n.rope.scaling.type': {type: 'string', value: 'linear'}})}, /gemma3n\.rope\.scaling\.type "linear" is not supported/],
      ['no-router', {tensors: (t) => t.filter((x) => x.name !== 'blk.1.altup_router.weight')}, /Tensor model\.layers\.1\.altup\.modality_router\.weight is missing/],
      ['no-laurel', {tensors: (t) => t.filter((x) => x.name !== 'blk.0.laurel_l.weight')}, /tensor blk\.0\.laurel_l\.weight is missing/],
      ['no-table', {tensors: (t) => t.filter((x) => x.name !== 'per_layer_token_embd.weight')}, /tensor per_layer_token_embd\.weight is missing/],
      ['two-streams', {tensors: (t) => t.map((x) => (x.name === 'altup_proj.weight' ? {...x, dims: [64, 64, 2], data: x.data.subarray(0, 2 * 64 * 64 * 4)} : x))}, /tensor altup_proj\.weight is \[2, 64, 64\], but gemma3n\.altup\.num_inputs and embedding_length make it \[3, 64, 64\]/],
      ['laurel-shape', {tensors: (t) => t.map((x) => (x.name === 'blk.2.laurel_r.weight' ? {...x, dims: [32, 64], data: x.data.subarray(0, 32 * 64 * 4)} : x))}, /model\.layers\.2\.laurel\.linear_right\.weight/],
      // Layer 8 shares its keys and values: its own k, unread, is still held to its shape (as llama.cpp holds it).
      ['shared-k-shape', {tensors: (t) => t.map((x) => (x.name === 'blk.8.attn_k.weight' ? {...x, dims: [64 * 64]} : x))}, /tensor blk\.8\.attn_k\.weight is \[4096\], but layer 8's keys and values are \[64, 64\]/],
      ['stray', {tensors: (t) => [...t, {name: 'blk.1.altup_extra.weight', dims: [4], data: Buffer.alloc(16)}]}, /tensor blk\.1\.altup_extra\.weight is not a tensor of a gemma3n layer/],
    ]
    for (const [name, options, pattern] of broken) await assert.rejects(loadModel(write(hf, name, options)), loadError(pattern), name)
  })
})
