// GGUF gemma4 files (Gemma 4 as llama.cpp's converter writes it), written from the HF test checkpoints: the same layers,
// the HF path's logits bit for bit at f32 (and the checkpoint's q8_0 run at q8_0), transformers' greedy tokens, the
// "gemma4" tokenizer as llama.cpp runs it, and malformed files refused by key or tensor.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import type {GgufValue} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {gemma4GgufBytes, gemma4RopeFreqs, type Gemma4GgufOptions} from './support/gemma4-gguf.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

/** What tells the runs apart, to be the same in the file as in the checkpoint. */
function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.gemma4, c.headDim, c.numKvHeads, c.ropeTheta, c.layerWindows, c.tieWordEmbeddings, Math.fround(c.rmsNormEps), Math.fround(c.finalLogitSoftcap), c.normWeightOffset, c.attentionScale]
}

describe('GGUF gemma4 files', () => {
  const {dir} = ggufScratch('pagedllm-gguf-gemma4-')
  const write = (hf: LoadedModel, name: string, options: Gemma4GgufOptions = {}): string => {
    const path = join(dir, `${name}.gguf`)
    writeFileSync(path, gemma4GgufBytes(hf, options))
    return path
  }

  // gemma4: per-layer inputs, KV-shared double-wide layers; gemma4-keqv: keys as values on a wider full layer with its
  // own KV head count; gemma4-moe: the MoE block beside each dense MLP.
  for (const variant of ['gemma4', 'gemma4-keqv', 'gemma4-moe'] as const) {
    it(`${variant}: the checkpoint's layers and logits (f32 and q8_0, bit for bit), transformers' greedy tokens`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const path = write(hf, variant)
      const gguf = await loadModel(path)
      assert.deepEqual(features(gguf), features(hf))
      // The checkpoint's numbers in the same order (the experts' windows restacked): the same logits, not just close ones.
      assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)
      const q8_0 = await loadModel(write(hf, `${variant}-q8_0`, {q8_0: true}))
      assert.equal(maxAbsDifference((await promptLogits(q8_0, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
      await checkDirAgainstTransformers(path, readTransformersFixture(variant))
    })
  }

  it('the full layers\' rope as rope_freqs.weight says: a factor on the turning pairs, or (no tensor) every pair turning', async () => {
    const dirOf = await ensureTestModel('tiny', {variant: 'gemma4'})
    const full = (rope: Record<string, unknown>) => (json: Record<string, any>) => ({...json, rope_parameters: {...json.rope_parameters, full_attention: rope}})
    const scaled = await withConfig(dirOf, full({rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 1e6, factor: 2}))
    const withFactor = await loadModel(write(scaled, 'factor', {tensors: (t) => [gemma4RopeFreqs(scaled, 2), ...t.filter((x) => x.name !== 'rope_freqs.weight')]}))
    assert.equal(withFactor.config.gemma4!.fullRopeFactor, 2)
    assert.ok(maxAbsDifference((await promptLogits(withFactor, 'f32')).logits, (await promptLogits(scaled, 'f32')).logits) < 1e-5)
    const plain = await withConfig(dirOf, full({rope_type: 'default', rope_theta: 1e6}))
    const everyPair = await loadModel(write(plain, 'no-freqs', {tensors: (t) => t.filter((x) => x.name !== 'rope_freqs.weight')}))
    assert.equal(everyPair.config.gemma4!.fullRopeAngles, everyPair.config.gemma4!.layers[1]!.headDim / 2)
    assert.ok(maxAbsDifference((await promptLogits(everyPair, 'f32')).logits, (await promptLogits(plain, 'f32')).logits) < 1e-5)
  })

  it('the "gemma4" tokenizer: spaces as ▁ with no dummy prefix, the file\'s merges, BOS always, newline runs apart', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gemma4'}))
    const gguf = await loadModel(write(hf, 'tokenizer'))
    // The test vocabulary's own SentencePiece tokenizer writes the ▁ of a leading space itself; gemma4 takes the text's.
    for (const text of ['Hello world', 'the cat sat on the mat']) {
      assert.deepEqual(gguf.tokenizer.encode(` ${text}`, {addSpecialTokens: false}), hf.tokenizer.encode(text, {addSpecialTokens: false}))
    }
    assert.equal(gguf.tokenizer.encode('Hello')[0], gguf.tokenizer.bosTokenId)
    const lines = gguf.tokenizer.encode('ab\ncd', {addSpecialTokens: false})
    assert.deepEqual(lines, [...gguf.tokenizer.encode('ab', {addSpecialTokens: false}), ...gguf.tokenizer.encode('\n', {addSpecialTokens: false}), ...gguf.tokenizer.encode('cd', {addSpecialTokens: false})])
    assert.equal(gguf.tokenizer.decode(lines), 'ab\ncd')
  })

  it('a run of newlines that is a token stays whole without a merge; characters without a token become bytes; <turn|> ends generation', () => {
    const tokens = ['<pad>', '<eos>', '<bos>', '<turn|>', 'a', 'b', '▁', '\n', '\n\n', 'ab', '▁a', '<0xC3>', '<0xA9>']
    const metadata = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'gemma4'], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', ['a b', '▁ a']],
      ['tokenizer.ggml.token_type', tokens.map((t, id) => (id < 4 ? 3 : /^<0x/.test(t) ? 6 : 1))], ['tokenizer.ggml.bos_token_id', 2], ['tokenizer.ggml.eos_token_id', 1],
      // llama.cpp adds BOS to gemma4 vocabularies whatever the file says.
      ['tokenizer.ggml.add_bos_token', false],
    ])
    const tokenizer = tokenizerFromGguf(metadata)
    const id = (t: string) => tokens.indexOf(t)
    assert.deepEqual(tokenizer.encode('ab\n\n aé'), [id('<bos>'), id('ab'), id('\n\n'), id('▁a'), id('<0xC3>'), id('<0xA9>')])
    assert.equal(tokenizer.decode(tokenizer.encode('ab\n\n aé', {addSpecialTokens: false})), 'ab\n\n aé')
    // llama.cpp's end-of-generation set holds Gemma 4's turn end beside the file's EOS.
    assert.deepEqual(tokenizer.eosTokenIds, [id('<eos>'), id('<turn|>')])
  })

  it('refuses what it cannot mean or run, naming the key or the tensor', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gemma4'}))
    const broken: [string, Gemma4GgufOptions, RegExp][] = [
      ['no-pattern', {edit: (m) => ({...m, 'gemma4.attention.sliding_window_pattern': undefined})}, /GGUF metadata gemma4\.attention\.sliding_window_pattern is missing/],
      ['short-pattern', {edit: (m) => ({...m, 'gemma4.attention.sliding_window_pattern': {type: 'bools', value: [true, false]}})}, /sliding_window_pattern must hold one true\/false per layer \(4\)/],
      ['last-sliding', {edit: (m) => ({...m, 'gemma4.attention.sliding_window_pattern': {type: 'bools', value: [true, false, false, true]}})}, /makes the last layer sliding/],
      ['no-swa-head', {edit: (m) => ({...m, 'gemma4.attention.key_length_swa': undefined})}, /GGUF metadata gemma4\.attention\.key_length_swa is missing/],
      ['value-length', {edit: (m) => ({...m, 'gemma4.attention.value_length_swa': {type: 'u32', value: 8}})}, /gemma4\.attention\.value_length_swa 8 differs from the head size 32/],
      ['partial-swa', {edit: (m) => ({...m, 'gemma4.rope.dimension_count_swa': {type: 'u32', value: 16}})}, /gemma4\.rope\.dimension_count_swa 16 differs from the head size 32/],
      ['widths', {edit: (m) => ({...m, 'gemma4.feed_forward_length': {type: 'i32s', value: [64, 96, 64, 64]}})}, /gemma4\.feed_forward_length \[64,96,64,64\] is not one width, nor one width doubled on the 2 KV-shared layers/],
      ['kv-heads', {edit: (m) => ({...m, 'gemma4.attention.head_count_kv': {type: 'i32s', value: [2, 2, 1, 2]}})}, /head_count_kv must give every sliding layer the same count/],
      ['scaling', {edit: (m) => ({...m, 'gemma4.rope.scaling.type': {type: 'string', value: 'linear'}})}, /gemma4\.rope\.scaling\.type "linear" is not supported/],
      ['freqs', {tensors: (t) => t.map((x) => (x.name === 'rope_freqs.weight' ? {...x, data: Buffer.from(Float32Array.from({length: x.dims[0]!}, (_, i) => (i % 2 ? 1 : 2)).buffer)} : x))}, /rope_freqs\.weight must hold one factor for the first frequency pairs and 1e30 for the rest/],
      ['no-gate', {tensors: (t) => t.filter((x) => x.name !== 'blk.1.inp_gate.weight')}, /Tensor model\.layers\.1\.per_layer_input_gate\.weight is missing/],
      ['no-table', {tensors: (t) => t.filter((x) => x.name !== 'per_layer_token_embd.weight')}, /tensor per_layer_token_embd\.weight is missing, but gemma4\.embedding_length_per_layer_input is 8/],
      ['tokenizer', {edit: (m) => ({...m, 'tokenizer.ggml.merges': undefined})}, /GGUF metadata tokenizer\.ggml\.merges is missing or not an array/],
    ]
    for (const [name, options, pattern] of broken) await assert.rejects(loadModel(write(hf, name, options)), loadError(pattern), name)
  })
})
