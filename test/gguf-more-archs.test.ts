// GGUF chatglm (GlmForCausalLM), cohere2moe (Cohere2MoeForCausalLM) and glm4 with M-RoPE sections (GLM-4.1V's text): files
// llama.cpp writes for Hugging Face families that load here, written from the HF test checkpoints (already checked
// against transformers) as llama.cpp's converter writes them, load as those checkpoints with their config.json edited to
// what the file fixes: the same features, f32 logits within 1e-5, a q8_0 file equal to the checkpoint quantized at load,
// and the same greedy tokens.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {chatglmMetadata, denseFamilyTensors, glm4vTextGguf} from './support/dense-family-gguf.js'
import {withConfig} from './support/edited-checkpoint.js'
import {q8_0Matrices, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {greedyTokens, maxAbsDifference, promptLogits} from './support/model-logits.js'
import {moeFamilyMetadata, moeFamilyTensors} from './support/moe-family-gguf.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

const {dir, write} = ggufScratch('pagedllm-gguf-more-archs-')

/** What tells the runs apart, to be the same in the file as in the checkpoint. */
function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numKvHeads, c.headDim, c.rotaryDim, c.ropeTheta, c.ropeScaling, c.attentionBias, c.attentionOutputBias, c.mlpBias, c.fusedProjections,
    c.hiddenAct, c.tieWordEmbeddings, Math.fround(c.rmsNormEps)]
}

/**
 * The checkpoint's features, f32 logits within 1e-5 and the same greedy tokens, and bit-identical logits at q8_0 to the
 * checkpoint quantized at load; rows shorter than a whole number of blocks (experts 48 wide) stay F32 in both.
 */
