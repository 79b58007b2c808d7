// GGUF ernie4_5-moe, hunyuan-moe, dots1, minimax-m2, exaone-moe, dbrx and afmoe files, written from the HF test checkpoints (themselves held to
// transformers: moe-families tests) as llama.cpp's converter writes them, load as those checkpoints: the same features
// and bit-identical logits at f32 and at q8_0 (the file's blocks against the checkpoint quantized at load); a routing the family does not have is refused.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {ggufBytes, q8_0Matrices, type GgufEntry} from './support/gguf-file.js'
import {moeFamilyMetadata, moeFamilyTensors, type MoeFamilyArch} from './support/moe-family-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

/** What tells the families' runs apart, to be the same in the file as in the checkpoint. */
function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numLayers, c.headDim, c.rotaryDim, c.qkNorm, c.rmsVariant, c.attentionBias, c.attentionOutputBias, c.tieWordEmbeddings, c.layerWindows, c.sandwichNorms, c.embeddingScale, c.moe]
}

const FAMILIES = [
  {arch: 'ernie4_5-moe', q8_0: true, variant: 'ernie4_5_moe', tokenizer: 'gpt2'},
  {arch: 'hunyuan-moe', q8_0: true, variant: 'hunyuan_moe', tokenizer: 'gpt2'},
  {arch: 'dots1', q8_0: true, variant: 'dots1', tokenizer: 'qwen2'},
  {arch: 'minimax-m2', q8_0: true, variant: 'minimax_m2', tokenizer: 'gpt2'},
  {arch: 'exaone-moe', q8_0: true, variant: 'exaone_moe', tokenizer: 'gpt2'},
  // q8_0 rows are blocks of 32 values: the dbrx test model's experts are 48 wide.
  {arch: 'dbrx', q8_0: false, variant: 'dbrx', tokenizer: 'gpt2'},
] as const

describe('GGUF ernie4_5-moe / hunyuan-moe / dots1 / minimax-m2 / exaone-moe / dbrx / afmoe files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-moe-families-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  const write = (name: string, metadata: Record<string, GgufEntry>, hf: LoadedModel, arch: MoeFamilyArch, q8_0 = false): string => {
    const path = join(dir, `${name}.gguf`)
    const tensors = moeFamilyTensors(hf, arch)
    writeFileSync(path, ggufBytes(metadata, {tensors: q8_0 ? q8_0Matrices(tensors) : tensors}))
    return path
  }

  for (const {arch, q8_0, variant, tokenizer} of FAMILIES) {
    it(`${arch}: the features and logits of the ${variant} checkpoint, at f32${q8_0 ? ' and at q8_0' : ''}`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const metadata = moeFamilyMetadata(arch, hf.config, tokenizer)
      const gguf = await loadModel(write(arch, metadata, hf, arch))
      assert.deepEqual(features(gguf), features(hf))
      assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
      const f32 = maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits)
      assert.equal(f32, 0)
      if (!q8_0) return
      const q8 = await loadModel(write(`${arch}-q8_0`, metadata, hf, arch, true))
      const q8Difference = maxAbsDifference((await promptLogits(q8, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits)
      assert.equal(q8Difference, 0)
    })
  }

  it('afmoe: the features and bit-identical f32 and q8_0 logits of the afmoe checkpoint with llama.cpp\'s fixed layer pattern (every 4th full)', async () => {
    // llama.cpp reads no global_attn_every_n_layers (it fixes 4); the test model's 2 is set to that.
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'afmoe'}), (json) => ({...json, global_attn_every_n_layers: 4}))
    const metadata = moeFamilyMetadata('afmoe', hf.config, 'gpt2')
    const gguf = await loadModel(write('afmoe', metadata, hf, 'afmoe'))
    assert.deepEqual(features(gguf), features(hf))
    assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
    const q8 = await loadModel(write('afmoe-q8_0', metadata, hf, 'afmoe', true))
    assert.equal(maxAbsDifference((await promptLogits(q8, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  })

  it('refuses what the family does not run: softmax dots1, a hunyuan-moe shared MLP count of 2, afmoe without a window', async () => {
    const dots1 = await loadModel(await ensureTestModel('tiny', {variant: 'dots1'}))
    const softmax = {...moeFamilyMetadata('dots1', dots1.config, 'qwen2'), 'dots1.expert_gating_func': {type: 'u32', value: 1} as GgufEntry}
    await assert.rejects(loadModel(write('dots1-softmax', softmax, dots1, 'dots1')), (e: unknown) => e instanceof ModelLoadError && /dots1\.expert_gating_func 1 is not supported: dots1 routes with sigmoid/.test(e.message))
    const hunyuan = await loadModel(await ensureTestModel('tiny', {variant: 'hunyuan_moe'}))
    const twoShared = {...moeFamilyMetadata('hunyuan-moe', hunyuan.config, 'gpt2'), 'hunyuan-moe.expert_shared_count': {type: 'u32', value: 2} as GgufEntry}
    await assert.rejects(loadModel(write('hunyuan-two-shared', twoShared, hunyuan, 'hunyuan-moe')), (e: unknown) => e instanceof ModelLoadError && /hunyuan-moe\.expert_shared_count 2 is not supported/.test(e.message))
    const afmoe = await loadModel(await ensureTestModel('tiny', {variant: 'afmoe'}))
    const {'afmoe.attention.sliding_window': _window, ...windowless} = moeFamilyMetadata('afmoe', afmoe.config, 'gpt2')
    await assert.rejects(loadModel(write('afmoe-windowless', windowless, afmoe, 'afmoe')), (e: unknown) => e instanceof ModelLoadError && /afmoe\.attention\.sliding_window undefined: AFMoE files without a window/.test(e.message))
  })

  // Found by fuzz-model-files.ts --gguf: a stack of one expert more than expert_count loaded, its last expert unread.
  it('a stack of experts deeper than expert_count is refused, not cut to it', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'dots1'}))
    const tensors = moeFamilyTensors(hf, 'dots1')
    const stack = tensors.find((t) => t.name.endsWith('.ffn_down_exps.weight'))!
    const experts = stack.dims[2]!
    const deeper = tensors.map((t) => (t === stack ? {...t, dims: [t.dims[0]!, t.dims[1]!, experts + 1], data: Buffer.concat([t.data, Buffer.alloc(t.data.length / experts)])} : t))
    const path = join(dir, 'dots1-deeper.gguf')
    writeFileSync(path, ggufBytes(moeFamilyMetadata('dots1', hf.config, 'qwen2'), {tensors: deeper}))
    await assert.rejects(loadModel(path), (e: unknown) => e instanceof ModelLoadError && new RegExp(`tensor ${stack.name.replace(/\./g, '\\.')} stacks ${experts + 1} experts .*, but the metadata says ${experts}`).test(e.message))
  })
})
