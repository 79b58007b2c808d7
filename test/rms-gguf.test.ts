// GGUF granite, granitemoe, olmo, olmo2 (OLMo 3's too), olmoe, command-r and cohere2 files (llama.cpp's tensor names and metadata keys) load as the checkpoints they were converted from.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {readTensorFloat64, type TensorInfo} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {f32, GGUF_GLOBAL_NAMES, ggufBytes, q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm', 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
  post_attention_layernorm: 'ffn_norm', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
  'self_attn.q_norm': 'attn_q_norm', 'self_attn.k_norm': 'attn_k_norm', post_feedforward_layernorm: 'post_ffw_norm', 'mlp.gate': 'ffn_gate_inp',
  'mlp.shared_expert.gate_proj': 'ffn_gate_shexp', 'mlp.shared_expert.up_proj': 'ffn_up_shexp', 'mlp.shared_expert.down_proj': 'ffn_down_shexp',
}
/** Architectures whose q/k rows llama.cpp's converter permutes for its interleaved (NORM) rope. */
const PERMUTED = new Set(['granite', 'granitemoe', 'olmo'])

/** A tensor as llama.cpp's converter writes it: granite's and olmo's q/k rows permuted per head for its interleaved rope, others as stored. */
function converted(tensor: TensorInfo, arch: string, config: LoadedModel['config']): GgufTensorSpec {
  const values = Float32Array.from(readTensorFloat64(tensor))
  const layer = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(tensor.name)
  let part = layer ? LAYER[layer[2]!]! : GGUF_GLOBAL_NAMES[tensor.name]!
  if (arch === 'olmo2' && part === 'ffn_norm') part = 'post_attention_norm'
  const heads = !PERMUTED.has(arch) ? 0 : part === 'attn_q' ? config.numHeads : part === 'attn_k' ? config.numKvHeads : 0
  let data = values
  if (heads > 0) {
    data = new Float32Array(values.length)
    const [cols, headDim] = [tensor.shape[1]!, config.headDim]
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < headDim / 2; i++) {
        for (const half of [0, 1]) {
          const from = (h * headDim + half * (headDim / 2) + i) * cols
          data.set(values.subarray(from, from + cols), (h * headDim + 2 * i + half) * cols)
        }
      }
    }
  }
  // Command R+'s q/k norms, loaded as [heads x head_dim] for the rope reorder, are [head_dim, heads] in the file.
  const dims = /^attn_[qk]_norm$/.test(part) && tensor.ropeInterleavedHeads ? [tensor.shape[0]! / tensor.ropeInterleavedHeads, tensor.ropeInterleavedHeads] : [...tensor.shape].reverse()
  return {name: layer ? `blk.${layer[1]}.${part}.weight` : part, dims, data: Buffer.from(data.buffer)}
}

/** All of a model's tensors as llama.cpp writes them, each layer's experts stacked into 3D ffn_{gate,up,down}_exps. */
function convertedAll(hf: LoadedModel, arch: string): GgufTensorSpec[] {
  const experts = new Map<string, Buffer[]>()
  return hf.tensors.flatMap((t) => {
    const expert = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(t.name)
    if (!expert) return [converted(t, arch, hf.config)]
    const name = `blk.${expert[1]}.ffn_${expert[3]}_exps.weight`
    experts.set(name, [...(experts.get(name) ?? []), converted(t, arch, hf.config).data])
    const all = experts.get(name)!
    return all.length < hf.config.moe!.numExperts ? [] : [{name, dims: [t.shape[1]!, t.shape[0]!, all.length], data: Buffer.concat(all)}]
  })
}

