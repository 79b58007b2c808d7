// Qwen2 and Qwen3 in both forms: a Qwen3 checkpoint (q/k norms, head_dim apart from hidden / heads) and qwen2/qwen3 GGUF
// files run as the float64 reference does, the same weights as HF and as GGUF give the same logits and tokens, and the
// near misses (MoE GGUF files without expert metadata, unknown GGUF architectures) are refused by name.
import assert from 'node:assert/strict'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {writeGguf, type GgufFileFormat} from '../src/bench/peer/gguf-writer.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {bytesToUnicode} from '../src/engine/model/byte-level-bpe.js'
import type {GgufValue} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'
import {loadModel, selectModelTensors, type LoadedModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {llamaGgufBytes, SMALL_GGUF_SHAPE} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {ReferenceModel} from './support/reference-model.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'

const DIR = join(tmpdir(), `pagedllm-qwen-test-${process.pid}`)
const PROMPTS = [[1, 77, 333, 116, 280, 275, 113, 105, 49, 261, 109], [1, 400, 401, 7, 12]]
const NEW_TOKENS = 12

/** Greedy tokens of PROMPTS through the whole engine (CPU, default weight format for the model). */
async function engineGreedy(modelPath: string): Promise<number[][]> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, kvMemoryBytes: 4 << 20, threads: 2}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: NEW_TOKENS, ignoreEos: true})
    const results = await engine.generate(PROMPTS.map((prompt) => ({prompt, params})))
    return results.map((result) => result.outputs[0]!.tokenIds)
  } finally {
    await engine.shutdown()
  }
}

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

describe('Qwen3 checkpoints', () => {
  it('parse as Qwen3: q/k norms, no biases, the explicit head_dim (not hidden / heads)', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3'}))
    const c = model.config
    assert.deepEqual([c.architecture, c.qkNorm, c.attentionBias, c.headDim, c.hiddenSize / c.numHeads], ['Qwen3ForCausalLM', true, false, 32, 16])
    assert.ok(model.tensors.some((t) => t.name === 'model.layers.1.self_attn.k_norm.weight' && t.shape[0] === 32))
    // Qwen3Config's default head size is 128 whatever hidden / heads is.
    const {head_dim: _absent, ...withoutHeadDim} = qwen3Config()
    assert.equal(parseModelConfig(withoutHeadDim).headDim, 128)
  })

  it('a checkpoint missing a q/k norm is refused, naming the tensor', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3'}))
    assert.throws(() => selectModelTensors(model.config, model.tensors.filter((t) => t.name !== 'model.layers.0.self_attn.q_norm.weight'), model.dir),
      loadError(/Tensor model\.layers\.0\.self_attn\.q_norm\.weight is missing .* expected shape \[32\]/))
  })

  it('logits of every position within 1e-4 of the float64 reference, on the portable and the AVX2 kernels', async () => {
    await checkAgainstReference('qwen3')
  })

  it('matches transformers 5.18 (test/fixtures/qwen3-tiny-transformers.json): top-10 last-position logits within 1e-4, 8 greedy tokens', async () => {
    await checkAgainstTransformers('qwen3')
  })

  it('the engine\'s greedy tokens equal the float64 reference\'s', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'qwen3'})
    const reference = await ReferenceModel.load(dir)
    const expected = PROMPTS.map((prompt) => reference.greedy(prompt, NEW_TOKENS))
    assert.deepEqual(await engineGreedy(dir), expected)
  })
})

/** GGUF files written from the HF test checkpoints: [variant, file format, HF checkpoint dtype, format the checkpoint runs in]. */
const GGUF_CASES: [TestModelVariant, GgufFileFormat, 'F32' | 'F16', 'f32' | 'f16'][] = [
  ['qwen2', 'f32', 'F32', 'f32'], ['qwen2', 'f16', 'F16', 'f16'], ['qwen3', 'f32', 'F32', 'f32'], ['qwen3', 'f16', 'F16', 'f16'],
]

