// GGUF phi3, gemma2 and gemma3 files, written from the HF test checkpoints as llama.cpp's converter writes them, load as
// those checkpoints: the same config, and the same logits at f32 and q8_0.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {writeGguf, type GgufFileFormat} from '../src/bench/peer/gguf-writer.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import type {GgufFile} from '../src/engine/model/gguf-file.js'
import {phi3GemmaGgufKeys} from '../src/engine/model/gguf-phi3-gemma.js'
import type {ModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const FORMATS: GgufFileFormat[] = ['f32', 'q8_0']

/** What a GGUF file holds otherwise than the checkpoint: the dtype name, numbers as f32, one eos id, Gemma norms with their 1 added. */
function comparable(c: ModelConfig): unknown {
  const rope = c.ropeScaling.type === 'longrope'
    ? {...c.ropeScaling, shortFactor: c.ropeScaling.shortFactor.map(Math.fround), longFactor: c.ropeScaling.longFactor.map(Math.fround), frequencyDivisors: c.ropeScaling.frequencyDivisors.map(Math.fround), attentionFactor: Math.fround(c.ropeScaling.attentionFactor)}
    : c.ropeScaling
  return {...c, modelType: '', torchDtype: '', rmsNormEps: Math.fround(c.rmsNormEps), eosTokenIds: [], normWeightOffset: 0, ropeScaling: rope, attnLogitSoftcap: Math.fround(c.attnLogitSoftcap), finalLogitSoftcap: Math.fround(c.finalLogitSoftcap)}
}

/** Writes `hf` as GGUF in each format and checks the file's config and its logits against the checkpoint's (loaded in the same format). */
async function checkRoundTrip(hf: LoadedModel, dir: string, name: string, reference: LoadedModel = hf): Promise<void> {
  for (const format of FORMATS) {
    const path = join(dir, `${name}-${format}.gguf`)
    writeGguf(hf, path, {format})
    const gguf = await loadModel(path)
    assert.deepEqual(comparable(gguf.config), comparable(hf.config), format)
    // The same bytes in the same order (fused tensors cut into windows of the file): bit-identical logits.
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(reference, format)).logits), 0, format)
  }
}

