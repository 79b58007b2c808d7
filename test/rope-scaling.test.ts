// rope_scaling variants beyond linear/llama3: yarn (Qwen2.5 long context), longrope (Phi-3) and dynamic NTK parse as
// transformers 5.18 computes them, run in the native kernels as the float64 reference does, and bad settings are refused by key.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {longRopeForContext} from '../src/engine/model/rope-scaling.js'
import {nativeOps} from '../src/engine/native.js'
import {ropeInverseFrequencies} from './support/reference-model.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {relativeError} from './support/relative-error.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'

const BASE = {
  architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 1,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, max_position_embeddings: 4096, rope_theta: 10000,
}
const SHORT = [1, 1.1, 1.2, 1.5, 2, 2.5, 3, 4]
const LONG = [2, 2, 2, 3, 4, 5, 6, 8]
const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const parse = (extra: Record<string, unknown>) => parseModelConfig({...BASE, ...extra})

/** The inverse frequencies the kernels get: theta^(-2i/d) divided by the parsed divisors. */
function kernelFrequencies(divisors: number[]): number[] {
  return divisors.map((divisor, i) => 1 / (10000 ** ((2 * i) / 16) * divisor))
}

describe('rope_scaling: yarn, longrope, dynamic', () => {
  it('yarn: attention factor as transformers 5.18 gives it (0.1 ln(factor) + 1, mscale / mscale_all_dim, explicit), frequencies as the reference recomputes them', () => {
    // Values printed by transformers' _compute_yarn_parameters for these configs.
    const cases: [Record<string, unknown>, number][] = [
      [{type: 'yarn', factor: 4, original_max_position_embeddings: 1024}, 1.138629436111989],
      [{type: 'yarn', factor: 8, original_max_position_embeddings: 512, beta_fast: 16, beta_slow: 2, truncate: false}, 1.2079441541679836],
      [{rope_type: 'yarn', factor: 40, original_max_position_embeddings: 4096, mscale: 1.0, mscale_all_dim: 0.707}, 1.0857263992561355],
      [{rope_type: 'yarn', factor: 2, attention_factor: 0.9}, 0.9],
    ]
    for (const [ropeScaling, attentionFactor] of cases) {
      const scaling = parse({rope_scaling: ropeScaling}).ropeScaling
      assert.equal(scaling.type, 'yarn')
      if (scaling.type !== 'yarn') continue
      assert.ok(Math.abs(scaling.attentionFactor - attentionFactor) < 1e-12, `${JSON.stringify(ropeScaling)}: ${scaling.attentionFactor}`)
      assert.ok(relativeError(kernelFrequencies(scaling.frequencyDivisors), ropeInverseFrequencies(16, 10000, scaling)) < 1e-12)
      // Some frequencies are interpolated (divided by the factor), some kept.
      assert.equal(Math.max(...scaling.frequencyDivisors), scaling.factor)
    }
    // truncate: false keeps the correction range's fractional edges, so a divisor between 1 and the factor differs.
    const [rounded, exact] = [true, false].map((truncate) => parse({rope_scaling: {type: 'yarn', factor: 8, original_max_position_embeddings: 512, truncate}}).ropeScaling)
    assert.notDeepEqual(rounded, {...exact, truncate: true})
  })

  it('longrope (and its old name su): short_factor, the attention factor from max / original context, the context capped to the original', () => {
    const config = parse({architectures: ['LlamaForCausalLM'], original_max_position_embeddings: 1024, rope_scaling: {type: 'longrope', short_factor: SHORT, long_factor: LONG}})
    assert.equal(config.ropeScaling.type, 'longrope')
    if (config.ropeScaling.type !== 'longrope') return
    assert.deepEqual(config.ropeScaling.frequencyDivisors, SHORT)
    assert.ok(Math.abs(config.ropeScaling.attentionFactor - 1.0954451150103321) < 1e-12) // sqrt(1 + ln 4 / ln 1024), as transformers
    assert.equal(config.maxPositionEmbeddings, 1024)
    assert.match(config.notes!.join('\n'), /context capped to original_max_position_embeddings 1024/)
    const su = parse({rope_scaling: {type: 'su', short_factor: SHORT, long_factor: LONG, original_max_position_embeddings: 4096, attention_factor: 1.3}})
    assert.deepEqual([su.ropeScaling.type, su.maxPositionEmbeddings, su.notes], ['longrope', 4096, undefined])
  })

  it('longrope with --max-model-len past the original context: long_factor at every position, up to max_position_embeddings', () => {
    const config = parse({original_max_position_embeddings: 1024, rope_scaling: {type: 'longrope', short_factor: SHORT, long_factor: LONG}})
    // Before, the context stayed capped to 1024 whatever was asked.
    const long = longRopeForContext(config, 2048)
    assert.equal(long.maxPositionEmbeddings, 2048)
    assert.deepEqual(long.ropeScaling.type === 'longrope' && long.ropeScaling.frequencyDivisors, LONG)
    assert.equal(long.ropeScaling.type === 'longrope' && long.ropeScaling.attentionFactor, config.ropeScaling.type === 'longrope' && config.ropeScaling.attentionFactor)
    assert.doesNotMatch(long.notes!.join('\n'), /context capped/)
    assert.match(long.notes!.join('\n'), /--max-model-len 2048 passes original_max_position_embeddings 1024, so long_factor/)
    assert.equal(longRopeForContext(config, 100_000).maxPositionEmbeddings, 4096)
    for (const requested of [undefined, 512, 1024]) assert.equal(longRopeForContext(config, requested), config)
    const withinOriginal = parse({original_max_position_embeddings: 4096, rope_scaling: {type: 'longrope', short_factor: SHORT, long_factor: LONG}})
    assert.equal(longRopeForContext(withinOriginal, 8192), withinOriginal)
  })

  it('dynamic: the unscaled rope within max_position_embeddings (transformers rescales only past it), said at load', () => {
    const config = parse({rope_scaling: {rope_type: 'dynamic', factor: 2}})
    assert.deepEqual([config.ropeScaling, config.maxPositionEmbeddings], [{type: 'none'}, 4096])
    assert.match(config.notes!.join('\n'), /"dynamic": within max_position_embeddings \(4096/)
  })

  it('refuses what it cannot compute, naming the key', () => {
    assert.throws(() => parse({rope_scaling: {type: 'longrope', short_factor: SHORT.slice(1), long_factor: LONG, original_max_position_embeddings: 64}}), loadError(/"short_factor" must list 8 positive numbers/))
    assert.throws(() => parse({rope_scaling: {type: 'longrope', short_factor: SHORT, long_factor: [...LONG.slice(1), -1], original_max_position_embeddings: 64}}), loadError(/"long_factor"/))
    assert.throws(() => parse({rope_scaling: {type: 'yarn', original_max_position_embeddings: 64}}), loadError(/"yarn" needs a positive "factor"/))
    assert.throws(() => parse({rope_scaling: {type: 'yarn', factor: 4, truncate: 'yes'}}), loadError(/"truncate" must be a boolean/))
    assert.throws(() => parse({rope_scaling: {type: 'yarn', factor: 4, mscale: -1}}), loadError(/"mscale"/))
    assert.throws(() => parse({rope_scaling: {type: 'dynamic'}}), loadError(/"dynamic" needs a positive "factor"/))
    assert.throws(() => parse({rope_scaling: {type: 'ntk-by-parts', factor: 2}}), loadError(/"ntk-by-parts" is not supported \(supported: linear, llama3, dynamic, yarn, longrope\)/))
  })

  it('the rope kernel applies per-frequency divisors and the cos/sin factor', () => {
    const ops = nativeOps()
    const headDim = 16, rows = 3, positions = Int32Array.from([0, 5, 900])
    const x = Float32Array.from({length: rows * headDim}, (_, i) => Math.sin(i * 1.7))
    const ropeScaling = {type: 'longrope' as const, originalMaxPosition: 1024, maxPosition: 4096, shortFactor: SHORT, longFactor: LONG, frequencyDivisors: SHORT, attentionFactor: 1.25}
    const actual = x.slice()
    ops.rope(actual, rows, headDim, 1, positions, {headDim, ropeTheta: 10000, ropeScaling})
    const inv = ropeInverseFrequencies(headDim, 10000, ropeScaling)
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < headDim / 2; i++) {
        const angle = positions[r]! * inv[i]!
        const [a, b] = [x[r * headDim + i]!, x[r * headDim + i + headDim / 2]!]
        assert.ok(Math.abs(actual[r * headDim + i]! - 1.25 * (a * Math.cos(angle) - b * Math.sin(angle))) < 1e-5)
        assert.ok(Math.abs(actual[r * headDim + i + headDim / 2]! - 1.25 * (b * Math.cos(angle) + a * Math.sin(angle))) < 1e-5)
      }
    }
  })

  it('a YaRN checkpoint (Qwen2.5 style): logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
    await checkAgainstReference('yarn')
  })

  it('the YaRN checkpoint matches transformers 5.18 (test/fixtures/yarn-tiny-transformers.json): top-10 logits, 8 greedy tokens', async () => {
    await checkAgainstTransformers('yarn')
  })
})
