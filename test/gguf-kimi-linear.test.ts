// GGUF kimi-linear files (Kimi Linear: Kimi Delta Attention, NoPE latent attention, DeepSeek-V3's experts), written from
// the kimi-linear test checkpoint as llama.cpp's converter writes them (test/support/kimi-linear-gguf.ts), load as that
// checkpoint: the same layout, its bit-identical f32 logits (A stored as -exp(A_log) taken as it is), its q8_0 logits from a q8_0
// file, the same greedy tokens, and refusals naming the key or tensor. The checkpoint is the test model with its
// latent attention cut to the KDA head count and one expert group, as a file llama.cpp reads must have it.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ggufBytes, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {q8_0HybridMatrices} from './support/hybrid-gguf.js'
import {kimiLinearForGguf, kimiLinearGgufMetadata, kimiLinearGgufTensors} from './support/kimi-linear-gguf.js'
import {maxAbsDifference} from './support/model-logits.js'
import {seededSlotBatchLogits} from './support/slot-batch-logits.js'
import {fixtureGreedyTokens, readTransformersFixture} from './support/transformers-fixture.js'

const fixture = readTransformersFixture('kimi-linear')

/** What tells the runs apart, to be the same in the file as in the checkpoint. */
function features(m: LoadedModel): unknown {
  const c = m.config
  const {kvBApart: _apart, ...mla} = c.mla!
  return [c.architecture, c.numLayers, c.hybrid, mla, c.moe, c.numHeads, c.numKvHeads, c.headDim, c.rotaryDim, c.attentionScale, c.intermediateSize, c.hiddenAct, Math.fround(c.rmsNormEps), c.tieWordEmbeddings, c.rmsVariant]
}

