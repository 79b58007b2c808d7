// Checkpoints transformers saved itself (scripts/hf-saved-crosscheck.py runs the whole matrix; these are the fixed bugs).
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig, type ModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ReferenceModel} from './support/reference-model.js'
import {relativeError} from './support/relative-error.js'
import {checkDirAgainstTransformers, type TransformersFixture} from './support/transformers-fixture.js'

/**
 * A fixture directory (config + weights) with the tiny llama test model's 512-token tokenizer beside it, loaded and held
 * to its expected.json; `editConfig` changes its config.json first (keys transformers ignores); `withReference`: the
 * float64 reference model (test/support/reference-model.ts) held to the same top-10 logits too.
 */
async function checkFixture(name: string, configOf: (config: ModelConfig) => unknown, expectedConfig: unknown, editConfig?: (config: Record<string, unknown>) => void,
  withReference = false): Promise<void> {
  const fixture = join(import.meta.dirname, 'fixtures', `${name}-transformers`)
  const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as TransformersFixture
  const dir = mkdtempSync(join(tmpdir(), `pagedllm-${name}-`))
  try {
    const tokenizerDir = await ensureTestModel('tiny', {variant: 'llama'})
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(tokenizerDir, file), join(dir, file))
    for (const file of readdirSync(fixture)) if (file !== 'expected.json') cpSync(join(fixture, file), join(dir, file))
    if (editConfig) {
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
      editConfig(config)
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config))
    }
    const {config} = await loadModel(dir)
    assert.deepEqual(configOf(config), expectedConfig)
    await checkDirAgainstTransformers(dir, expected)
    if (withReference) {
      const reference = await ReferenceModel.load(dir)
      for (const {prompt_token_ids: ids, last_position_top10: top} of expected.prompts) {
        const logits = reference.nextLogits(ids)
        assert.ok(relativeError(top.ids.map((id) => logits[id]!), top.logits) < 1e-4, `${name}: the float64 reference's top-10 logits`)
      }
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('a Llama checkpoint with attention_bias (q/k/v and o_proj biases), saved by transformers 5.18 in bf16', () => {
  it('matches transformers float32 eager: top-10 last-position logits, 8 greedy tokens', async () => {
    await checkFixture('llama-attention-bias', (config) => [config.attentionBias, config.attentionOutputBias], [true, true])
  })

  it('is ignored where transformers ignores it (Mistral, Mixtral, Phi-3), read by the variants (Granite, OLMo, SmolLM3, Cohere, Cohere2)', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, attention_bias: true}
    for (const architecture of ['MistralForCausalLM', 'MixtralForCausalLM', 'Phi3ForCausalLM']) {
      const config = parseModelConfig({...base, architectures: [architecture], num_local_experts: 4, num_experts_per_tok: 2})
      assert.deepEqual([config.attentionBias, config.attentionOutputBias], [false, undefined], architecture)
    }
    for (const architecture of ['GraniteForCausalLM', 'Olmo2ForCausalLM', 'OlmoForCausalLM', 'SmolLM3ForCausalLM', 'CohereForCausalLM', 'Cohere2ForCausalLM'])
      assert.equal(parseModelConfig({...base, architectures: [architecture]}).attentionOutputBias, true, architecture)
  })

  it('a Granite checkpoint with them (and its four multipliers) matches transformers float32 eager (scripts/hf-config-sweep.py found it refused)', async () => {
    await checkFixture('granite-attention-bias', (config) => [config.attentionBias, config.attentionOutputBias], [true, true])
  })

  it('Cohere and Cohere2 checkpoints with them match transformers float32 eager: q/k biases reordered with their rows for the interleaved rope', async () => {
    await checkFixture('cohere-attention-bias', (config) => [config.attentionBias, config.attentionOutputBias, config.rmsVariant!.parallelBlock], [true, true, true])
    await checkFixture('cohere2-attention-bias', (config) => [config.attentionOutputBias, config.layerWindows], [true, [4, 0]])
  })

  it("a Cohere checkpoint with use_qk_norm (Command R+'s per-head q/k LayerNorms, their weights reordered with the rows) matches transformers float32 eager; CUDA runs it too", async () => {
    const onCuda = (config: ModelConfig) => cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []}) === null
    await checkFixture('cohere-qk-norm', (config) => [config.qkNorm, config.rmsVariant!.headMeanQkNorm, onCuda(config)], [true, true, true], undefined, true)
  })

})

// Fixtures written by scripts/saved-checkpoint-fixtures.py.
describe('mlp_bias (Llama, Granite, SmolLM3: gate, up and down biases)', () => {
  it('a Llama checkpoint with them matches transformers float32 eager', async () => {
    await checkFixture('llama-mlp-bias', (config) => config.mlpBias, true)
  })

  it('is read where transformers reads it, ignored where it does not (Qwen3, Gemma)', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, mlp_bias: true}
    for (const architecture of ['LlamaForCausalLM', 'GraniteForCausalLM', 'SmolLM3ForCausalLM']) assert.equal(parseModelConfig({...base, architectures: [architecture]}).mlpBias, true, architecture)
    for (const architecture of ['Qwen3ForCausalLM', 'GemmaForCausalLM']) assert.equal(parseModelConfig({...base, architectures: [architecture]}).mlpBias, undefined, architecture)
  })
})