describe('GGUF phi3 / gemma2 / gemma3 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-phi3-gemma-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('phi3: fused attn_qkv and ffn_up (gate rows first), LongRoPE as rope_factors_short/long, a window on every layer', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'phi3'}))
    assert.equal(hf.config.ropeScaling.type, 'longrope')
    // llama.cpp stores the factors as F32: the checkpoint with its factors so rounded runs bit for bit as the file.
    const rope = hf.config.ropeScaling as Extract<ModelConfig['ropeScaling'], {type: 'longrope'}>
    const rounded = {...rope, shortFactor: rope.shortFactor.map(Math.fround), longFactor: rope.longFactor.map(Math.fround), frequencyDivisors: rope.frequencyDivisors.map(Math.fround)}
    await checkRoundTrip(hf, dir, 'phi3', {...hf, config: {...hf.config, ropeScaling: rounded}})
    const gguf = await loadModel(join(dir, 'phi3-f32.gguf'))
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
    assert.deepEqual([gguf.config.fusedProjections, gguf.config.layerWindows, gguf.config.maxPositionEmbeddings], [true, hf.config.layerWindows, hf.config.maxPositionEmbeddings])
    // Factors without the other half are refused by name, not run with a rope the file does not describe.
    const bytes = readFileSync(join(dir, 'phi3-f32.gguf'))
    bytes.write('rope_factors_lonX', bytes.indexOf('rope_factors_long.weight'), 'latin1')
    writeFileSync(join(dir, 'phi3-half.gguf'), bytes)
    await assert.rejects(loadModel(join(dir, 'phi3-half.gguf')), /phi3 LongRoPE needs rope_factors_short\.weight, rope_factors_long\.weight and phi3\.rope\.scaling\.original_context_length together/)
  })

  it('phi3 as Phi-3-mini-4k: no rope factors, a window on every layer; and Phi-4\'s window 0 as none', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'phi3'}), (json) => ({...json, rope_scaling: null, max_position_embeddings: 512}))
    await checkRoundTrip(hf, dir, 'phi3-4k')
    const none = await withConfig(await ensureTestModel('tiny', {variant: 'phi3'}), (json) => ({...json, rope_scaling: null, max_position_embeddings: 512, sliding_window: null}))
    writeGguf(none, join(dir, 'phi4.gguf'), {format: 'f32'})
    assert.equal((await loadModel(join(dir, 'phi4.gguf'))).config.layerWindows, undefined)
  })

  it('phi3 as Phi-4-mini: rope.dimension_count below the head size is its partial rotary, LongRoPE factors over the rotated values', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'phi3'}), (json) => ({...json, rope_scaling: null, max_position_embeddings: 512, partial_rotary_factor: 0.5}))
    assert.equal(hf.config.rotaryDim, hf.config.headDim / 2)
    await checkRoundTrip(hf, dir, 'phi3-partial')
    const quarter = (factors: number[]) => factors.slice(0, factors.length / 2).map(Math.fround)
    const longRope = await withConfig(await ensureTestModel('tiny', {variant: 'phi3'}), (json) => ({
      ...json, partial_rotary_factor: 0.5, rope_scaling: {...json.rope_scaling, short_factor: quarter(json.rope_scaling.short_factor), long_factor: quarter(json.rope_scaling.long_factor)},
    }))
    const rope = longRope.config.ropeScaling as Extract<ModelConfig['ropeScaling'], {type: 'longrope'}>
    assert.equal(rope.frequencyDivisors.length, longRope.config.rotaryDim! / 2)
    await checkRoundTrip(longRope, dir, 'phi3-partial-longrope', {...longRope, config: {...longRope.config, ropeScaling: {...rope, frequencyDivisors: rope.frequencyDivisors.map(Math.fround)}}})
  })

  it('gemma2: norms stored as 1 + weight, sandwich norms, soft caps, a window on every other layer, the attention scale llama.cpp implies', async () => {
    // llama.cpp scales scores by 1/sqrt(head size) (below 27B): the test checkpoint's query_pre_attn_scalar set to it.
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'gemma2'}), (json) => ({...json, query_pre_attn_scalar: json.head_dim}))
    assert.deepEqual([hf.config.layerWindows, hf.config.attnLogitSoftcap > 0, hf.config.finalLogitSoftcap > 0], [[16, 0], true, true])
    await checkRoundTrip(hf, dir, 'gemma2')
    // The checkpoint as it is (query_pre_attn_scalar 24, head size 32) is not written as a file llama.cpp would scale otherwise.
    const own = await loadModel(await ensureTestModel('tiny', {variant: 'gemma2'}))
    assert.throws(() => writeGguf(own, join(dir, 'bad.gguf'), {format: 'f32'}), /GGUF gemma2 files imply the attention scale 0\.17677\d+; this model's query_pre_attn_scalar gives 0\.2041\d+/)
  })

  it('gemma3: q/k norms, five sliding layers in six with rope base 10000, linear rope scaling on the full layers', async () => {
    // llama.cpp's gemma3 slides all but every 6th layer: six layers (the tiny checkpoint's two, thrice), pattern 6.
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'gemma3'}), (json) => ({...json, query_pre_attn_scalar: json.head_dim, num_hidden_layers: 6, sliding_window_pattern: 6}))
    assert.deepEqual([hf.config.layerWindows, hf.config.ropeLocalTheta, hf.config.ropeScaling.type, hf.config.qkNorm], [[8, 8, 8, 8, 8, 0], 10000, 'linear', true])
    await checkRoundTrip(hf, dir, 'gemma3')
    // A model whose windows llama.cpp's pattern cannot say is not written as a file that would run another model.
    const two = await loadModel(await ensureTestModel('tiny', {variant: 'gemma3'}))
    assert.throws(() => writeGguf({...two, config: {...two.config, attentionScale: 1 / Math.sqrt(two.config.headDim)}}, join(dir, 'bad.gguf'), {format: 'f32'}), /GGUF gemma3 files slide on all but every 6th layer/)
  })

  it('gemma3: attention.sliding_window_pattern, where a newer converter writes it, as a period or one bool per layer', () => {
    const file = {path: 'g3.gguf'} as GgufFile
    const keys = (pattern: unknown) => {
      const meta: Record<string, unknown> = {block_count: 4, embedding_length: 64, 'attention.head_count': 2, 'attention.sliding_window': 16, 'attention.sliding_window_pattern': pattern}
      return phi3GemmaGgufKeys('gemma3', (key) => meta[key], file)
    }
    assert.equal(keys(undefined).sliding_window_pattern, 6)
    assert.equal(keys(2).sliding_window_pattern, 2)
    assert.deepEqual(keys([true, false, true, false]).layer_types, ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'])
    for (const bad of [0, 1.5, [true, false], ['x', 'y', 'z', 'w']]) assert.throws(() => keys(bad), /gemma3\.attention\.sliding_window_pattern must be a positive period or one bool per layer \(4\)/)
  })
})
