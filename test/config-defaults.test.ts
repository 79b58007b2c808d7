// Every family's config read as transformers 5.18's config class reads it when config.json gives only the sizes
// (test/fixtures/config-defaults-transformers.json, scripts/config-defaults-fixture.py): norm eps, rope base and type,
// context, tied embeddings and head size. Not num_key_value_heads: absent, it is the head count here (several classes
// default to a fixed count, 8 for Mistral, which a multimodal text class overrides; every released config gives it).
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, it} from 'node:test'
import {parseModelConfig} from '../src/engine/model/model-config.js'

interface Defaults {norm_eps: number | null; rope_theta: number; rope_type: string; max_position_embeddings: number; tie_word_embeddings: boolean; num_key_value_heads: number | null; head_dim: number | null}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/config-defaults-transformers.json', import.meta.url), 'utf8')) as {sizes: Record<string, number>; defaults: Record<string, Defaults>}
const {sizes} = fixture

/** Where the engine reads a key apart from the class, and why. */
const APART: Record<string, (keyof Defaults)[]> = {
  // Per-layer head sizes and proportional rope: gemma4-config.ts reads them per layer type.
  Gemma4ForCausalLM: ['rope_type', 'head_dim'],
  // The context is capped at the original 16384 positions (ministral3-config.ts).
  Ministral3ForCausalLM: ['max_position_embeddings'],
  // Latent attention: every head's K and V hold qk_nope + qk_rope values (deepseek-config.ts), not head_dim.
  DeepseekV3ForCausalLM: ['head_dim'],
  MiniCPM3ForCausalLM: ['head_dim'],
  Glm4MoeLiteForCausalLM: ['head_dim'],
  YoutuForCausalLM: ['head_dim'],
  AXK1ForCausalLM: ['head_dim'],
  // The context is capped at the original 8192 positions, where Llama 4's query scale starts (mistral4-config.ts).
  Mistral4ForCausalLM: ['max_position_embeddings'],
}
/** Classes whose defaults cannot build a model (num_experts_per_tok, n_routed_experts None): refused by the parser. */
const UNBUILDABLE = new Set(['DeepseekV2ForCausalLM', 'Dots1ForCausalLM'])

describe('config-class defaults', () => {
  it('every family reads an absent key as its transformers config class does', () => {
    const differences: string[] = []
    for (const [architecture, want] of Object.entries(fixture.defaults)) {
      if (UNBUILDABLE.has(architecture)) {
        assert.throws(() => parseModelConfig({architectures: [architecture], ...sizes}), /experts/)
        continue
      }
      const c = parseModelConfig({architectures: [architecture], ...sizes})
      const got: Defaults = {norm_eps: c.rmsNormEps, rope_theta: c.ropeTheta, rope_type: c.ropeScaling.type === 'none' ? 'default' : c.ropeScaling.type, max_position_embeddings: c.maxPositionEmbeddings,
        tie_word_embeddings: c.tieWordEmbeddings, num_key_value_heads: c.numKvHeads, head_dim: c.headDim}
      const expected: Defaults = {...want, num_key_value_heads: want.num_key_value_heads ?? sizes.num_attention_heads!, head_dim: want.head_dim ?? sizes.hidden_size! / sizes.num_attention_heads!}
      for (const key of Object.keys(expected) as (keyof Defaults)[]) {
        if (key === 'num_key_value_heads' || expected[key] === null || APART[architecture]?.includes(key)) continue // OLMo's eps: fixed, no key
        if (got[key] !== expected[key]) differences.push(`${architecture} ${key}: ${got[key]}, transformers ${expected[key]}`)
      }
    }
    assert.deepEqual(differences, [])
  })

  it('covers the families the fixes are for', () => {
    assert.equal(parseModelConfig({architectures: ['HunYuanDenseV1ForCausalLM'], ...sizes}).rmsNormEps, 1e-5)
    assert.equal(parseModelConfig({architectures: ['Ernie4_5ForCausalLM'], ...sizes}).ropeTheta, 500000)
    // A base in rope_parameters (transformers 5's place) wins over the class default.
    assert.equal(parseModelConfig({architectures: ['Ernie4_5ForCausalLM'], ...sizes, rope_parameters: {rope_type: 'default', rope_theta: 1e4}}).ropeTheta, 1e4)
  })
})