describe('GGUF kimi-linear files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-kimi-linear-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  let source = ''
  let hf: LoadedModel
  before(async () => {
    source = kimiLinearForGguf(await ensureTestModel('tiny', {variant: 'kimi-linear'}), join(dir, 'hf'))
    hf = await loadModel(source)
  })

  type Edit = {metadata?: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>; tensors?: (t: GgufTensorSpec[]) => GgufTensorSpec[]; legacyKvB?: boolean}
  const write = (edit: Edit = {}): string => {
    const path = join(dir, `kimi-linear-${Math.random().toString(36).slice(2)}.gguf`)
    const metadata = kimiLinearGgufMetadata(source, hf.config.vocabSize)
    const tensors = kimiLinearGgufTensors(source, {legacyKvB: edit.legacyKvB})
    writeFileSync(path, ggufBytes(edit.metadata ? edit.metadata(metadata) : metadata, {tensors: edit.tensors ? edit.tensors(tensors) : tensors}))
    return path
  }

  it('its layout (KDA / latent / KDA, dense then grouped sigmoid experts), the checkpoint\'s f32 logits and greedy tokens', async () => {
    assert.deepEqual([hf.config.hybrid?.linearLayers, hf.config.hybrid?.linearNumValueHeads, hf.config.numHeads, hf.config.moe?.sparseLayers], [[true, false, true], 2, 2, [false, true, true]])
    const path = write()
    const gguf = await loadModel(path)
    assert.deepEqual(features(gguf), features(hf))
    assert.equal(gguf.config.mla?.kvBApart, true)
    assert.ok(gguf.tensors.some((t) => t.decayRateStored && t.name === 'model.layers.0.linear_attn.A_log'))
    assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
    assert.deepEqual(await fixtureGreedyTokens(path, fixture), await fixtureGreedyTokens(source, fixture))
  })

  it('a q8_0 file gives the checkpoint quantized to q8_0 at load', async () => {
    const gguf = await loadModel(write({tensors: q8_0HybridMatrices}))
    assert.ok(gguf.tensors.some((t) => t.blockFormat === 'q8_0' && t.name.includes('.experts.')))
    assert.ok(gguf.tensors.some((t) => t.blockFormat === 'q8_0' && t.name === 'model.layers.0.linear_attn.q_proj.weight'))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'q8_0'), await seededSlotBatchLogits(hf, 'q8_0')), 0)
  })

  it('3D convolutions and a 2D A (as a quantizer may leave them) and a legacy attn_kv_b read the same', async () => {
    const reshaped = (t: GgufTensorSpec[]): GgufTensorSpec[] => t.map((x) => (/ssm_conv1d_[qkv]\.weight$/.test(x.name) ? {...x, dims: x.dims.slice(0, 3)} : /\.ssm_a$/.test(x.name) ? {...x, dims: [1, x.dims[1]!]} : x))
    const gguf = await loadModel(write({tensors: reshaped, legacyKvB: true}))
    assert.equal(gguf.config.mla?.kvBApart, undefined)
    assert.ok(gguf.tensors.some((t) => t.name === 'model.layers.1.self_attn.kv_b_proj.weight'))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
  })

  it('refuses malformed or unsupported files, naming the key or tensor', async () => {
    const without = (key: string) => (m: Record<string, GgufEntry>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== key))
    const cases: [Edit, RegExp][] = [
      [{metadata: without('kimi-linear.kda.head_dim')}, /kimi-linear\.kda\.head_dim must be a positive integer, got undefined/],
      [{metadata: without('kimi-linear.expert_gating_func')}, /kimi-linear\.expert_gating_func undefined is not supported: Kimi Linear routes by sigmoid scores \(2\)/],
      [{metadata: (m) => ({...m, 'kimi-linear.expert_gating_func': u32(1)})}, /kimi-linear\.expert_gating_func 1 is not supported/],
      [{metadata: (m) => ({...m, 'kimi-linear.attention.head_count_kv': u32(1)})}, /kimi-linear\.attention\.head_count_kv must list one KV head count .* each of the 3 layers/],
      [{metadata: (m) => ({...m, 'kimi-linear.attention.key_length_mla': u32(8)})}, /key_length_mla 8 must exceed rope\.dimension_count 8/],
      [{metadata: without('kimi-linear.attention.kv_lora_rank')}, /kimi-linear\.attention\.kv_lora_rank must be a positive integer/],
      [{tensors: (t) => t.filter((x) => x.name !== 'blk.2.ssm_conv1d_k.weight')}, /self_attn\.k_conv1d\.weight is missing/],
      [{tensors: (t) => t.filter((x) => x.name !== 'blk.0.ssm_dt.bias')}, /self_attn\.dt_bias is missing/],
      [{tensors: (t) => t.map((x) => (x.name === 'blk.0.ssm_a' ? {...x, dims: [2, 1, 1, 1]} : x))}, /Tensor model\.layers\.0\.self_attn\.A_log has shape \[1, 1, 1, 2\]/],
      [{tensors: (t) => [...t, {...t.find((x) => x.name === 'blk.1.attn_output.weight')!, name: 'blk.1.attn_gate.weight'}]}, /tensor blk\.1\.attn_gate\.weight \(a one-matrix output gate\) is not supported/],
      // Found by fuzz-model-files.ts --gguf: a v_b of one head more than the metadata's was cut to its first heads.
      [{tensors: (t) => t.map((x) => (x.name === 'blk.1.attn_v_b.weight' ? {...x, dims: [...x.dims.slice(0, 2), x.dims[2]! + 1], data: Buffer.concat([x.data, Buffer.alloc(x.data.length / x.dims[2]!)])} : x))}, /tensor blk\.1\.attn_v_b\.weight stacks 3 heads \(\[3, \d+, \d+\]\), but the metadata says 2/],
    ]
    for (const [edit, pattern] of cases) {
      await assert.rejects(loadModel(write(edit)), (e: unknown) => e instanceof ModelLoadError && pattern.test(e.message), String(pattern))
    }
  })
})
