// GGUF lfm2, lfm2moe, mamba (Mamba and Falcon-Mamba) and jamba files, written from the HF test checkpoints (already checked
// against transformers) as llama.cpp's converter writes them (test/support/lfm2-mamba-gguf.ts), load as those
// checkpoints: the same layout and sizes, the checkpoint's f32 logits (A stored as -exp(A_log) taken as it is), its q8_0
// logits from a q8_0 file, and clear refusals.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ggufBytes, type GgufEntry} from './support/gguf-file.js'
import {q8_0HybridMatrices} from './support/hybrid-gguf.js'
import {lfm2MambaMetadata, lfm2MambaTensors, type Lfm2MambaArch} from './support/lfm2-mamba-gguf.js'
import {maxAbsDifference} from './support/model-logits.js'
import {seededSlotBatchLogits} from './support/slot-batch-logits.js'

/** What tells the runs apart, to be the same in the file as in the checkpoint (its eps as the f32 the file holds). */
function features(m: LoadedModel): unknown {
  const c = m.config
  const mamba1 = c.hybrid!.mamba1
  const hybrid = mamba1 ? {...c.hybrid, mamba1: {...mamba1, dtBcNormEps: Math.fround(mamba1.dtBcNormEps)}} : c.hybrid
  return [c.architecture, hybrid, c.moe, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize, Math.fround(c.rmsNormEps), c.ropeTheta, c.tieWordEmbeddings, c.rmsVariant]
}

/** The checkpoint as its file runs it: a Falcon-Mamba file has no mixer_rms_eps, so its dt / B / C norms take FalconMambaConfig's default 1e-6. */
function asFile(hf: LoadedModel): LoadedModel {
  const mamba1 = hf.config.hybrid?.mamba1
  if (mamba1?.dtBcNorm !== 'unweighted') return hf
  return {...hf, config: {...hf.config, hybrid: {...hf.config.hybrid!, mamba1: {...mamba1, dtBcNormEps: 1e-6}}}}
}

describe('GGUF lfm2 / lfm2moe / mamba / jamba files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-lfm2-mamba-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  const write = (hf: LoadedModel, arch: Lfm2MambaArch, options: {q8_0?: boolean; edit?: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>} = {}): string => {
    const path = join(dir, `${arch}-${Math.random().toString(36).slice(2)}.gguf`)
    const tensors = lfm2MambaTensors(hf, arch)
    const metadata = lfm2MambaMetadata(hf, arch)
    writeFileSync(path, ggufBytes(options.edit ? options.edit(metadata) : metadata, {tensors: options.q8_0 ? q8_0HybridMatrices(tensors) : tensors}))
    return path
  }

  // lfm2: conv / attention / conv with its MLP width adjusted; mamba: tied, a conv bias; falcon-mamba: untied, weightless
  // dt / B / C norms; jamba: attention at 1 and 3, experts at 0 and 3, weighted dt / B / C norms.
  for (const [variant, arch] of [['lfm2', 'lfm2'], ['mamba', 'mamba'], ['falcon-mamba', 'mamba'], ['jamba', 'jamba']] as const) {
    it(`${arch} from ${variant}: its layout and bit-identical f32 logits`, async () => {
      const hf = asFile(await loadModel(await ensureTestModel('tiny', {variant})))
      const gguf = await loadModel(write(hf, arch))
      assert.deepEqual(features(gguf), features(hf))
      assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
      assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
    })
  }

  // The converter writes no routed_scaling_factor, so llama.cpp scales by 1 unless the file says expert_weights_scale.
  it('lfm2moe from lfm2-moe: dense layer 0, sigmoid routing with the expert bias; the checkpoint\'s f32 logits with its expert_weights_scale', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'lfm2-moe'}))
    const plain = await loadModel(write(hf, 'lfm2moe'))
    assert.equal(plain.config.moe?.grouped?.routedScalingFactor, 1)
    const scaled = await loadModel(write(hf, 'lfm2moe', {edit: (m) => ({...m, 'lfm2moe.expert_weights_scale': {type: 'f32', value: 1.5}})}))
    assert.deepEqual(features(scaled), features(hf))
    assert.deepEqual(cpuOnlyNeed({}, scaled), cpuOnlyNeed({}, hf))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(scaled, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
  })

  it('lfm2 and jamba at q8_0: the checkpoint\'s q8_0 logits', async () => {
    for (const arch of ['lfm2', 'jamba'] as const) {
      const hf = await loadModel(await ensureTestModel('tiny', {variant: arch}))
      const gguf = await loadModel(write(hf, arch, {q8_0: true}))
      assert.ok(gguf.tensors.some((t) => t.blockFormat === 'q8_0'), arch)
      assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'q8_0'), await seededSlotBatchLogits(hf, 'q8_0')), 0, arch)
    }
  })

  it('refuses what it cannot run: per-layer KV counts missing or unequal, no conv kernel, LFM2 sliding windows or rope scaling, Jamba layers off a period', async () => {
    const refused = async (variant: 'lfm2' | 'jamba', edit: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>, pattern: RegExp) => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      await assert.rejects(loadModel(write(hf, variant, {edit})), (e: unknown) => e instanceof ModelLoadError && pattern.test(e.message))
    }
    await refused('lfm2', (m) => ({...m, 'lfm2.attention.head_count_kv': {type: 'u32', value: 2}}), /lfm2\.attention\.head_count_kv must list one KV head count .* each of the 3 layers/)
    await refused('lfm2', (m) => {
      const {'lfm2.shortconv.l_cache': _, ...rest} = m
      return rest
    }, /lfm2\.shortconv\.l_cache must be a positive integer/)
    await refused('lfm2', (m) => ({...m, 'lfm2.attention.sliding_window': {type: 'u32', value: 8}}), /sliding-window attention layers are not supported for LFM2/)
    await refused('lfm2', (m) => ({...m, 'lfm2.rope.scaling.type': {type: 'string', value: 'linear'}, 'lfm2.rope.scaling.factor': {type: 'f32', value: 2}}), /rope scaling \(lfm2\.rope\.scaling\.type "linear" or rope_freqs\.weight\) is not supported for LFM2/)
    await refused('jamba', (m) => ({...m, 'jamba.attention.head_count_kv': {type: 'i32s', value: [0, 2, 2, 0]}}), /jamba attention layers \(head_count_kv > 0\) at 1, 2 do not recur/)
    await refused('jamba', (m) => ({...m, 'jamba.attention.head_count_kv': {type: 'i32s', value: [0, 2, 0, 1]}}), /different KV head counts/)
  })

  // Found by fuzz-model-files.ts --gguf: a dt_b_c_rms of 1 was read as false, so a Falcon-Mamba file ran as Mamba.
  it('mamba: ssm.dt_b_c_rms that is not a bool is refused', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'mamba'}))
    await assert.rejects(loadModel(write(hf, 'mamba', {edit: (m) => ({...m, 'mamba.ssm.dt_b_c_rms': {type: 'u32', value: 1}})})), (e: unknown) => e instanceof ModelLoadError && /GGUF metadata mamba\.ssm\.dt_b_c_rms is 1, not a bool/.test(e.message))
  })
})
