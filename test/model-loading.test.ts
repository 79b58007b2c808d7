// Model loading: HF configs of each supported family, single and sharded safetensors in every dtype, and clear errors for bad inputs.
import assert from 'node:assert/strict'
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {encodeFloats, readSafetensorsHeader, readTensorFloat32, writeSafetensors, type TensorDtype, type TensorInfo} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {TINYCHAT_DIR} from './support/tinychat.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-model-loading-')

function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8'))
  edit(json)
  writeFileSync(path, JSON.stringify(json))
}

/** Rewrites model.safetensors of dir through `change`, which may rename, reshape or drop tensors. */
function rewriteTensors(dir: string, change: (tensors: TensorInfo[]) => {info: TensorInfo; name?: string; shape?: number[]; dtype?: string}[]): void {
  const path = join(dir, 'model.safetensors')
  const tensors = readSafetensorsHeader(path)
  const data = new Map(tensors.map((t) => [t.name, readTensorFloat32(t)]))
  const changed = change(tensors)
  writeSafetensors(
    `${path}.new`,
    changed.map(({info, name, shape}) => {
      const finalShape = shape ?? info.shape
      const count = finalShape.reduce((a, b) => a * b, 1)
      return {name: name ?? info.name, dtype: info.dtype, shape: finalShape, data: () => encodeFloats(data.get(info.name)!.slice(0, count), info.dtype)}
    }),
  )
  cpSync(`${path}.new`, path)
  rmSync(`${path}.new`)
}

