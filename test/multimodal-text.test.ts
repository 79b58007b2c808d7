// The language model of vision-language checkpoints (Mistral3, Llava, LLaVA-NeXT, Idefics3 / SmolVLM, Qwen2-VL,
// Qwen2.5-VL, Qwen3-VL): text_config read as its family's config, the tower ignored, and each tiny checkpoint held to
// transformers 5.18's logits and greedy tokens (test/fixtures/<variant>-tiny-transformers.json).
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {languageModelTensorName} from '../src/engine/model/gemma3-config.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {MULTIMODAL_TEST_VARIANTS} from '../src/engine/model/multimodal-test-models.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const TEXT = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4}

describe('multimodal checkpoints as their language models', () => {
  it('reads text_config as its family (the config class\'s default family when it names none) and says images are not supported', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['Mistral3ForConditionalGeneration', {text_config: TEXT}, 'MistralForCausalLM'],
      ['LlavaForConditionalGeneration', {text_config: TEXT}, 'LlamaForCausalLM'],
      ['LlavaNextForConditionalGeneration', {text_config: {...TEXT, model_type: 'qwen2'}}, 'Qwen2ForCausalLM'],
      ['SmolVLMForConditionalGeneration', {text_config: {...TEXT, model_type: 'llama'}}, 'LlamaForCausalLM'],
      ['Idefics3ForConditionalGeneration', {text_config: TEXT}, 'LlamaForCausalLM'],
      ['Qwen2_5_VLForConditionalGeneration', {text_config: {...TEXT, model_type: 'qwen2_5_vl_text'}}, 'Qwen2ForCausalLM'],
      ['Qwen3VLForConditionalGeneration', {text_config: {...TEXT, model_type: 'qwen3_vl_text'}}, 'Qwen3ForCausalLM'],
    ]
    for (const [architecture, rest, text] of cases) {
      const c = parseModelConfig({architectures: [architecture], vision_config: {hidden_size: 8}, torch_dtype: 'bfloat16', eos_token_id: 2, ...rest})
      assert.deepEqual([c.architecture, c.torchDtype, c.eosTokenIds], [text, 'bfloat16', [2]], architecture)
      assert.match(c.notes!.at(-1)!, new RegExp(`^${architecture}: its language model runs text only .*images are not supported`))
    }
    // Qwen3VLTextConfig's defaults: head_dim 128, rope base 5e5, 128000 positions.
    const qwen3 = parseModelConfig({architectures: ['Qwen3VLForConditionalGeneration'], text_config: TEXT})
    assert.deepEqual([qwen3.headDim, qwen3.ropeTheta, qwen3.maxPositionEmbeddings, qwen3.qkNorm], [128, 5e5, 128000, true])
  })

  it('a flat Qwen2-VL config (text keys at the top level): mrope is plain rope for text, whatever its sections; Qwen2VLTextConfig\'s defaults', () => {
    const flat = {architectures: ['Qwen2VLForConditionalGeneration'], model_type: 'qwen2_vl', ...TEXT, vision_config: {depth: 1}}
    const c = parseModelConfig({...flat, rope_scaling: {type: 'mrope', mrope_section: [16, 24, 24]}})
    assert.deepEqual([c.architecture, c.ropeScaling, c.ropeTheta, c.rmsNormEps, c.attentionBias, c.layerWindows], ['Qwen2ForCausalLM', {type: 'none'}, 1e6, 1e-5, true, undefined])
    const v5 = parseModelConfig({...flat, rope_parameters: {rope_type: 'default', rope_theta: 1e4, mrope_section: [2, 3, 3], mrope_interleaved: true}})
    assert.deepEqual([v5.ropeScaling, v5.ropeTheta], [{type: 'none'}, 1e4])
    assert.throws(() => parseModelConfig({...flat, rope_scaling: {type: 'mrope', mrope_section: 'all'}}), loadError(/"rope_scaling\.mrope_section" must list non-negative integers, got "all"/))
  })

  it('ties as transformers reads it (either level\'s true), else the text family\'s default', () => {
    const of = (top: unknown, text: unknown) => parseModelConfig({architectures: ['Mistral3ForConditionalGeneration'], ...(top === undefined ? {} : {tie_word_embeddings: top}), text_config: {...TEXT, ...(text === undefined ? {} : {tie_word_embeddings: text})}}).tieWordEmbeddings
    assert.deepEqual([of(undefined, undefined), of(true, undefined), of(false, true), of(undefined, false), of(false, undefined)], [false, true, true, false, false])
  })

  it('refuses a text_config it cannot run or none, naming it', () => {
    assert.throws(() => parseModelConfig({architectures: ['LlavaForConditionalGeneration'], text_config: {...TEXT, model_type: 'vicuna_xl'}}),
      loadError(/LlavaForConditionalGeneration's text_config has model_type "vicuna_xl", which this engine does not run \(it runs: llama, mistral/))
    assert.throws(() => parseModelConfig({architectures: ['Mistral3ForConditionalGeneration'], ...TEXT}), loadError(/Mistral3ForConditionalGeneration needs a "text_config" object/))
    assert.throws(() => parseModelConfig({architectures: ['Qwen3VLForConditionalGeneration'], text_config: 'qwen3'}), loadError(/"text_config" of Qwen3VLForConditionalGeneration must be an object, got "qwen3"/))
  })

  it('finds the language model under each saved layout (transformers 4, 5, Idefics3\'s text_model); the tower keeps its names', () => {
    assert.deepEqual(['language_model.model.layers.0.mlp.up_proj.weight', 'language_model.lm_head.weight', 'model.language_model.norm.weight', 'model.text_model.embed_tokens.weight', 'model.visual.blocks.0.attn.qkv.weight', 'vision_tower.x'].map(languageModelTensorName),
      ['model.layers.0.mlp.up_proj.weight', 'lm_head.weight', 'model.norm.weight', 'model.embed_tokens.weight', 'model.visual.blocks.0.attn.qkv.weight', 'vision_tower.x'])
  })
})

