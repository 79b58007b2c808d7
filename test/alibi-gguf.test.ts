// GGUF bloom / falcon / mpt files as llama.cpp's converter writes them (names, metadata, query_key_value regrouped to
// [all q | all k | all v], BLOOM's embedding duplicated as output) give the logits of the checkpoint they come from.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {loadModel} from '../src/engine/model/load-model.js'
import {readTensorFloat64, type TensorInfo} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {f32, ggufBytes, q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

/** The GGUF name llama.cpp's converter gives each engine tensor of a bloom / falcon / mpt model. */
function ggufNameOf(engineName: string, arch: string): string {
  const global: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.embed_norm.weight': 'token_embd_norm.weight', 'model.embed_norm.bias': 'token_embd_norm.bias',
    'model.norm.weight': 'output_norm.weight', 'model.norm.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight'}
  const parts: Record<string, string> = {input_layernorm: 'attn_norm', post_attention_layernorm: arch === 'falcon' ? 'attn_norm_2' : 'ffn_norm', 'self_attn.qkv_proj': 'attn_qkv',
    'self_attn.o_proj': 'attn_output', 'mlp.fc1': 'ffn_up', 'mlp.fc2': 'ffn_down'}
  const layer = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(engineName)
  return layer ? `blk.${layer[1]}.${parts[layer[2]!]}.${layer[3]}` : global[engineName]!
}

/** A tensor's values as the converter writes them: BLOOM's and Falcon's grouped query_key_value as [all q | all k | all v]. */
function convertedValues(tensor: TensorInfo): Float32Array {
  const stored = Float32Array.from(readTensorFloat64(tensor))
  const groups = tensor.qkvInterleavedHeads
  if (!groups) return stored
  const queries = tensor.qkvQueriesPerGroup ?? 1, headValues = stored.length / (groups * (queries + 2))
  const out = new Float32Array(stored.length)
  for (let g = 0; g < groups; g++) {
    const group = stored.subarray(g * (queries + 2) * headValues, (g + 1) * (queries + 2) * headValues)
    out.set(group.subarray(0, queries * headValues), g * queries * headValues)
    out.set(group.subarray(queries * headValues, (queries + 1) * headValues), (groups * queries + g) * headValues)
    out.set(group.subarray((queries + 1) * headValues), (groups * queries + groups + g) * headValues)
  }
  return out
}

describe('GGUF bloom / falcon / mpt files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-alibi-gguf-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  // GGUF cannot say MPT's softmax_scale (llama.cpp scales by 1/sqrt(head size)): the checkpoint compared leaves it out.
  const cases = [['bloom', 'bloom', {}], ['falcon', 'falcon', {}], ['falcon-mq', 'falcon', {}], ['mpt', 'mpt', {softmax_scale: null}]] as const
  for (const [variant, arch, attn] of cases) {
    it(`${variant} as ${arch}: llama.cpp's names and metadata (query_key_value regrouped, BLOOM's output duplicated) give the checkpoint's logits, at f32 (and q8_0 where rows are whole blocks)`, async () => {
      let hfDir = await ensureTestModel('tiny', {variant})
      if (Object.keys(attn).length > 0) {
        hfDir = join(dir, `hf-${variant}`)
        cpSync(await ensureTestModel('tiny', {variant}), hfDir, {recursive: true})
        const config = JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8'))
        writeFileSync(join(hfDir, 'config.json'), JSON.stringify({...config, attn_config: {...config.attn_config, ...attn}}))
      }
      const hf = await loadModel(hfDir)
      const c = hf.config
      const tensors: GgufTensorSpec[] = hf.tensors.map((t) => ({name: ggufNameOf(t.name, arch), dims: [...t.shape].reverse(), data: Buffer.from(convertedValues(t).buffer)}))
      if (arch === 'bloom' && c.tieWordEmbeddings) tensors.push({...tensors.find((t) => t.name === 'token_embd.weight')!, name: 'output.weight'})
      const metadata: Record<string, GgufEntry> = {
        'general.architecture': {type: 'string', value: arch},
        [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
        [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
        [`${arch}.attention.layer_norm_epsilon`]: f32(c.rmsNormEps),
        ...(arch === 'falcon' ? {'falcon.rope.freq_base': f32(c.ropeTheta)} : {}),
        ...(arch === 'mpt' ? {'mpt.attention.clamp_kqv': f32(c.layerNorm!.clipQkv!), 'mpt.attention.max_alibi_bias': f32(8)} : {}),
        // llama.cpp names falcon-7b's split `falcon` (gguf-pre-tokenizers.test.ts checks how it cuts).
        ...familyVocabMetadata('gpt2', c.vocabSize, variant === 'falcon' ? 'falcon' : 'gpt-2'),
      }
      writeFileSync(join(dir, `${variant}.gguf`), ggufBytes(metadata, {tensors}))
      const gguf = await loadModel(join(dir, `${variant}.gguf`))
      assert.deepEqual([gguf.config.architecture, gguf.config.numKvHeads, gguf.config.layerNorm!.alibiSlopes, gguf.config.layerNorm!.parallelResidual],
        [c.architecture, c.numKvHeads, c.layerNorm!.alibiSlopes, c.layerNorm!.parallelResidual])
      assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
      if (c.hiddenSize % 32 !== 0) return // q8_0 rows are blocks of 32 (bloom's and mpt's hidden size is 48)
      writeFileSync(join(dir, `${variant}-q8_0.gguf`), ggufBytes(metadata, {tensors: q8_0Matrices(tensors)}))
      assert.equal(maxAbsDifference((await promptLogits(await loadModel(join(dir, `${variant}-q8_0.gguf`)), 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
    })
  }
})
