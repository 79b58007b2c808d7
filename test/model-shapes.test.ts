// Unusual but valid model shapes (head sizes 80/96/24/12, odd GQA groups, vocabularies and widths that are no multiple of 32, tied Qwen2/Qwen3, small contexts) run to the float64 reference, from HF checkpoints and as GGUF.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {expectedTensorShapes, loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {encodeFloats, writeSafetensors} from '../src/engine/model/safetensors.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig, type TokenizerFamilyName} from '../src/engine/model/tokenizer-families.js'
import {testModelConfigJson} from '../src/engine/model/test-model.js'
import {loadNativeModel} from '../src/engine/native.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {TestBlockPool, TestSequence, buildStep, logitsRow} from './support/paged-batch.js'
import {relativeError} from './support/relative-error.js'
import {ReferenceModel} from './support/reference-model.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-shapes-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

/** A checkpoint of the tiny preset with `fields` changed in config.json, seeded-random weights and its family's tokenizer. */
function writeModel(name: string, family: TokenizerFamilyName, fields: Record<string, unknown>): string {
  const dir = join(scratch, name)
  mkdirSync(dir)
  const configJson = {...testModelConfigJson('tiny', {variant: family === 'llama2' ? 'llama' : family}), ...fields}
  const config = parseModelConfig(configJson)
  const random = new SeededRandom(7)
  writeSafetensors(join(dir, 'model.safetensors'), expectedTensorShapes(config).map(({name: tensor, shape}) => ({
    name: tensor, dtype: 'F32' as const, shape,
    data: () => encodeFloats(tensor.endsWith('norm.weight') ? random.normals(shape[0]!, 1, 0.1) : random.normals(shape.reduce((a, b) => a * b, 1), 0, 1 / Math.sqrt(shape.at(-1)!)), 'F32'),
  })))
  const tokenizerFamily = TOKENIZER_FAMILIES[family]
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerFamily.buildTokenizerJson(Math.min(config.vocabSize, 512), 0)))
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(buildTokenizerConfig(tokenizerFamily, config.maxPositionEmbeddings)))
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson))
  return dir
}

/** Logits of every position of one prompt, from the native forward pass. */
async function nativeLogits(model: LoadedModel, tokens: number[]): Promise<Float32Array[]> {
  const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 32, blockSize: 4, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu'})
  try {
    const {batch} = buildStep([{sequence: new TestSequence(tokens), count: tokens.length, logits: 'all'}], new TestBlockPool(32), 4)
    const logits = await native.step({}, batch)
    return tokens.map((_, row) => logitsRow(logits, row, model.config.vocabSize))
  } finally {
    native.close()
  }
}

/** Qwen3 over the qwen2 variant's config (its tokenizer family): no biases, q/k norms. */
const QWEN3 = {architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3'}

const SHAPES: [string, TokenizerFamilyName, Record<string, unknown>][] = [
  ['head_dim 80, 2 heads sharing 1 kv head', 'llama2', {hidden_size: 160, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 80}],
  ['head_dim 96, no GQA, llama3 scaling', 'llama3', {hidden_size: 192, num_attention_heads: 2, num_key_value_heads: 2, head_dim: 96}],
  ['5 heads sharing 1 kv head, head_dim 24 (Qwen2 biases)', 'qwen2', {hidden_size: 120, num_attention_heads: 5, num_key_value_heads: 1, head_dim: 24}],
  ['6 heads in groups of 3, head_dim 40 independent of hidden_size', 'llama2', {hidden_size: 64, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 40}],
  ['vocab 509 and hidden 36 / intermediate 50 (no multiple of 32)', 'llama2', {vocab_size: 509, hidden_size: 36, num_attention_heads: 3, num_key_value_heads: 1, head_dim: 12, intermediate_size: 50}],
  ['tied Qwen2 embeddings', 'qwen2', {tie_word_embeddings: true}],
  ['tied Llama embeddings, linear rope scaling x2', 'llama2', {tie_word_embeddings: true, rope_scaling: {type: 'linear', factor: 2}}],
  ['Qwen3 q/k norms over head_dim 12 (a vector tail), 3 heads sharing 1 kv head', 'qwen2', {...QWEN3, hidden_size: 48, num_attention_heads: 3, num_key_value_heads: 1, head_dim: 12}],
  ['tied Qwen3, head_dim 80 over hidden 64', 'qwen2', {...QWEN3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 80, tie_word_embeddings: true}],
]

describe('unusual model shapes', () => {
  for (const [label, family, fields] of SHAPES) {
    it(`${label}: native logits match the float64 reference`, async () => {
      const dir = writeModel(label.replace(/[^a-z0-9]+/gi, '-'), family, fields)
      const model = await loadModel(dir)
      const random = new SeededRandom(3)
      const tokens = Array.from({length: 23}, () => 3 + random.nextInt(model.config.vocabSize - 3))
      const reference = (await ReferenceModel.load(dir)).logits(tokens)
      const actual = await nativeLogits(model, tokens)
      tokens.forEach((_, position) => assert.ok(relativeError(actual[position]!, reference[position]!) < 1e-4, `position ${position}`))
      // The same weights as GGUF (llama's q/k rows interleaved for llama.cpp's rope and put back at load; llama3
      // scaling as rope_freqs.weight; Qwen biases and norms): identical logits.
      const path = join(dir, 'model.gguf')
      writeGguf(model, path, {format: 'f32'})
      const fromGguf = await nativeLogits(await loadModel(path), tokens)
      fromGguf.forEach((row, position) => assert.deepEqual(row, actual[position], `GGUF position ${position}`))
    })
  }

  it('a context of 16 positions serves a prompt up to its end and refuses one past it', async () => {
    const dir = writeModel('context-16', 'llama2', {max_position_embeddings: 16})
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 1}))
    try {
      const output = await engine.addRequest({prompt: Array.from({length: 12}, (_, i) => 10 + i), params: makeSamplingParams({maxTokens: 4, ignoreEos: true})}).result()
      assert.equal(output.outputs[0]!.tokenIds.length, 4)
      assert.throws(() => engine.addRequest({prompt: Array.from({length: 13}, (_, i) => 10 + i), params: makeSamplingParams({maxTokens: 4})}), /maximum context length is 16 tokens/)
    } finally {
      await engine.shutdown()
    }
  })
})