describe('a processor\'s chat_template.json', () => {
  it('is the template when the tokenizer has none (LLaVA\'s, Mistral Small 3.1\'s layout); tokenizer_config.json\'s wins; a non-string is named', async () => {
    const source = await ensureTestModel('tiny', {variant: 'llava'})
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-processor-template-'))
    try {
      const {chat_template: _own, ...config} = JSON.parse(readFileSync(join(source, 'tokenizer_config.json'), 'utf8'))
      writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(source, 'tokenizer.json')))
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
      writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({chat_template: "{{ messages[0]['content'] }} from the processor"}))
      assert.equal(Tokenizer.load(dir).applyChatTemplate([{role: 'user', content: 'hi'}]), 'hi from the processor')
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({...config, chat_template: "{{ messages[0]['content'] }} from the tokenizer"}))
      assert.equal(Tokenizer.load(dir).applyChatTemplate([{role: 'user', content: 'hi'}]), 'hi from the tokenizer')
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
      writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({chat_template: 7}))
      assert.throws(() => Tokenizer.load(dir), loadError(/chat_template\.json: "chat_template" must be a string, got 7/))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('Ministral 3', () => {
  it('as Ministral3Config reads it: YaRN x16 over 16384 by default, the context capped where Llama 4\'s query scale starts, no window unless set', () => {
    const base = {architectures: ['Ministral3ForCausalLM'], ...TEXT, num_attention_heads: 16}
    const c = parseModelConfig(base)
    assert.deepEqual([c.headDim, c.numKvHeads, c.ropeTheta, c.ropeScaling.type, c.maxPositionEmbeddings, c.layerWindows, c.rmsNormEps], [128, 8, 1e6, 'yarn', 16384, undefined, 1e-5])
    assert.match(c.notes!.join(' '), /capped at 16384 tokens .* 1 \+ llama_4_scaling_beta \* log\(1 \+ floor\(position \/ 16384\)\)/)
    const unscaled = parseModelConfig({...base, rope_parameters: {rope_type: 'default', rope_theta: 1e4}, sliding_window: 32})
    assert.deepEqual([unscaled.maxPositionEmbeddings, unscaled.ropeScaling, unscaled.layerWindows], [262144, {type: 'none'}, [32, 32]])
    assert.throws(() => parseModelConfig({...base, rope_parameters: {rope_type: 'default', rope_theta: 1e4, llama_4_scaling_beta: 0.1}}),
      loadError(/"rope_parameters\.llama_4_scaling_beta" needs a positive integer "original_max_position_embeddings"/))
    assert.throws(() => parseModelConfig({...base, rope_parameters: {rope_type: 'default', llama_4_scaling_beta: 'x'}}), loadError(/llama_4_scaling_beta" must be a number, got "x"/))
  })
})

for (const variant of MULTIMODAL_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens; runs on CUDA too`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), readTransformersFixture(variant))
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      assert.equal(cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []}), null)
    })
  })
}