describe('partial_rotary_factor on the RMSNorm path (Phi-4-mini: 0.75)', () => {
  it('a Phi-3 checkpoint rotating 6 of 8 values per head, LongRoPE factors for those 6, matches transformers float32 eager', async () => {
    await checkFixture('phi3-partial-rotary-longrope', (config) => [config.rotaryDim, config.ropeScaling.type], [6, 'longrope'])
  })

  it('elsewhere: ignored with the default rope, refused with a scaled one (transformers fails there), bad values refused by name', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, partial_rotary_factor: 0.5}
    assert.equal(parseModelConfig({...base, architectures: ['LlamaForCausalLM']}).rotaryDim, undefined)
    assert.equal(parseModelConfig({...base, architectures: ['Phi3ForCausalLM']}).rotaryDim, 8)
    const refused = (config: Record<string, unknown>, pattern: RegExp) =>
      assert.throws(() => parseModelConfig({...base, ...config}), (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message))
    refused({architectures: ['Qwen2ForCausalLM'], rope_scaling: {rope_type: 'linear', factor: 2}}, /partial_rotary_factor 0.5 with "linear" rope is not supported for Qwen2ForCausalLM/)
    refused({architectures: ['Phi3ForCausalLM'], partial_rotary_factor: 1.5}, /"partial_rotary_factor" must be a number in \(0, 1\]/)
    refused({architectures: ['Phi3ForCausalLM'], partial_rotary_factor: 0.35}, /rotates 5 of 16 values per head; a positive even count is needed/)
  })
})

describe('ALiBi\'s architectures as transformers saves them (bf16, tied heads)', () => {
  it('BLOOM, Falcon\'s new_decoder_architecture (grouped query_key_value, ln_attn / ln_mlp, biases) and MPT with clip_qkv match transformers float32 eager', async () => {
    await checkFixture('bloom-tied', (config) => [config.tieWordEmbeddings, config.layerNorm!.embedNorm], [true, true])
    await checkFixture('falcon-new-decoder', (config) => [config.numKvHeads, config.layerNorm!.parallelResidual, config.layerNorm!.qkvBias], [2, true, true])
    await checkFixture('mpt-clip-qkv', (config) => [config.layerNorm!.clipQkv, config.layerNorm!.normBias], [0.5, false])
  })

  it('MPT saved by transformers with expansion_ratio 2: its MLP is 4 x d_model all the same (MptMLP ignores the key), read from the tensors', async () => {
    await checkFixture('mpt-clip-qkv', (config) => [config.intermediateSize, config.notes?.some((note) => /MPT's expansion_ratio implies an MLP 32 wide, the checkpoint's is 64/.test(note))], [64, true],
      (config) => (config.expansion_ratio = 2))
  })
})

describe('PyTorch\'s pytorch_model.bin as transformers 4 saved it (torch.save of the state dict), fp16', () => {
  it('loads through the restricted unpickler, its tied lm_head a view of the embedding\'s storage, and matches transformers float32 eager', async () => {
    await checkFixture('llama-tied-bin', (config) => config.tieWordEmbeddings, true)
  })
})

describe('gated MLP activations besides silu / gelu_pytorch_tanh (found by scripts/hf-config-sweep.py)', () => {
  it('Llama with hidden_act relu and Gemma 2 with hidden_activation gelu (erf, not the tanh form) match transformers float32 eager', async () => {
    await checkFixture('llama-act-relu', (config) => config.hiddenAct, 'relu')
    await checkFixture('gemma2-act-gelu', (config) => config.hiddenAct, 'gelu')
  })

  it('reads transformers\' ACT2FN aliases, keeps Gemma 1\'s legacy "gelu" as the tanh form, and refuses others by name', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4}
    const act = (architecture: string, config: Record<string, unknown>) => parseModelConfig({...base, architectures: [architecture], ...config}).hiddenAct
    assert.deepEqual(['swish', 'gelu_new', 'gelu_fast', 'gelu_python'].map((name) => act('LlamaForCausalLM', {hidden_act: name})), ['silu', 'gelu_pytorch_tanh', 'gelu_pytorch_tanh', 'gelu'])
    assert.equal(act('GemmaForCausalLM', {hidden_act: 'gelu'}), 'gelu_pytorch_tanh')
    assert.equal(act('StableLmForCausalLM', {hidden_act: 'relu', num_key_value_heads: 4}), 'relu')
    assert.throws(() => act('Qwen2ForCausalLM', {hidden_act: 'quick_gelu'}), (error: unknown) =>
      error instanceof ModelLoadError && /hidden_act "quick_gelu" is not supported \(silu, gelu, gelu_pytorch_tanh, relu, relu2, or an ACT2FN alias of one: swish, gelu_python/.test(error.message))
  })
})

describe('rope scaling on the LayerNorm family (over the rotated values only, as transformers computes it)', () => {
  it('a GPT-NeoX checkpoint with linear scaling (factor 3) on half of each head matches transformers float32 eager', async () => {
    await checkFixture('gpt-neox-linear-rope', (config) => [config.layerNorm!.rotaryDim, config.ropeScaling], [4, {type: 'linear', factor: 3}])
  })

  it('a Phi checkpoint with yarn (ramp and attention factor over its 8 rotated values) matches transformers float32 eager', async () => {
    await checkFixture('phi-yarn-rope', (config) => [config.layerNorm!.rotaryDim, config.ropeScaling.type, config.ropeScaling.type === 'yarn' && config.ropeScaling.frequencyDivisors.length], [8, 'yarn', 4])
  })
})
