// GGUF files of Nemotron-H (nemotron_h), Nemotron 3 Nano (nemotron_h_moe, its latent experts too) and Falcon-H1
// (falcon-h1), written from the HF test checkpoints (already checked against transformers) as llama.cpp's converter
// writes them (test/support/ssm-hybrid-gguf.ts), load as those checkpoints: the same layers, mixers and experts, the
// checkpoint's f32 logits (Falcon-H1's multipliers folded into its weights: the same sums rounded apart, so within
// 1e-5), transformers' greedy tokens through the engine, and refusals naming the key or tensor. falcon-h1-norm-first
// has no GGUF form: llama.cpp's mixer always gates before its norm, and the file has no key to say otherwise.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {ggufBytes, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {maxAbsDifference} from './support/model-logits.js'
import {seededSlotBatchLogits} from './support/slot-batch-logits.js'
import {ssmHybridMetadata, ssmHybridTensors, type SsmHybridArch} from './support/ssm-hybrid-gguf.js'
import {fixtureGreedyTokens, readTransformersFixture} from './support/transformers-fixture.js'

const fixtureOf = (variant: TestModelVariant) => readTransformersFixture(variant)

/** What tells the runs apart, to be the same in the file as in the checkpoint (Falcon-H1's multipliers aside: folded, so 1 in the file; a MoE file has no dense MLP width). */
function features(m: LoadedModel): unknown {
  const c = m.config
  const {falconH1: _multipliers, ...mamba2} = c.hybrid!.mamba2!
  const {logitsMultiplier: _logits, ...rms} = c.rmsVariant ?? {}
  return [c.architecture, c.numLayers, {...c.hybrid, mamba2}, c.moe, c.numHeads, c.numKvHeads, c.headDim, c.moe ? null : c.intermediateSize, c.hiddenAct, Math.fround(c.rmsNormEps), c.ropeTheta, c.tieWordEmbeddings, rms]
}

describe('GGUF nemotron_h / nemotron_h_moe / falcon-h1 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-ssm-hybrids-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  type Edit = {metadata?: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>; tensors?: (t: GgufTensorSpec[]) => GgufTensorSpec[]}
  const write = (hf: LoadedModel, arch: SsmHybridArch, edit: Edit = {}): string => {
    const path = join(dir, `${arch}-${Math.random().toString(36).slice(2)}.gguf`)
    const metadata = ssmHybridMetadata(hf, arch)
    const tensors = ssmHybridTensors(hf, arch)
    writeFileSync(path, ggufBytes(edit.metadata ? edit.metadata(metadata) : metadata, {tensors: edit.tensors ? edit.tensors(tensors) : tensors}))
    return path
  }

  // nemotron-h: M-M*-M (an MLP after a mixer and after the attention); -moe: MEM*E with grouped sigmoid routing; -latent:
  // its experts between the latent projections. Falcon-H1: every multiplier its own value, folded by the converter;
  // -ungated-norm: no mixer norm, one group.
  const cases = [['nemotron-h', 'nemotron_h'], ['nemotron-h-moe', 'nemotron_h_moe'], ['nemotron-h-latent', 'nemotron_h_moe'], ['falcon-h1', 'falcon-h1'], ['falcon-h1-ungated-norm', 'falcon-h1']] as const
  for (const [variant, arch] of cases) {
    it(`${arch} from ${variant}: its layout, the checkpoint's f32 logits and transformers' greedy tokens`, async () => {
      const hfDir = await ensureTestModel('tiny', {variant})
      const hf = await loadModel(hfDir)
      const path = write(hf, arch)
      const gguf = await loadModel(path)
      assert.deepEqual(features(gguf), features(hf))
      assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
      const difference = maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32'))
      if (arch === 'falcon-h1') {
        const f = gguf.config.hybrid!.mamba2!.falconH1!
        assert.deepEqual([...f.inProj, f.ssmOut, f.attentionIn, f.attentionOut, f.key, f.mlpGate, f.mlpDown, gguf.config.embeddingScale, gguf.config.rmsVariant?.logitsMultiplier], Array(13).fill(1), 'multipliers folded')
        assert.ok(difference < 1e-5, `max difference ${difference}`)
      } else {
        assert.equal(difference, 0)
      }
      const fixture = fixtureOf(variant)
      assert.deepEqual(await fixtureGreedyTokens(path, fixture), fixture.prompts.map((p) => p.greedy_token_ids))
    })
  }

  it('refuses what it cannot run or does not find, naming the key or tensor', async () => {
    const moe = await loadModel(await ensureTestModel('tiny', {variant: 'nemotron-h-moe'}))
    const refused = async (hf: LoadedModel, arch: SsmHybridArch, edit: Edit, pattern: RegExp) => {
      await assert.rejects(loadModel(write(hf, arch, edit)), (e: unknown) => e instanceof ModelLoadError && pattern.test(e.message), String(pattern))
    }
    const without = (key: string) => (m: Record<string, GgufEntry>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== key))
    // Two groups of experts, and no count of those each token uses.
    await refused(moe, 'nemotron_h_moe', {metadata: without('nemotron_h_moe.expert_group_used_count')}, /nemotron_h_moe\.expert_group_used_count is missing/)
    await refused(moe, 'nemotron_h_moe', {metadata: without('nemotron_h_moe.expert_count')}, /GGUF metadata nemotron_h_moe\.expert_count must be a positive integer/)
    await refused(moe, 'nemotron_h_moe', {metadata: (m) => ({...m, 'nemotron_h_moe.feed_forward_length': {type: 'i32s', value: [32, 0]}})}, /feed_forward_length must list one count .* each of the 5 blocks/)
    await refused(moe, 'nemotron_h_moe', {metadata: (m) => ({...m, 'nemotron_h_moe.expert_gating_func': {type: 'u32', value: 1}})}, /expert_gating_func 1 is not supported/)
    await refused(moe, 'nemotron_h_moe', {tensors: (t) => t.filter((s) => s.name !== 'blk.4.ffn_up_exps.weight')}, /experts\.\d\.up_proj\.weight/)
    const falcon = await loadModel(await ensureTestModel('tiny', {variant: 'falcon-h1'}))
    await refused(falcon, 'falcon-h1', {metadata: without('falcon-h1.ssm.group_count')}, /GGUF metadata falcon-h1\.ssm\.group_count must be a positive integer/)
    await refused(falcon, 'falcon-h1', {tensors: (t) => t.filter((s) => s.name !== 'blk.1.ssm_conv1d.weight')}, /mamba\.conv1d\.weight/)
    // A bias on in_proj, which Falcon-H1 has not.
    const rows = falcon.tensors.find((t) => t.name === 'model.layers.0.mamba.in_proj.weight')!.shape[0]!
    const bias = {name: 'blk.0.ssm_in.bias', dims: [rows], data: Buffer.alloc(4 * rows)}
    await refused(falcon, 'falcon-h1', {tensors: (t) => [...t, bias]}, /"mamba_proj_bias" true \(a bias on the Mamba-2 in_proj\)/)
  })
})