function assertLoadError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected ModelLoadError, got ${String(error)}`)
    assert.match(error.message, pattern)
    return true
  }
}

describe('loading good models', () => {
  it('loads the built-in tinychat (bf16): tied embeddings, GQA, eos from config and generation_config', async () => {
    const model = await loadModel(TINYCHAT_DIR)
    assert.equal(model.name, 'tinychat')
    const c = model.config
    assert.deepEqual(
      [c.architecture, c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim],
      ['LlamaForCausalLM', 4096, 256, 768, 6, 8, 4, 32],
    )
    assert.deepEqual([c.rmsNormEps, c.ropeTheta, c.tieWordEmbeddings, c.attentionBias, c.maxPositionEmbeddings], [1e-5, 10000, true, false, 2048])
    assert.deepEqual(c.ropeScaling, {type: 'none'})
    assert.equal(c.bosTokenId, 1)
    assert.deepEqual(c.eosTokenIds, [2, 4])
    assert.equal(model.tensors.length, 2 + 9 * 6)
    assert.ok(!model.tensors.some((t) => t.name === 'lm_head.weight'))
    assert.deepEqual(model.generationConfig.eosTokenIds.sort(), [2, 4])
    const embed = model.tensors[0]
    assert.deepEqual([embed.name, embed.dtype, embed.shape, embed.nbytes], ['model.embed_tokens.weight', 'BF16', [4096, 256], 4096 * 256 * 2])
  })

  it('loads the Qwen2 variant with q/k/v biases and an untied lm_head', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'qwen2'}))
    assert.equal(model.config.attentionBias, true)
    assert.equal(model.config.ropeTheta, 1e6)
    const names = model.tensors.map((t) => t.name)
    for (const bias of ['q', 'k', 'v']) assert.ok(names.includes(`model.layers.1.self_attn.${bias}_proj.bias`))
    assert.ok(!names.includes('model.layers.0.self_attn.o_proj.bias'))
    assert.equal(names.at(-1), 'lm_head.weight')
  })

  it('loads llama3 rope scaling', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'llama3'}))
    assert.deepEqual(model.config.ropeScaling, {type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 64})
  })

  for (const dtype of ['F16', 'BF16'] as TensorDtype[]) {
    it(`loads a sharded ${dtype} checkpoint through model.safetensors.index.json with the same values`, async () => {
      const dir = scratch.copy(`sharded-${dtype}`)
      const single = readSafetensorsHeader(join(dir, 'model.safetensors'))
      const shards = [single.slice(0, 7), single.slice(7)]
      const weightMap: Record<string, string> = {}
      shards.forEach((tensors, i) => {
        const file = `model-0000${i + 1}-of-00002.safetensors`
        writeSafetensors(join(dir, file), tensors.map((t) => ({name: t.name, dtype, shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), dtype)})))
        for (const t of tensors) weightMap[t.name] = file
      })
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({metadata: {}, weight_map: weightMap}))
      rmSync(join(dir, 'model.safetensors'))

      const model = await loadModel(dir)
      assert.equal(model.tensors.length, single.length)
      assert.equal(new Set(model.tensors.map((t) => t.path)).size, 2)
      const original = await loadModel(scratch.tinyDir)
      for (const [i, tensor] of model.tensors.entries()) {
        assert.equal(tensor.dtype, dtype)
        const a = readTensorFloat32(tensor)
        const b = readTensorFloat32(original.tensors[i])
        const tolerance = dtype === 'BF16' ? 2 ** -8 : 2 ** -11 // half an ulp, relative
        for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j] - b[j]) <= tolerance * Math.abs(b[j]) + 1e-7, `${tensor.name}[${j}]`)
      }
    })
  }

  it('runs a Mistral sliding window on every layer over the whole context (no cap)', () => {
    const config = parseModelConfig({
      architectures: ['MistralForCausalLM'], model_type: 'mistral', vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336,
      num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 32768, sliding_window: 4096,
      eos_token_id: 2, bos_token_id: 1,
    })
    assert.equal(config.maxPositionEmbeddings, 32768)
    assert.equal(config.headDim, 128)
    assert.deepEqual(config.layerWindows, Array(32).fill(4096))
    assert.equal(config.notes, undefined)
  })

  it('applies HF defaults: head_dim, kv heads, untied embeddings, linear rope scaling, eos arrays', () => {
    const config = parseModelConfig(
      {architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1,
        num_attention_heads: 4, max_position_embeddings: 256, rope_scaling: {type: 'linear', factor: 2}, eos_token_id: [7, 8]},
      {eos_token_id: 9},
    )
    assert.deepEqual([config.headDim, config.numKvHeads, config.tieWordEmbeddings, config.ropeTheta, config.bosTokenId], [16, 4, false, 10000, null])
    assert.deepEqual(config.ropeScaling, {type: 'linear', factor: 2})
    assert.deepEqual(config.eosTokenIds, [9, 7, 8])
    assert.equal(config.notes, undefined)
  })
})

describe('bad model inputs give clear ModelLoadErrors', () => {
  it('missing directory', async () => {
    await assert.rejects(loadModel(join(scratch.dir, 'nope')), assertLoadError(/does not exist/))
  })

  it('missing config.json', async () => {
    const dir = scratch.copy('no-config')
    rmSync(join(dir, 'config.json'))
    await assert.rejects(loadModel(dir), assertLoadError(/No config\.json/))
  })

  it('unsupported architecture names it and the supported ones of its family, in one short line', async () => {
    const dir = scratch.copy('gpt2')
    editJson(join(dir, 'config.json'), (c) => (c.architectures = ['RwkvForCausalLM']))
    await assert.rejects(loadModel(dir), assertLoadError(/^Unsupported architecture RwkvForCausalLM .*; README\.md \(Models\) lists the families of the \d+ supported architectures\.$/))
    editJson(join(dir, 'config.json'), (c) => (c.architectures = ['Qwen4ForCausalLM']))
    await assert.rejects(loadModel(dir), assertLoadError(/supported of that family: Qwen2ForCausalLM, Qwen3ForCausalLM, .*Qwen3NextForCausalLM; README/))
    // The whole list (90 names) made a 2,000-character line (found by fuzz-model-files).
    // No class and a model_type naming none (with gpt2's, [] loads as GPT2LMHeadModel: test/architecture-choice.test.ts).
    for (const [architectures, modelType] of [[['RwkvForCausalLM'], 'gpt2'], [[], 'not-a-model-type']] as const) {
      editJson(join(dir, 'config.json'), (c) => Object.assign(c, {architectures, model_type: modelType}))
      await assert.rejects(loadModel(dir), (error: Error) => error.message.length < 400)
    }
  })

  it('missing config field', async () => {
    const dir = scratch.copy('no-hidden')
    editJson(join(dir, 'config.json'), (c) => delete c.hidden_size)
    await assert.rejects(loadModel(dir), assertLoadError(/missing "hidden_size"/))
  })

  it('unsupported rope scaling (mrope)', () => {
    const base = {architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 256}
    assert.throws(() => parseModelConfig({...base, rope_scaling: {rope_type: 'mrope', factor: 4}}), assertLoadError(/rope scaling type "mrope" is not supported/))
  })

  it('wrong tensor shape names the tensor, the expected and the found shape', async () => {
    const dir = scratch.copy('bad-shape')
    rewriteTensors(dir, (tensors) => tensors.map((info) => (info.name === 'model.layers.1.mlp.up_proj.weight' ? {info, shape: [64, 64]} : {info})))
    await assert.rejects(loadModel(dir), assertLoadError(/model\.layers\.1\.mlp\.up_proj\.weight has shape \[64, 64\], but config\.json implies \[128, 64\]/))
  })

  it('missing tensor', async () => {
    const dir = scratch.copy('missing-tensor')
    rewriteTensors(dir, (tensors) => tensors.filter((t) => t.name !== 'model.layers.0.self_attn.k_proj.weight').map((info) => ({info})))
    await assert.rejects(loadModel(dir), assertLoadError(/model\.layers\.0\.self_attn\.k_proj\.weight is missing.*\[32, 64\]/))
  })

  it('missing lm_head of an untied model says the config is untied', async () => {
    const dir = scratch.copy('missing-lm-head')
    rewriteTensors(dir, (tensors) => tensors.filter((t) => t.name !== 'lm_head.weight').map((info) => ({info})))
    await assert.rejects(loadModel(dir), assertLoadError(/lm_head\.weight is missing.*tie_word_embeddings is false/))
  })

  it('missing tokenizer.json', async () => {
    const dir = scratch.copy('no-tokenizer')
    rmSync(join(dir, 'tokenizer.json'))
    await assert.rejects(loadModel(dir), assertLoadError(/No tokenizer\.json/))
  })

  it('an empty pytorch_model.bin in place of the weights is refused by name', async () => {
    const dir = scratch.copy('bin-only')
    rmSync(join(dir, 'model.safetensors'))
    writeFileSync(join(dir, 'pytorch_model.bin'), '')
    await assert.rejects(loadModel(dir), assertLoadError(/pytorch_model\.bin is not a PyTorch checkpoint/))
  })

  it('unsupported dtype names the tensor and its dtype', async () => {
    const dir = scratch.copy('int64')
    const header = JSON.stringify({'model.embed_tokens.weight': {dtype: 'I64', shape: [2], data_offsets: [0, 16]}})
    const length = Buffer.alloc(8)
    length.writeBigUInt64LE(BigInt(header.length))
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([length, Buffer.from(header), Buffer.alloc(16)]))
    await assert.rejects(loadModel(dir), assertLoadError(/model\.embed_tokens\.weight has dtype "I64", which is not supported \(supported: F32, F16, BF16, F8_E4M3, F8_E5M2\)/))
  })

  it('truncated safetensors file', async () => {
    const dir = scratch.copy('truncated')
    const path = join(dir, 'model.safetensors')
    const bytes = readFileSync(path)
    writeFileSync(path, bytes.subarray(0, bytes.length - 100))
    await assert.rejects(loadModel(dir), assertLoadError(/may be truncated/))
  })

  it('sharded index naming a missing shard', async () => {
    const dir = scratch.copy('missing-shard')
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({weight_map: {'model.norm.weight': 'model-00002-of-00002.safetensors'}}))
    await assert.rejects(loadModel(dir), assertLoadError(/names shard model-00002-of-00002\.safetensors, which is missing/))
  })
})