function metadata(arch: string, c: LoadedModel['config']): Record<string, GgufEntry> {
  const extra: Record<string, GgufEntry> = arch === 'granite' || arch === 'granitemoe'
    ? {[`${arch}.embedding_scale`]: f32(c.embeddingScale), [`${arch}.residual_scale`]: f32(c.rmsVariant!.residualMultiplier), [`${arch}.attention.scale`]: f32(c.attentionScale), [`${arch}.logit_scale`]: f32(1 / c.rmsVariant!.logitsMultiplier)}
    : arch === 'command-r' || arch === 'cohere2'
      ? {[`${arch}.logit_scale`]: f32(c.rmsVariant!.logitsMultiplier), [`${arch}.attention.layer_norm_epsilon`]: f32(c.rmsNormEps),
          ...(c.layerWindows ? {[`${arch}.attention.sliding_window`]: u32(Math.max(...c.layerWindows))} : {})}
      : arch === 'olmo'
        ? {'olmo.attention.layer_norm_epsilon': f32(1e-5), 'olmo.attention.clamp_kqv': f32(c.rmsVariant!.clipQkv)}
        : {[`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps)}
  const moe = c.moe ? {[`${arch}.expert_count`]: u32(c.moe.numExperts), [`${arch}.expert_used_count`]: u32(c.moe.numExpertsPerToken),
    ...(c.moe.sharedExpertIntermediateSize > 0 ? {[`${arch}.expert_shared_feed_forward_length`]: u32(c.moe.sharedExpertIntermediateSize)} : {})} : {}
  return {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim), [`${arch}.rope.freq_base`]: f32(c.ropeTheta),
    ...(arch === 'granite' || arch === 'granitemoe' ? {[`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps)} : {}),
    ...extra,
    ...moe,
    ...familyVocabMetadata('gpt2', c.vocabSize),
  }
}

/** The cohere2 test model with llama.cpp's fixed pattern (every 4th layer full: both of its 2 layers slide, with rope). */
async function slidingEveryFourth(dir: string): Promise<string> {
  const copy = join(dir, 'hf-cohere2')
  cpSync(await ensureTestModel('tiny', {variant: 'cohere2'}), copy, {recursive: true})
  writeFileSync(join(copy, 'config.json'), JSON.stringify({...JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')), sliding_window_pattern: 4}))
  return copy
}

/** The olmo3 test model with one rope base for both layer types (a GGUF file has one: rope.freq_base) and a YaRN attention factor an f32 holds. */
async function olmo3OneBase(dir: string): Promise<string> {
  const copy = join(dir, 'hf-olmo3')
  cpSync(await ensureTestModel('tiny', {variant: 'olmo3'}), copy, {recursive: true})
  const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8'))
  writeFileSync(join(copy, 'config.json'), JSON.stringify({...config, rope_parameters: {full_attention: {...config.rope_parameters.full_attention, attention_factor: 1.25}, sliding_attention: {rope_type: 'default', rope_theta: 1e6}}}))
  return copy
}

/** OLMo 3 as llama.cpp's converter writes it: olmo2 with the window, one flag per layer, and the full layers' YaRN. */
function olmo3Metadata(c: LoadedModel['config'], pattern: boolean[] | null): Record<string, GgufEntry> {
  const yarn = c.ropeScaling.type === 'yarn' ? c.ropeScaling : null
  return {
    ...metadata('olmo2', c), 'olmo2.attention.sliding_window': {type: 'u32', value: Math.max(...c.layerWindows!)},
    ...(pattern ? {'olmo2.attention.sliding_window_pattern': {type: 'bools', value: pattern}} : {}),
    ...(yarn ? {'olmo2.rope.scaling.type': {type: 'string', value: 'yarn'}, 'olmo2.rope.scaling.factor': {type: 'f32', value: yarn.factor},
      'olmo2.rope.scaling.attn_factor': {type: 'f32', value: yarn.attentionFactor}, 'olmo2.rope.scaling.original_context_length': {type: 'u32', value: yarn.originalMaxPosition}} : {}),
  }
}

describe('GGUF OLMo 3 files (olmo2 with attention.sliding_window)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-olmo3-gguf-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('load as the Olmo3 checkpoint they were converted from: its windows, the YaRN on full layers only, bit-identical logits at f32', async () => {
    const hf = await loadModel(await olmo3OneBase(dir))
    const path = join(dir, 'olmo3.gguf')
    writeFileSync(path, ggufBytes(olmo3Metadata(hf.config, hf.config.layerWindows!.map((w) => w > 0)), {tensors: convertedAll(hf, 'olmo2')}))
    const gguf = await loadModel(path)
    const features = (m: LoadedModel) => [m.config.architecture, m.config.layerWindows, m.config.ropeTheta, m.config.ropeLocalTheta, m.config.ropeScaling, m.config.rmsVariant]
    assert.deepEqual(features(gguf), features(hf))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
    // Without the flags, llama.cpp's fixed pattern: every 4th layer full (both of these 2 slide).
    writeFileSync(path, ggufBytes(olmo3Metadata(hf.config, null), {tensors: convertedAll(hf, 'olmo2')}))
    assert.deepEqual((await loadModel(path)).config.layerWindows, [8, 8])
    const broken: [Record<string, GgufEntry>, RegExp][] = [
      [{'olmo2.attention.sliding_window_pattern': {type: 'bools', value: [true]}}, /sliding_window_pattern must hold one true\/false per layer \(2\)/],
      [{'olmo2.rope.scaling.type': {type: 'string', value: 'longrope'}}, /OLMo 3 \(olmo2 with attention\.sliding_window\) rope scaling "longrope" is not supported \(none or yarn\)/],
    ]
    for (const [entries, pattern] of broken) {
      writeFileSync(path, ggufBytes({...olmo3Metadata(hf.config, null), ...entries}, {tensors: convertedAll(hf, 'olmo2')}))
      await assert.rejects(loadModel(path), (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message))
    }
  })
})

