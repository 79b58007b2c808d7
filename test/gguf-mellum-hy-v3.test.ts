// GGUF mellum (JetBrains Mellum) and hy_v3 (Tencent Hy3) files, written from the HF test checkpoints (held to
// transformers in hf-families-b.test.ts) as llama.cpp's converter writes them (mellum.py's MellumModel, hunyuan.py's
// HYV3Model), load as those checkpoints: the same features, f32 logits within 1e-5 and the same greedy tokens, a q8_0 file
// equal to the checkpoint quantized at load. Mellum's checkpoint is read as llama.cpp's mellum graph runs a file: every
// layer's MLP sparse and the sliding layers rotated at the full layers' base (without the YaRN).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {greedyTokens, maxAbsDifference, promptLogits} from './support/model-logits.js'
import {moeFamilyMetadata, moeFamilyTensors} from './support/moe-family-gguf.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

const {write} = ggufScratch('pagedllm-gguf-mellum-hy-v3-')
/** The metadata with `edit`'s keys set, or removed where null. */
const edited = (metadata: Record<string, GgufEntry>, edit: Record<string, GgufEntry | null>) =>
  Object.fromEntries(Object.entries({...metadata, ...edit}).filter((entry): entry is [string, GgufEntry] => entry[1] !== null))

function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numLayers, c.headDim, c.qkNorm, c.ropeTheta, c.ropeLocalTheta, c.ropeScaling, c.layerWindows, c.tieWordEmbeddings, Math.fround(c.rmsNormEps), c.moe]
}

