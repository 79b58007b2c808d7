// GGUF files of the hybrid families (granitehybrid, mamba2, qwen3next, qwen35, qwen35moe) and llama4, written from the
// HF test checkpoints (already checked against transformers) as llama.cpp's converter writes them
// (test/support/hybrid-gguf.ts, llama4-gguf.ts), load as those checkpoints: the same layout and sizes, the checkpoint's
// f32 logits (A stored as -exp(A_log) taken as it is), its q8_0 logits from a q8_0 file, the tokenizer and chat template
// from the metadata, and clear refusals.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ggufBytes, type GgufEntry} from './support/gguf-file.js'
import {gatedDeltaMetadata, gatedDeltaTensors, hybridMetadata, hybridTensors, q8_0HybridMatrices} from './support/hybrid-gguf.js'
import {llama4Metadata, llama4Tensors} from './support/llama4-gguf.js'
import {maxAbsDifference} from './support/model-logits.js'
import {seededSlotBatchLogits} from './support/slot-batch-logits.js'

type Arch = 'granitehybrid' | 'mamba2' | 'qwen3next' | 'qwen35' | 'qwen35moe'

/** What tells the runs apart, to be the same in the file as in the checkpoint (the file's own projection and head layout aside). */
function features(m: LoadedModel): unknown {
  const c = m.config
  const {qkvzApart: _apart, valueHeadsTiled: _tiled, ...hybrid} = c.hybrid!
  return [c.architecture, hybrid, c.moe, c.numKvHeads, c.headDim, c.rotaryDim, c.tieWordEmbeddings, c.rmsVariant]
}

/** The checkpoint as its file runs it: time_step_limit is not in the file, and llama.cpp does not clamp dt. */
function unclamped(hf: LoadedModel): LoadedModel {
  const hybrid = hf.config.hybrid!
  return {...hf, config: {...hf.config, hybrid: {...hybrid, mamba2: {...hybrid.mamba2!, dtMin: 0, dtMax: Infinity}}}}
}

/**
 * The llama4 checkpoint as llama.cpp runs its file, which does not carry these: chunks of 8192, every 4th layer NoPE,
 * the temperature's floor_scale 8192 and attn_scale 0.1. Four layers, the 4th the sparse layer 1's weights again, so
 * one is NoPE.
 */
async function llama4AsLlamaCpp(): Promise<LoadedModel> {
  const dir = await ensureTestModel('tiny', {variant: 'llama4'})
  const model = await loadModel(dir)
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
  const config = parseModelConfig({...json, num_hidden_layers: 4, attention_chunk_size: 8192, no_rope_layer_interval: 4, floor_scale: 8192, attn_scale: 0.1})
  const copies = model.tensors.filter((t) => t.name.startsWith('model.layers.1.')).map((t) => ({...t, name: t.name.replace('model.layers.1.', 'model.layers.3.')}))
  return {...model, config, tensors: [...model.tensors, ...copies]}
}