describe('GGUF granite / granitemoe / olmo / olmo2 / olmoe / command-r / cohere2 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-rms-gguf-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  for (const [arch, variant] of [['granite', 'granite'], ['olmo2', 'olmo2'], ['command-r', 'cohere'], ['olmo', 'olmo'], ['olmoe', 'olmoe'], ['granitemoe', 'granitemoe'], ['granitemoe', 'granitemoeshared'], ['cohere2', 'cohere2']] as const) {
    it(`${arch}: llama.cpp's names and metadata give the bit-identical logits of the ${variant} checkpoint it was converted from, at f32 and q8_0`, async () => {
      const loaded = await loadModel(variant === 'cohere2' ? await slidingEveryFourth(dir) : await ensureTestModel('tiny', {variant}))
      // llama.cpp runs olmoe without clip_qkv (its converter writes none): the checkpoint so read is what the file holds.
      const hf = arch === 'olmoe' ? {...loaded, config: {...loaded.config, rmsVariant: {...loaded.config.rmsVariant!, clipQkv: 0}}} : loaded
      const path = join(dir, `${variant}.gguf`)
      writeFileSync(path, ggufBytes(metadata(arch, hf.config), {tensors: convertedAll(hf, arch)}))
      const gguf = await loadModel(path)
      assert.deepEqual([gguf.config.architecture, gguf.config.rmsVariant, gguf.config.attentionScale, gguf.config.embeddingScale, gguf.config.moe], [hf.config.architecture, hf.config.rmsVariant, hf.config.attentionScale, hf.config.embeddingScale, hf.config.moe])
      assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
      const quantizedPath = join(dir, `${variant}-q8_0.gguf`)
      writeFileSync(quantizedPath, ggufBytes(metadata(arch, hf.config), {tensors: q8_0Matrices(convertedAll(hf, arch))}))
      assert.equal(maxAbsDifference((await promptLogits(await loadModel(quantizedPath), 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
      // A shared expert's size without its tensors names the first one missing.
      if (variant === 'granitemoe') {
        writeFileSync(path, ggufBytes({...metadata(arch, hf.config), 'granitemoe.expert_shared_feed_forward_length': {type: 'u32', value: 8}}, {tensors: convertedAll(hf, arch)}))
        await assert.rejects(loadModel(path), (error: unknown) => error instanceof ModelLoadError && /mlp\.shared_expert\.gate_proj\.weight is missing/.test(error.message))
      }
    })
  }

  it("command-r with attn_q_norm / attn_k_norm (Command R+'s use_qk_norm): the bit-identical logits of the transformers-saved checkpoint it was converted from", async () => {
    const copy = join(dir, 'hf-cohere-qk-norm')
    cpSync(join(import.meta.dirname, 'fixtures', 'cohere-qk-norm-transformers'), copy, {recursive: true, filter: (from) => !from.endsWith('expected.json')})
    const tokenizerDir = await ensureTestModel('tiny', {variant: 'llama'})
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(tokenizerDir, file), join(copy, file))
    const hf = await loadModel(copy)
    const path = join(dir, 'cohere-qk-norm.gguf')
    writeFileSync(path, ggufBytes(metadata('command-r', hf.config), {tensors: convertedAll(hf, 'command-r')}))
    const gguf = await loadModel(path)
    assert.deepEqual([gguf.config.qkNorm, gguf.config.rmsVariant], [true, hf.config.rmsVariant])
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
  })
})