/** The file's f32 logits within 1e-5 of the checkpoint's, the same greedy tokens, and its q8_0 blocks' logits equal to the checkpoint quantized at load. */
async function assertRunsAsCheckpoint(name: string, hf: LoadedModel, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]): Promise<void> {
  const gguf = await loadModel(write(name, metadata, tensors))
  assert.deepEqual(features(gguf), features(hf))
  assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
  const diff = maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits)
  assert.ok(diff < 1e-5, `max |logit difference| ${diff}`)
  assert.deepEqual(await greedyTokens(gguf, [1, 17, 250, 3, 9, 40, 7, 300, 2, 11]), await greedyTokens(hf, [1, 17, 250, 3, 9, 40, 7, 300, 2, 11]))
  const q8 = await loadModel(write(`${name}-q8_0`, metadata, q8_0Matrices(tensors)))
  assert.ok(q8.tensors.some((t) => t.blockFormat === 'q8_0' && t.name.includes('.experts.')))
  assert.equal(maxAbsDifference((await promptLogits(q8, 'q8_0')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
}

describe('GGUF mellum files (JetBrains Mellum)', () => {
  // The checkpoint as llama.cpp's mellum graph runs the file: layer 0 takes layer 2's sliding layer with its experts
  // (the graph routes every layer), the sliding layers at the full layers' base 1e6 (the graph's rope.freq_base).
  const asFile = async () => withConfig(
    await ensureTestModel('tiny', {variant: 'mellum'}),
    (json) => ({...json, mlp_layer_types: ['sparse', 'sparse', 'sparse'], rope_parameters: {...json.rope_parameters, sliding_attention: {rope_type: 'default', rope_theta: 1e6}}}),
    (layer) => (layer === 0 ? 2 : layer),
  )

  it('sliding / full / sliding layers, the full one with YaRN, softmax top-2 experts: the checkpoint\'s logits', async () => {
    const hf = await asFile()
    assert.deepEqual(hf.config.layerWindows, [8, 0, 8])
    await assertRunsAsCheckpoint('mellum', hf, moeFamilyMetadata('mellum', hf.config, 'gpt2'), moeFamilyTensors(hf, 'mellum'))
  })

  it('reads a sliding-window period (every n-th layer full) as llama.cpp does', async () => {
    const hf = await asFile()
    const gguf = await loadModel(write('mellum-period', edited(moeFamilyMetadata('mellum', hf.config, 'gpt2'), {'mellum.attention.sliding_window_pattern': u32(2)}), moeFamilyTensors(hf, 'mellum')))
    assert.deepEqual(gguf.config.layerWindows, [8, 0, 8])
  })

  it('refuses a malformed mellum file, naming the key or tensor', async () => {
    const hf = await asFile()
    const metadata = moeFamilyMetadata('mellum', hf.config, 'gpt2')
    const tensors = moeFamilyTensors(hf, 'mellum')
    // The checkpoint as released (layer 0 dense, the sliding layers at their own base 1e4).
    const checkpoint = await loadModel(await ensureTestModel('tiny', {variant: 'mellum'}))
    const cases: [Record<string, GgufEntry | null>, GgufTensorSpec[], RegExp][] = [
      [{'mellum.expert_feed_forward_length': null}, tensors, /GGUF metadata mellum\.expert_feed_forward_length is missing/],
      [{'mellum.attention.sliding_window_pattern': null}, tensors, /GGUF metadata mellum\.attention\.sliding_window_pattern is missing/],
      // Found by fuzz-model-files.ts --gguf: a scaling other than YaRN loaded and ran unscaled.
      [{'mellum.rope.scaling.type': {type: 'string', value: 'linear'}}, tensors, /mellum\.rope\.scaling\.type "linear" is not supported \(none or yarn\)/],
      [{'mellum.expert_gating_func': u32(2)}, tensors, /mellum\.expert_gating_func 2 is not supported/],
      [{'mellum.rope.freq_base_swa': {type: 'f32', value: 1e4}}, tensors, /mellum\.rope\.freq_base_swa 10000 differs from rope\.freq_base 1000000/],
      [{}, tensors.filter((t) => t.name !== 'blk.0.ffn_gate_inp.weight'), /blk\.0\.ffn_gate_inp\.weight|layers\.0\.mlp\.gate\.weight/],
      // The released checkpoint's dense layer 0, which llama.cpp's mellum graph cannot run.
      [{}, moeFamilyTensors(checkpoint, 'mellum'), /layers\.0\.mlp\.gate\.weight|blk\.0\.ffn_gate\.weight/],
    ]
    for (const [i, [edit, files, pattern]] of cases.entries()) {
      await assert.rejects(loadModel(write(`mellum-broken-${i}`, edited(metadata, edit), files)), loadError(pattern), `case ${i}`)
    }
  })
})

describe('GGUF hy_v3 files (Tencent Hy3)', () => {
  const checkpoint = async () => loadModel(await ensureTestModel('tiny', {variant: 'hy-v3'}))

  it('a dense layer 0 then sigmoid-routed experts with the correction bias and a shared MLP: the checkpoint\'s logits', async () => {
    const hf = await checkpoint()
    await assertRunsAsCheckpoint('hy_v3', hf, moeFamilyMetadata('hy_v3', hf.config, 'gpt2'), moeFamilyTensors(hf, 'hy_v3'))
  })

  it('reads the dense layers and the shared MLP from leading_dense_block_count and expert_shared_count too (the other loader\'s keys)', async () => {
    const hf = await checkpoint()
    const metadata = edited(moeFamilyMetadata('hy_v3', hf.config, 'gpt2'), {'hy_v3.expert_shared_feed_forward_length': null, 'hy_v3.leading_dense_block_count': u32(1), 'hy_v3.expert_shared_count': u32(1)})
    const gguf = await loadModel(write('hy_v3-counts', metadata, moeFamilyTensors(hf, 'hy_v3')))
    assert.deepEqual(features(gguf), features(hf))
  })

  it('reads linear rope scaling, which llama.cpp\'s hy_v3 graph applies as it does every file\'s', async () => {
    const hf = await checkpoint()
    const metadata = edited(moeFamilyMetadata('hy_v3', hf.config, 'gpt2'), {'hy_v3.rope.scaling.type': {type: 'string', value: 'linear'}, 'hy_v3.rope.scaling.factor': {type: 'f32', value: 2}})
    const gguf = await loadModel(write('hy_v3-linear', metadata, moeFamilyTensors(hf, 'hy_v3')))
    assert.deepEqual(gguf.config.ropeScaling, {type: 'linear', factor: 2})
  })

  it('skips the nextn (MTP) layers block_count counts', async () => {
    const hf = await checkpoint()
    const tensors = moeFamilyTensors(hf, 'hy_v3')
    const mtp = tensors.filter((t) => t.name.startsWith('blk.2.')).map((t) => ({...t, name: t.name.replace('blk.2.', 'blk.3.')}))
    const metadata = edited(moeFamilyMetadata('hy_v3', hf.config, 'gpt2'), {'hy_v3.block_count': u32(4), 'hy_v3.nextn_predict_layers': u32(1)})
    const gguf = await loadModel(write('hy_v3-mtp', metadata, [...tensors, ...mtp]))
    assert.deepEqual(features(gguf), features(hf))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
  })

  it('refuses a malformed hy_v3 file, naming the key or tensor', async () => {
    const hf = await checkpoint()
    const metadata = moeFamilyMetadata('hy_v3', hf.config, 'gpt2')
    const tensors = moeFamilyTensors(hf, 'hy_v3')
    const bias = tensors.find((t) => t.name === 'blk.1.exp_probs_b')!
    const cases: [Record<string, GgufEntry | null>, GgufTensorSpec[], RegExp][] = [
      [{'hy_v3.expert_count': null}, tensors, /GGUF metadata hy_v3\.expert_count is missing/],
      [{'hy_v3.expert_weights_norm': null}, tensors, /hy_v3\.expert_weights_norm undefined is not supported: Hy3 renormalises/],
      [{'hy_v3.rope.scaling.type': {type: 'string', value: 'yarn'}}, tensors, /rope scaling "yarn" is not supported \(none or linear\)/],
      [{'hy_v3.expert_gating_func': u32(1)}, tensors, /hy_v3\.expert_gating_func 1 is not supported: hy_v3 routes with sigmoid/],
      [{'hy_v3.expert_shared_feed_forward_length': u32(48)}, tensors, /hy_v3\.expert_shared_feed_forward_length 48 does not make a whole, positive number/],
      [{'hy_v3.expert_shared_feed_forward_length': null, 'hy_v3.expert_shared_count': u32(0)}, tensors, /hy_v3\.expert_shared_count 0 does not make a whole, positive number/],
      [{}, tensors.filter((t) => t !== bias), /e_score_correction_bias|exp_probs_b/],
      [{}, tensors.map((t) => (t === bias ? {...t, dims: [t.dims[0]! - 1], data: t.data.subarray(4)} : t)), /e_score_correction_bias|exp_probs_b/],
    ]
    for (const [i, [edit, files, pattern]] of cases.entries()) {
      await assert.rejects(loadModel(write(`hy_v3-broken-${i}`, edited(metadata, edit), files)), loadError(pattern), `case ${i}`)
    }
  })
})
