// Checkpoints transformers saved itself (scripts/hf-saved-crosscheck.py runs the whole matrix; these are the fixed bugs).
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, type TransformersFixture} from './support/transformers-fixture.js'

describe('a Llama checkpoint with attention_bias (q/k/v and o_proj biases), saved by transformers 5.18 in bf16', () => {
  it('matches transformers float32 eager: top-10 last-position logits, 8 greedy tokens', async () => {
    const fixture = join(import.meta.dirname, 'fixtures', 'llama-attention-bias-transformers')
    const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as TransformersFixture
    // The fixture holds the weights; the tiny llama test model's 512-token tokenizer goes beside them.
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-llama-attention-bias-'))
    try {
      const tokenizerDir = await ensureTestModel('tiny', {variant: 'llama'})
      for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(tokenizerDir, file), join(dir, file))
      for (const file of ['config.json', 'model.safetensors']) cpSync(join(fixture, file), join(dir, file))
      const {config} = await loadModel(dir)
      assert.deepEqual([config.attentionBias, config.attentionOutputBias], [true, true])
      await checkDirAgainstTransformers(dir, expected)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('is ignored where transformers ignores it (Mistral, Mixtral, Phi-3) and refused by name on the variants (Granite)', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, attention_bias: true}
    for (const architecture of ['MistralForCausalLM', 'MixtralForCausalLM', 'Phi3ForCausalLM']) {
      const config = parseModelConfig({...base, architectures: [architecture], num_local_experts: 4, num_experts_per_tok: 2})
      assert.deepEqual([config.attentionBias, config.attentionOutputBias], [false, undefined], architecture)
    }
    assert.throws(() => parseModelConfig({...base, architectures: ['GraniteForCausalLM']}), (error: unknown) =>
      error instanceof ModelLoadError && /attention_bias=true .* is not supported for GraniteForCausalLM/.test(error.message))
  })

  it('mlp_bias: refused by name where transformers reads it (Llama, Granite, SmolLM3), ignored where it does not (Qwen3, Gemma)', () => {
    const base = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, mlp_bias: true}
    assert.throws(() => parseModelConfig({...base, architectures: ['LlamaForCausalLM']}), (error: unknown) =>
      error instanceof ModelLoadError && /mlp_bias=true is not supported for LlamaForCausalLM/.test(error.message))
    for (const architecture of ['Qwen3ForCausalLM', 'GemmaForCausalLM']) assert.equal(parseModelConfig({...base, architectures: [architecture]}).architecture, architecture)
  })
})