describe('qwen2 / qwen3 GGUF files', () => {
  before(() => mkdirSync(DIR, {recursive: true}))
  after(() => rmSync(DIR, {recursive: true, force: true}))

  for (const [variant, format, dtype, weightFormat] of GGUF_CASES) {
    it(`${variant} as ${format} GGUF: the checkpoint's config, bit-identical logits, and the reference's greedy tokens`, async () => {
      const dir = await ensureTestModel('tiny', {variant, dtype})
      const hf = await loadModel(dir)
      const path = join(DIR, `${variant}-${format}.gguf`)
      writeGguf(hf, path, {format})
      const gguf = await loadModel(path)
      // GGUF stores rms_norm_eps as f32 and one eos id; the architecture comes back from general.architecture.
      const comparable = (c: LoadedModel['config']) => ({...c, modelType: '', torchDtype: '', rmsNormEps: Math.fround(c.rmsNormEps), eosTokenIds: []})
      assert.deepEqual(comparable(gguf.config), comparable(hf.config))
      assert.equal(gguf.defaultWeightFormat, weightFormat)
      // q/k rows as in the checkpoint (no llama interleaving for qwen), biases and norms under their HF names.
      assert.equal(maxAbsDifference((await promptLogits(gguf, weightFormat)).logits, (await promptLogits(hf, weightFormat)).logits), 0)
      const reference = await ReferenceModel.load(dir)
      const expected = PROMPTS.map((prompt) => reference.greedy(prompt, NEW_TOKENS))
      assert.deepEqual(await engineGreedy(path), expected)
    })
  }

  it('tokenizes with the qwen2 pre-tokenizer and renders the chat template from tokenizer.chat_template', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3'}))
    const path = join(DIR, 'qwen3-tokenizer.gguf')
    writeGguf(hf, path, {format: 'f32'})
    const gguf = await loadModel(path)
    // Qwen2's split puts every digit on its own and keeps "'LL" caseless.
    for (const text of ['Numbers 1234567 and 3.14', "I'LL DON'T we're", 'naïve café — 日本語\n\nx']) {
      assert.deepEqual(gguf.tokenizer.encode(text), hf.tokenizer.encode(text), text)
    }
    const messages = [{role: 'system' as const, content: 'Be brief.'}, {role: 'user' as const, content: 'hi'}]
    assert.ok(hf.tokenizer.hasChatTemplate)
    assert.equal(gguf.tokenizer.applyChatTemplate(messages), hf.tokenizer.applyChatTemplate(messages))
    assert.ok(gguf.tokenizer.eosTokenIds.every((id) => hf.generationConfig.eosTokenIds.includes(id)))
  })

  it('a file without output.weight ties the LM head to the embedding', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3'}))
    const tied: LoadedModel = {...hf, config: {...hf.config, tieWordEmbeddings: true}, tensors: hf.tensors.filter((t) => t.name !== 'lm_head.weight')}
    const path = join(DIR, 'qwen3-tied.gguf')
    writeGguf(tied, path, {format: 'f32'})
    const gguf = await loadModel(path)
    assert.equal(gguf.config.tieWordEmbeddings, true)
    assert.ok(!gguf.tensors.some((t) => t.name === 'lm_head.weight'))
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(tied, 'f32')).logits), 0)
  })
})

function qwen3Config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['Qwen3ForCausalLM'], vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 512, ...overrides,
  }
}