async function same(hf: LoadedModel, name: string, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]): Promise<LoadedModel> {
  const gguf = await loadModel(write(name, metadata, tensors))
  assert.deepEqual(features(gguf), features(hf))
  assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
  assert.deepEqual(await greedyTokens(gguf, [1, 17, 250, 3]), await greedyTokens(hf, [1, 17, 250, 3]))
  const q8 = await loadModel(write(`${name}-q8_0`, metadata, tensors.flatMap((t) => (t.dims[0]! % 32 === 0 ? q8_0Matrices([t]) : [t]))))
  assert.equal(maxAbsDifference((await promptLogits(q8, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  return gguf
}

describe('GGUF chatglm files (GlmForCausalLM, GLM-4-9B)', () => {
  // The checkpoint as the file fixes it: ChatGLMModel's converter writes eps 1e-5 and context hidden_size for GlmConfig's keys.
  const glm = async () => withConfig(await ensureTestModel('tiny', {variant: 'glm'}), (json) => ({...json, rms_norm_eps: 1e-5, max_position_embeddings: json.hidden_size}))

  it('chatglm: q/k/v biases, half of each head rotated interleaved (rows as stored), gate|up fused in ffn_up: the glm checkpoint\'s logits', async () => {
    const hf = await glm()
    assert.deepEqual([hf.config.rotaryDim, hf.config.attentionBias], [hf.config.headDim / 2, true])
    const gguf = await same(hf, 'chatglm', chatglmMetadata(hf.config), denseFamilyTensors(hf, 'chatglm'))
    assert.equal(gguf.config.maxPositionEmbeddings, hf.config.hiddenSize)
  })

  it('refuses a malformed chatglm file, naming the key or tensor', async () => {
    const hf = await glm()
    const metadata = chatglmMetadata(hf.config)
    const tensors = denseFamilyTensors(hf, 'chatglm')
    await assert.rejects(loadModel(write('chatglm-odd-rotary', {...metadata, 'chatglm.rope.dimension_count': {type: 'u32', value: 7}}, tensors)),
      loadError(/chatglm\.rope\.dimension_count 7 is not an even part of the head size 16/))
    const {'chatglm.attention.head_count': _heads, ...noHeads} = metadata
    await assert.rejects(loadModel(write('chatglm-no-heads', noHeads, tensors)), loadError(/GGUF metadata chatglm\.attention\.head_count is missing/))
    const noUp = tensors.filter((t) => t.name !== 'blk.1.ffn_up.weight')
    await assert.rejects(loadModel(write('chatglm-no-up', metadata, noUp)), loadError(/model\.layers\.1\.mlp\.(gate_up|gate|up)_proj\.weight/))
    // ChatGLM2/3 (ChatGLMModel): one fused query_key_value, a model that does not load here.
    const q = tensors.find((t) => t.name === 'blk.0.attn_q.weight')!
    const fused = [...tensors.filter((t) => !/^blk\.0\.attn_[qkv]\./.test(t.name)), {...q, name: 'blk.0.attn_qkv.weight'}]
    await assert.rejects(loadModel(write('chatglm-qkv', metadata, fused)), loadError(/tensor blk\.0\.attn_qkv\.weight: ChatGLM2\/3's fused query_key_value is not supported/))
  })
})

describe('GGUF cohere2moe files (Cohere2MoeForCausalLM)', () => {
  // The converter refuses any shared-expert combination but "average" and writes sigmoid gating whatever the checkpoint says.
  const sigmoid = async (edit: (json: Record<string, any>) => Record<string, unknown> = (json) => json) =>
    withConfig(await ensureTestModel('tiny', {variant: 'cohere2-moe-sigmoid'}), (json) => edit({...json, shared_expert_combination_strategy: 'average'}))
  const metadata = (hf: LoadedModel) => moeFamilyMetadata('cohere2moe', hf.config, 'gpt2')
  const withoutRms = (m: Record<string, GgufEntry>) => Object.fromEntries(Object.entries(m).filter(([key]) => key !== 'cohere2moe.attention.layer_norm_rms_epsilon'))

  it('cohere2moe with RMSNorms: parallel block, sigmoid top-k, the shared MLP averaged in, rope on sliding layers only: the checkpoint\'s logits', async () => {
    const hf = await sigmoid()
    assert.deepEqual([hf.config.moe?.sharedExpertAverage, hf.config.rmsVariant?.normMean, hf.config.rmsVariant?.ropeLayers], [true, false, [true, false]])
    await same(hf, 'cohere2moe', metadata(hf), moeFamilyTensors(hf, 'cohere2moe'))
  })

  it('cohere2moe without layer_norm_rms_epsilon: LayerNorms without bias at attention.layer_norm_epsilon, top-k renormalised by expert_weights_norm', async () => {
    const hf = await sigmoid((json) => ({...json, rms_norm_eps: undefined, layer_norm_eps: 1e-5, norm_topk_prob: true}))
    assert.deepEqual([hf.config.rmsVariant?.normMean, hf.config.moe?.normTopkProb], [true, true])
    await same(hf, 'cohere2moe-layernorm', withoutRms(metadata(hf)), moeFamilyTensors(hf, 'cohere2moe'))
  })

  it('refuses a malformed cohere2moe file, naming the key or tensor', async () => {
    const hf = await sigmoid()
    const tensors = moeFamilyTensors(hf, 'cohere2moe')
    const edited = (name: string, edit: (m: Record<string, GgufEntry>) => Record<string, GgufEntry>) => loadModel(write(name, edit(metadata(hf)), tensors))
    await assert.rejects(edited('c2m-softmax', (m) => ({...m, 'cohere2moe.expert_gating_func': {type: 'u32', value: 1}})), loadError(/cohere2moe\.expert_gating_func 1 is not supported: cohere2moe routes with sigmoid scores/))
    await assert.rejects(edited('c2m-scale', (m) => ({...m, 'cohere2moe.expert_weights_scale': {type: 'f32', value: 2.5}})), loadError(/cohere2moe\.expert_weights_scale 2\.5 is not supported/))
    await assert.rejects(edited('c2m-shexp', (m) => ({...m, 'cohere2moe.expert_shared_feed_forward_length': {type: 'u32', value: 64}})),
      loadError(/cohere2moe\.expert_shared_feed_forward_length 64 is not expert_shared_count x expert_feed_forward_length \(1 x 48\)/))
    await assert.rejects(edited('c2m-swa-base', (m) => ({...m, 'cohere2moe.rope.freq_base_swa': {type: 'f32', value: 50000}})), loadError(/cohere2moe\.rope\.freq_base_swa 50000 is not supported/))
    await assert.rejects(edited('c2m-no-pattern', (m) => Object.fromEntries(Object.entries(m).filter(([key]) => key !== 'cohere2moe.attention.sliding_window_pattern'))),
      loadError(/GGUF metadata cohere2moe\.attention\.sliding_window_pattern is missing/))
    await assert.rejects(edited('c2m-no-eps', (m) => Object.fromEntries(Object.entries(withoutRms(m)).filter(([key]) => key !== 'cohere2moe.attention.layer_norm_epsilon'))),
      loadError(/GGUF metadata cohere2moe\.attention\.layer_norm_epsilon is missing/))
    await assert.rejects(edited('c2m-short-pattern', (m) => ({...m, 'cohere2moe.attention.sliding_window_pattern': {type: 'bools', value: [true]}})),
      loadError(/cohere2moe\.attention\.sliding_window_pattern must hold one true\/false per layer \(2\)/))
    const noShared = tensors.filter((t) => t.name !== 'blk.1.ffn_down_shexp.weight')
    await assert.rejects(loadModel(write('c2m-no-shexp', metadata(hf), noShared)), loadError(/model\.layers\.1\.mlp\.shared_experts\.down_proj\.weight/))
  })

  it('refuses a dense prefix wider than the experts: the converter writes feed_forward_length as the experts\' width, which llama.cpp sizes it by', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'cohere2-moe'}), (json) => ({...json, expert_selection_fn: 'sigmoid'}))
    assert.ok(hf.config.intermediateSize > hf.config.moe!.expertIntermediateSize)
    await assert.rejects(loadModel(write('c2m-dense-prefix', metadata(hf), moeFamilyTensors(hf, 'cohere2moe'))), loadError(/model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight/))
  })
})

describe('GGUF glm4 files of GLM-4.1V\'s text (Glm4vForConditionalGeneration)', () => {
  const sections = [2, 1, 1] // the glm4v test checkpoint's mrope_section

  it('glm4 with rope.dimension_sections: q/k rows in the converter\'s NEOX order used as stored, the glm4v checkpoint\'s logits and transformers\' greedy tokens', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'glm4v'}))
    assert.deepEqual([hf.config.architecture, hf.config.rotaryDim, hf.config.sandwichNorms], ['Glm4ForCausalLM', 8, true])
    const {metadata, tensors} = glm4vTextGguf(hf, sections)
    await same(hf, 'glm4v-text', metadata, tensors)
    await checkDirAgainstTransformers(join(dir, 'glm4v-text.gguf'), readTransformersFixture('glm4v'))
  })

  it('refuses malformed sections, naming the key; without sections the rows are read as the checkpoint\'s (so differ)', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'glm4v'}))
    const {metadata, tensors} = glm4vTextGguf(hf, sections)
    await assert.rejects(loadModel(write('glm4v-bad-sections', {...metadata, 'glm4.rope.dimension_sections': {type: 'strings', value: ['t', 'h', 'w']}}, tensors)),
      loadError(/glm4\.rope\.dimension_sections must list up to 4 non-negative integers/))
    const {'glm4.rope.dimension_sections': _sections, ...plain} = metadata
    const unsectioned = await loadModel(write('glm4v-no-sections', plain, tensors))
    assert.ok(maxAbsDifference((await promptLogits(unsectioned, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) > 1e-3)
  })
})