describe('GGUF granitehybrid / mamba2 / qwen3next / qwen35 / qwen35moe / llama4 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-hybrid-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  const write = (hf: LoadedModel, arch: Arch, options: {q8_0?: boolean; edit?: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>} = {}): string => {
    const path = join(dir, `${arch}-${Math.random().toString(36).slice(2)}.gguf`)
    const mamba = arch === 'granitehybrid' || arch === 'mamba2'
    const tensors = mamba ? hybridTensors(hf, arch) : gatedDeltaTensors(hf, arch)
    const metadata = mamba ? hybridMetadata(hf, arch) : gatedDeltaMetadata(hf, arch)
    writeFileSync(path, ggufBytes(options.edit ? options.edit(metadata) : metadata, {tensors: options.q8_0 ? q8_0HybridMatrices(tensors) : tensors}))
    return path
  }

  // granitemoehybrid: mamba / attention / mamba with rope, 4 experts and a shared MLP; -dense: no rope ("nope"), the
  // shared MLP as the MLP; mamba2: mixer-only layers. Each with 2 groups of B and C and a conv bias.
  for (const [variant, arch] of [['granitemoehybrid', 'granitehybrid'], ['granitemoehybrid-dense', 'granitehybrid'], ['mamba2', 'mamba2']] as const) {
    it(`${arch} from ${variant}: its layout and bit-identical f32 logits`, async () => {
      const hf = unclamped(await loadModel(await ensureTestModel('tiny', {variant})))
      const gguf = await loadModel(write(hf, arch))
      assert.deepEqual(features(gguf), features(hf))
      assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
      assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
    })
  }

  // qwen3next: its in_proj_qkvz split into attn_qkv and attn_gate beside the fused ssm_ba; layer 0 dense. qwen35 /
  // qwen35moe: 2 key heads and 4 value heads, so the value heads are stored tiled and out_proj's columns move: the same
  // sums in another order, so within 1e-5 rather than bit-identical.
  for (const [variant, arch, tiled] of [['qwen3_next', 'qwen3next', false], ['qwen3_5', 'qwen35', true], ['qwen3_5_moe', 'qwen35moe', true]] as const) {
    it(`${arch} from ${variant}: its layout and the checkpoint's f32 logits`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const gguf = await loadModel(write(hf, arch))
      assert.deepEqual(features(gguf), features(hf))
      assert.deepEqual([gguf.config.hybrid?.qkvzApart, gguf.config.hybrid?.valueHeadsTiled], arch === 'qwen3next' ? [true, undefined] : [undefined, true])
      assert.equal(gguf.config.normWeightOffset, 0, 'norms stored with their 1 added')
      assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
      const difference = maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32'))
      if (tiled) assert.ok(difference < 1e-5, `max difference ${difference}`)
      else assert.equal(difference, 0)
    })
  }

  it('llama4: experts apart and transposed, rope_freqs as the llama3 scaling, llama.cpp\'s fixed chunks and NoPE layers; the checkpoint\'s f32 and q8_0 logits', async () => {
    const hf = await llama4AsLlamaCpp()
    assert.deepEqual([hf.config.llama4?.ropeLayers, hf.config.moe?.sparseLayers], [[true, true, true, false], [false, true, false, true]])
    const path = join(dir, 'llama4.gguf')
    writeFileSync(path, ggufBytes(llama4Metadata(hf), {tensors: llama4Tensors(hf)}))
    const gguf = await loadModel(path)
    const c = (m: LoadedModel) => [m.config.architecture, m.config.llama4, m.config.layerWindows, m.config.moe?.sparseLayers, m.config.moe?.numExperts, m.config.ropeScaling]
    assert.deepEqual(c(gguf), c(hf))
    assert.equal(gguf.config.moe?.fusedExperts, undefined)
    assert.deepEqual(cpuOnlyNeed({}, gguf), cpuOnlyNeed({}, hf))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
    // Experts fused as ffn_gate_up_exps (gate rows, then up rows) run the same.
    writeFileSync(path, ggufBytes(llama4Metadata(hf), {tensors: llama4Tensors(hf, {gateUpFused: true})}))
    const fused = await loadModel(path)
    assert.equal(fused.config.moe?.fusedExperts, true)
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(fused, 'f32'), await seededSlotBatchLogits(hf, 'f32')), 0)
    writeFileSync(path, ggufBytes(llama4Metadata(hf), {tensors: q8_0HybridMatrices(llama4Tensors(hf))}))
    const q8 = await loadModel(path)
    assert.ok(q8.tensors.some((t) => t.blockFormat === 'q8_0' && t.name.includes('.experts.')))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(q8, 'q8_0'), await seededSlotBatchLogits(hf, 'q8_0')), 0)
    // The tokenizer (the `llama4` pre-tokenizer, GPT-4o's split: gguf-pre-tokenizers.test.ts) and chat template from the
    // metadata; on plain words the split is Llama 3's, the checkpoint's.
    const words = (m: LoadedModel) => m.tokenizer.encode('Hello world, here we are', {addSpecialTokens: false})
    assert.deepEqual(words(gguf), words(hf))
    const chat = [{role: 'user', content: 'hi'}]
    assert.equal(gguf.tokenizer.applyChatTemplate(chat), hf.tokenizer.applyChatTemplate(chat))
    const withWindow = (entries: Record<string, GgufEntry>) => {
      writeFileSync(path, ggufBytes({...llama4Metadata(hf), ...entries}, {tensors: llama4Tensors(hf)}))
      return loadModel(path)
    }
    // llama.cpp runs chunks of 8192 whatever nonzero window a file names.
    assert.deepEqual((await withWindow({'llama4.attention.sliding_window': {type: 'u32', value: 4096}})).config.layerWindows, hf.config.layerWindows)
    await assert.rejects(withWindow({'llama4.attention.sliding_window': {type: 'u32', value: 0}}), (e: unknown) => e instanceof ModelLoadError && /sliding_window 0: llama4 files without chunked attention \(MobileLLM\)/.test(e.message))
    await assert.rejects(withWindow({'llama4.expert_count': {type: 'u32', value: 0}}), (e: unknown) => e instanceof ModelLoadError && /expert_count 0: llama4 files without experts \(MobileLLM\)/.test(e.message))
  })

  it('granitehybrid at q8_0: the checkpoint\'s q8_0 logits, its tokenizer and chat template from the metadata', async () => {
    const hf = unclamped(await loadModel(await ensureTestModel('tiny', {variant: 'granitemoehybrid'})))
    // Granite 4.0's role markers, as its file carries its template.
    const template = "{% for m in messages %}<|start_of_role|>{{ m['role'] }}<|end_of_role|>{{ m['content'] }}<|end_of_text|>\n{% endfor %}"
    const gguf = await loadModel(write(hf, 'granitehybrid', {q8_0: true, edit: (m) => ({...m, 'tokenizer.chat_template': {type: 'string', value: template}})}))
    assert.ok(gguf.tensors.some((t) => t.blockFormat === 'q8_0'))
    assert.equal(maxAbsDifference(await seededSlotBatchLogits(gguf, 'q8_0'), await seededSlotBatchLogits(hf, 'q8_0')), 0)
    for (const text of ['Hello world', 'two  spaces\nand a newline']) assert.deepEqual(gguf.tokenizer.encode(text), hf.tokenizer.encode(text), text)
    assert.equal(gguf.tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]), '<|start_of_role|>user<|end_of_role|>hi<|end_of_text|>\n')
  })

  it('refuses what it cannot run: partial rope (Bamba\'s), per-layer KV counts that differ or do not fit, an inner width off the heads', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'granitemoehybrid'}))
    const refused = async (edit: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>, pattern: RegExp) => {
      await assert.rejects(loadModel(write(hf, 'granitehybrid', {edit})), (e: unknown) => e instanceof ModelLoadError && pattern.test(e.message))
    }
    await refused((m) => ({...m, 'granitehybrid.rope.dimension_count': {type: 'u32', value: hf.config.headDim / 2}}), /rope\.dimension_count .*full-head rotary/)
    await refused((m) => ({...m, 'granitehybrid.attention.head_count_kv': {type: 'i32s', value: [0, 2, 1]}}), /head_count_kv .*different KV head counts/)
    await refused((m) => ({...m, 'granitehybrid.attention.head_count_kv': {type: 'i32s', value: [0, 2]}}), /one KV head count .* each of the 3 layers/)
    await refused((m) => ({...m, 'granitehybrid.ssm.time_step_rank': {type: 'u32', value: 7}}), /ssm\.inner_size 128 must be a multiple/)
    // Found by fuzz-model-files.ts --gguf: a flag that is not a bool was read as false (NoPE), and a block count of 2^31
    // built per-layer lists until the heap ran out (an abort, not an error).
    await refused((m) => ({...m, 'granitehybrid.rope.scaling.finetuned': {type: 'string', value: 'x'}}), /GGUF metadata granitehybrid\.rope\.scaling\.finetuned is "x", not a bool/)
    await refused((m) => ({...m, 'granitehybrid.block_count': {type: 'u32', value: 2 ** 31}}), /GGUF metadata granitehybrid\.block_count 2147483648 is not a layer count/)
  })

  it('a qwen3next block count of 2^31 is refused before any per-layer list is built', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3_next'}))
    await assert.rejects(loadModel(write(hf, 'qwen3next', {edit: (m) => ({...m, 'qwen3next.block_count': {type: 'u32', value: 2 ** 31}})})), (e: unknown) => e instanceof ModelLoadError && /qwen3next\.block_count 2147483648 is not a layer count/.test(e.message))
  })
})
