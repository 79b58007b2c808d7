// GGUF files written from HF test checkpoints load with identical logits to the checkpoint itself (q/k rope rows, block formats, tokenizer, chat template), and bad files get clear errors.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {writeGguf, type GgufFileFormat} from '../src/bench/peer/gguf-writer.js'
import {llama3RopeFactors, llama3ScalingFromFactors} from '../src/engine/model/llama3-rope.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import type {WeightFormat} from '../src/engine/native.js'
import {TokenizerWorkers} from '../src/server/tokenizer-workers.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const DIR = join(tmpdir(), `pagedllm-gguf-test-${process.pid}`)

/** [file format, preset, the format the HF checkpoint is loaded in for the same weights] */
const CASES: [GgufFileFormat, TestModelPreset, WeightFormat][] = [
  ['f32', 'tiny', 'f32'], ['f16', 'tiny', 'f16'], ['q8_0', 'tiny', 'q8_0'], ['q4_0', 'tiny', 'q4_0'], ['q4_k', 'small', 'q4_k'],
]

describe('GGUF models', () => {
  before(() => mkdirSync(DIR, {recursive: true}))
  after(() => rmSync(DIR, {recursive: true, force: true}))

  for (const [format, preset, hfFormat] of CASES) {
    it(`${preset} written as ${format} GGUF gives the same logits as the checkpoint loaded as ${hfFormat}`, async () => {
      const hf = await loadModel(await ensureTestModel(preset))
      const path = join(DIR, `${preset}-${format}.gguf`)
      writeGguf(hf, path, {format})
      const gguf = await loadModel(path)
      // GGUF stores rms_norm_eps as f32 (the kernels use it as f32 anyway) and one eos id, one of the checkpoint's.
      const comparable = (c: LoadedModel['config']) => ({...c, architecture: '', modelType: '', torchDtype: '', rmsNormEps: Math.fround(c.rmsNormEps), eosTokenIds: []})
      assert.deepEqual(comparable(gguf.config), comparable(hf.config))
      assert.ok(hf.generationConfig.eosTokenIds.includes(gguf.config.eosTokenIds[0]))
      assert.equal(gguf.defaultWeightFormat, format === 'f16' ? 'f16' : 'f32')
      const expected = await promptLogits(hf, hfFormat)
      const actual = await promptLogits(gguf, format === 'f16' ? 'f16' : 'f32')
      // Same bytes in the same order (the q/k rows un-interleaved): bit-identical logits.
      assert.equal(maxAbsDifference(actual.logits, expected.logits), 0)
      // Every tensor kept as the file stores it (Q4_K_M's q/k at Q4_K stacked with v at Q6_K too), nothing re-quantized.
      const fileBytes = gguf.tensors.reduce((sum, t) => sum + t.nbytes, 0)
      assert.equal(actual.weightBytes, fileBytes)
      assert.equal(expected.weightBytes, fileBytes)
    })
  }

  it('builds the tokenizer and chat template from the GGUF metadata', async () => {
    const hf = await loadModel(await ensureTestModel('tiny'))
    const path = join(DIR, 'tokenizer.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const gguf = await loadModel(path)
    // Texts start with a non-space: for a leading space, llama.cpp's SentencePiece adds its dummy ▁ anyway (as the GGUF
    // tokenizer does), while transformers' Metaspace(prepend_scheme: first) in the checkpoint's tokenizer.json does not.
    for (const text of ['Hello world', 'two  spaces\nand a newline', 'caf\u00e9 \u{1F642}']) {
      assert.deepEqual(gguf.tokenizer.encode(text), hf.tokenizer.encode(text), text)
      assert.equal(gguf.tokenizer.decode(gguf.tokenizer.encode(text, {addSpecialTokens: false})), text)
    }
    assert.ok(gguf.tokenizer.eosTokenIds.every((id) => hf.generationConfig.eosTokenIds.includes(id)))
    assert.equal(gguf.tokenizer.hasChatTemplate, hf.tokenizer.hasChatTemplate)
    if (hf.tokenizer.hasChatTemplate) {
      const messages = [{role: 'user' as const, content: 'hi'}]
      assert.equal(gguf.tokenizer.applyChatTemplate(messages), hf.tokenizer.applyChatTemplate(messages))
    }
  })

  it('a Llama 3 checkpoint written as GGUF names its pre-tokenizer and tokenizes as the checkpoint does', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'llama3'}))
    const path = join(DIR, 'llama3.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const gguf = await loadModel(path)
    // Llama 3's split keeps newlines with the punctuation before them (".\n" is one of its tokens); GPT-2's does not.
    for (const text of ['1.\na', 'sea.\n\nsea', 'The capital of France is Paris.\n']) {
      assert.deepEqual(gguf.tokenizer.encode(text), hf.tokenizer.encode(text), JSON.stringify(text))
    }
  })

  it('serves: the server\'s tokenizer workers load the GGUF file\'s vocabulary from the model path', async () => {
    const hf = await loadModel(await ensureTestModel('tiny'))
    const path = join(DIR, 'served.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const gguf = await loadModel(path)
    assert.deepEqual(Tokenizer.load(path).encode('Hello world'), gguf.tokenizer.encode('Hello world'))
    const workers = new TokenizerWorkers(gguf.dir, 512, 1, gguf.tokenizer)
    try {
      const messages = [{role: 'user', content: 'hi'}]
      assert.deepEqual(await workers.tokenize({kind: 'chat', messages, addGenerationPrompt: true}), gguf.tokenizer.encodeChat(messages))
      assert.deepEqual(await workers.tokenize({kind: 'text', text: 'Hello world', param: 'prompt'}), gguf.tokenizer.encode('Hello world'))
    } finally {
      await workers.close()
    }
  })

  it('llama3 rope scaling round-trips as rope_freqs.weight: same parameters, bit-identical logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'llama3'}))
    assert.equal(hf.config.ropeScaling.type, 'llama3')
    const path = join(DIR, 'llama3-rope.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const gguf = await loadModel(path)
    assert.deepEqual(gguf.config.ropeScaling, hf.config.ropeScaling)
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits), 0)

    // Llama 3.1 (factor 8) and 3.2 (factor 32) as released: head size 128, theta 500000, original context 8192.
    for (const factor of [8, 32]) {
      const scaling = {type: 'llama3' as const, factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192}
      assert.deepEqual(llama3ScalingFromFactors(llama3RopeFactors(scaling, 128, 500000), 128, 500000), scaling)
    }
    // Divisors that no llama3 band gives are refused, not run with a rope the file does not describe.
    const patched = readFileSync(path)
    const factors = new Float32Array(hf.config.headDim / 2).fill(1)
    factors[1] = 3
    const data = patched.indexOf(Buffer.from(llama3RopeFactors(hf.config.ropeScaling as never, hf.config.headDim, hf.config.ropeTheta).buffer))
    assert.ok(data > 0)
    Buffer.from(factors.buffer).copy(patched, data)
    writeFileSync(path, patched)
    await assert.rejects(loadModel(path), /rope_freqs\.weight holds per-frequency factors that are not Llama 3 rope scaling/)
  })

  it('rejects other architectures and tensor types by name', async () => {
    const hf = await loadModel(await ensureTestModel('tiny'))
    const path = join(DIR, 'patched.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const original = readFileSync(path)

    const arch = Buffer.from(original)
    const key = arch.indexOf('general.architecture')
    arch.write('rwkv6', key + 'general.architecture'.length + 4 + 8, 'latin1') // after value type (u32) and length (u64)
    writeFileSync(path, arch)
    await assert.rejects(loadModel(path), /architecture "rwkv6" is not supported/)

    const type = Buffer.from(original)
    const name = type.indexOf('blk.0.attn_q.weight')
    type.writeUInt32LE(16, name + 'blk.0.attn_q.weight'.length + 4 + 2 * 8) // after n_dims (u32) and two dims (u64): IQ2_XXS
    writeFileSync(path, type)
    await assert.rejects(loadModel(path), /blk\.0\.attn_q\.weight is IQ2_XXS: its codes index lattice codebooks .*; pagedllm loads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, TQ1_0, TQ2_0 and MXFP4 tensors/)

    writeFileSync(path, original.subarray(0, 100))
    await assert.rejects(loadModel(path), /not a readable GGUF file \(truncated/)
  })
})