describe('near misses are refused by name', () => {
  it('Qwen3 and Qwen3-MoE with attention_bias load with q/k/v and o_proj biases (CPU; transformers-saved-checkpoints.test.ts runs one)', () => {
    for (const architectures of [['Qwen3ForCausalLM'], ['Qwen3MoeForCausalLM']]) {
      const config = parseModelConfig(qwen3Config({architectures, attention_bias: true, num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 32}))
      assert.deepEqual([config.attentionBias, config.attentionOutputBias], [true, true], architectures[0])
    }
  })

  it('Qwen2/Qwen3 with use_sliding_window: the window on the layers max_window_layers or layer_types say, over the whole context', () => {
    for (const architectures of [['Qwen2ForCausalLM'], ['Qwen3ForCausalLM']]) {
      const sliding = {architectures, use_sliding_window: true, sliding_window: 64}
      const windows = (fields: Record<string, unknown>) => {
        const config = parseModelConfig(qwen3Config({...sliding, ...fields}))
        assert.equal(config.maxPositionEmbeddings, 512)
        return config.layerWindows
      }
      assert.deepEqual(windows({max_window_layers: 2}), [0, 0, 64, 64])
      const layerTypes = ['full_attention', 'sliding_attention', 'sliding_attention', 'full_attention']
      assert.deepEqual(windows({layer_types: layerTypes}), [0, 64, 64, 0])
      assert.deepEqual(windows({max_window_layers: 0}), [64, 64, 64, 64])
      // No layer sliding, or use_sliding_window off (transformers then sets no window, whatever layer_types say).
      assert.equal(windows({max_window_layers: 4}), undefined)
      assert.equal(windows({use_sliding_window: false, layer_types: layerTypes}), undefined)
      // transformers' defaults: sliding_window 4096 from max_window_layers 28 on.
      assert.deepEqual(parseModelConfig(qwen3Config({architectures, use_sliding_window: true, num_hidden_layers: 30})).layerWindows, [...Array(28).fill(0), 4096, 4096])
    }
    const window = {use_sliding_window: true, sliding_window: 64}
    assert.throws(() => parseModelConfig(qwen3Config({...window, layer_types: ['full_attention']})), loadError(/"layer_types" must list .* each of the 4 layers/))
    assert.throws(() => parseModelConfig(qwen3Config({...window, layer_types: Array(4).fill('linear_attention')})), loadError(/"layer_types"/))
  })

  it('GGUF qwen3moe without its expert metadata and unknown architectures, with the supported list', async () => {
    // The list grows with every family, so it is held to its start and to names from across it, not to its end.
    const SUPPORTED_LIST = String.raw`supported: llama, mistral, qwen2, qwen3, gemma, qwen2moe, qwen3moe, (?:[\w-]+, )*deepseek2, (?:[\w-]+, )*llama4(?:, [\w-]+)*\.$`
    mkdirSync(DIR, {recursive: true})
    for (const [arch, pattern] of [
      ['qwen3moe', /GGUF metadata qwen3moe\.expert_count is missing/],
      ['phimoe', new RegExp(String.raw`GGUF general\.architecture "phimoe" is not supported \(llama\.cpp runs PhiMoE files as Phi-3 with softmax top-2 routing, not the model's sparsemixer and short\/long mscale; load the Hugging Face checkpoint\); ` + SUPPORTED_LIST)],
      ['clip', /GGUF general\.architecture "clip" is not supported \(a multimodal projector \(mmproj\) file holds only the vision tower; load the model's own GGUF file, which runs text only\)/],
      ['rwkv6', new RegExp(String.raw`GGUF general\.architecture "rwkv6" is not supported; ` + SUPPORTED_LIST)],
    ] as const) {
      const path = join(DIR, `${arch}.gguf`)
      writeFileSync(path, llamaGgufBytes(SMALL_GGUF_SHAPE, {metadata: {'general.architecture': {type: 'string', value: arch}}}))
      await assert.rejects(loadModel(path), loadError(pattern))
    }
  })
})

describe('GGUF BPE pre-tokenizers (tokenizer.ggml.pre) split as llama.cpp documents', () => {
  /** A byte-level vocabulary of the 256 byte symbols plus the given merges; the pieces `text` encodes to. */
  function pieces(pre: string, merges: string[], text: string): string[] {
    const tokens = [...bytesToUnicode(), ...merges.map((merge) => merge.replace(' ', ''))]
    const metadata = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', pre], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', merges],
    ])
    const tokenizer = tokenizerFromGguf(metadata)
    return tokenizer.encode(text, {addSpecialTokens: false}).map((id) => tokenizer.idToToken(id)!)
  }

  it('smollm (and starcoder, refact, command-r, codeshell): every digit on its own, then GPT-2\'s split', () => {
    assert.deepEqual(pieces('default', ['1 2'], 'x12'), ['x', '12'])
    for (const pre of ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell']) assert.deepEqual(pieces(pre, ['1 2'], 'x12'), ['x', '1', '2'], pre)
  })

  it('tekken: words split where the case changes, digits one by one', () => {
    assert.deepEqual(pieces('qwen2', ['o W'], 'HelloWorld'), ['H', 'e', 'l', 'l', 'oW', 'o', 'r', 'l', 'd'])
    assert.deepEqual(pieces('tekken', ['o W'], 'HelloWorld'), ['H', 'e', 'l', 'l', 'o', 'W', 'o', 'r', 'l', 'd'])
    assert.deepEqual(pieces('tekken', ['1 2', '12 3'], '1234'), ['1', '2', '3', '4'])
  })

  it('deepseek-v3: digits in threes, CJK runs apart, punctuation joined to the word after it', () => {
    assert.deepEqual(pieces('default', ['3 4'], '12345'), ['1', '2', '34', '5'])
    assert.deepEqual(pieces('deepseek-v3', ['3 4', '1 2', '12 3', '4 5'], '12345'), ['123', '45'])
    // ".com" is one piece (punctuation then ASCII letters); in GPT-2's split "." and "com" are apart.
    assert.deepEqual(pieces('deepseek-v3', ['. c'], 'a.com'), ['a', '.c', 'o', 'm'])
    assert.deepEqual(pieces('default', ['. c'], 'a.com'), ['a', '.', 'c', 'o', 'm'])
    // "日" (bytes e6 97 a5) is split from the letter before it; Qwen2's split keeps "a日" one word.
    const [e6, x97, a5] = [0xe6, 0x97, 0xa5].map((byte) => bytesToUnicode()[byte]!)
    assert.deepEqual(pieces('deepseek-v3', [`a ${e6}`], 'a日'), ['a', e6, x97, a5])
    assert.deepEqual(pieces('qwen2', [`a ${e6}`], 'a日'), [`a${e6}`, x97, a5])
  })

  it('user-defined tokens (Qwen3\'s <think>) match as one piece, as control tokens do, and decode as written', () => {
    const tokens = [...bytesToUnicode(), '<think>', '<|im_end|>']
    const types = tokens.map((_, id) => (id === 256 ? 4 : id === 257 ? 3 : 1))
    const tokenizer = tokenizerFromGguf(new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'qwen2'], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', []],
      ['tokenizer.ggml.token_type', types],
    ]))
    const ids = tokenizer.encode('a<think>b<|im_end|>', {addSpecialTokens: false})
    assert.deepEqual(ids, [tokens.indexOf('a'), 256, tokens.indexOf('b'), 257])
    assert.equal(tokenizer.decode(ids, {skipSpecialTokens: true}), 'a<think>b')
  })

  it('Qwen2\'s other names (deepseek-r1-qwen for the R1 distills) split as qwen2; unknown names are refused, listing the known', () => {
    assert.deepEqual(pieces('deepseek-r1-qwen', ['1 2'], 'x12'), pieces('qwen2', ['1 2'], 'x12'))
    assert.throws(() => pieces('no-such-pre', [], 'x'), loadError(/GGUF pre-tokenizer "no-such-pre" \(tokenizer\.ggml\.pre\) is not supported; supported: .*tekken/))
    assert.throws(() => pieces('constructor', [], 'x'), loadError(/"constructor" .* is not supported/))
  })
})
