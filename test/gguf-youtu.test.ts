// GGUF files of Youtu-LLM (YoutuForCausalLM), which llama.cpp's converter writes as deepseek2 (DeepseekV2Model registers
// it): latent attention, no expert_count, leading_dense_block_count = block_count, kv_b split into attn_k_b / attn_v_b.
// Written from the youtu test checkpoint (held to transformers in hf-families-b.test.ts) with its config.json edited to
// what the file fixes (llama.cpp's graph runs the latent norms at rms_norm_eps, and YaRN's mscale as mscale_all_dim):
// the same features, f32 logits within 1e-5, the same greedy tokens, a q8_0 file equal to the checkpoint quantized at load
// (both run at q8_0: the latent pieces the file keeps F32 are quantized at load as the checkpoint's kv_b).
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat32} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {ggufBytes, q8_0Matrices, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {argmax} from './support/reference-model.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const u32 = (value: number): GgufEntry => ({type: 'u32', value})
const f32 = (value: number): GgufEntry => ({type: 'f32', value})

const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-youtu-'))
after(() => rmSync(dir, {recursive: true, force: true}))
const write = (name: string, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]): string => {
  const path = join(dir, `${name}.gguf`)
  writeFileSync(path, ggufBytes(metadata, {tensors}))
  return path
}

const GLOBAL: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight'}
const LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm', 'self_attn.q_a_proj': 'attn_q_a', 'self_attn.q_a_layernorm': 'attn_q_a_norm',
  'self_attn.q_b_proj': 'attn_q_b', 'self_attn.q_proj': 'attn_q', 'self_attn.kv_a_proj_with_mqa': 'attn_kv_a_mqa', 'self_attn.kv_a_layernorm': 'attn_kv_a_norm',
  'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
}

function floatTensor(name: string, shape: number[], values: Float32Array): GgufTensorSpec {
  return {name, dims: [...shape].reverse(), data: Buffer.from(values.buffer, values.byteOffset, values.byteLength)}
}

/** The checkpoint's tensors as DeepseekV2Model writes them: llama.cpp's names, kv_b as attn_k_b [heads, rank, nope] (each head's k rows transposed) and attn_v_b [heads, v, rank]. */
function youtuTensors(source: string, c: LoadedModel['config']): GgufTensorSpec[] {
  return readCheckpointTensors(source).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GLOBAL[t.name]) return [floatTensor(GLOBAL[t.name]!, t.shape, values)]
    const [, layer, part, kind] = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(t.name)!
    if (part !== 'self_attn.kv_b_proj') return [floatTensor(`blk.${layer}.${LAYER[part!]!}.${kind}`, t.shape, values)]
    const {kvLoraRank: rank, vHeadDim: v} = c.mla!
    const nope = c.headDim - c.rotaryDim!
    const [k, vb] = [new Float32Array(c.numHeads * nope * rank), new Float32Array(c.numHeads * v * rank)]
    for (let h = 0; h < c.numHeads; h++) {
      for (let r = 0; r < nope + v; r++) {
        for (let j = 0; j < rank; j++) {
          const value = values[(h * (nope + v) + r) * rank + j]!
          if (r < nope) k[(h * rank + j) * nope + r] = value
          else vb[(h * v + r - nope) * rank + j] = value
        }
      }
    }
    return [floatTensor(`blk.${layer}.attn_k_b.weight`, [c.numHeads, rank, nope], k), floatTensor(`blk.${layer}.attn_v_b.weight`, [c.numHeads, v, rank], vb)]
  })
}

/** deepseek2.* metadata as DeepseekV2Model writes a Youtu checkpoint's: MQA of kv_lora_rank + rope, no expert count, every layer dense. */
function youtuMetadata(c: LoadedModel['config'], mscaleAllDim: number): Record<string, GgufEntry> {
  const mla = c.mla!, rope = c.rotaryDim!
  const yarn = c.ropeScaling as {factor: number; originalMaxPosition: number}
  const keys: Record<string, GgufEntry> = {
    context_length: u32(c.maxPositionEmbeddings), embedding_length: u32(c.hiddenSize), block_count: u32(c.numLayers), feed_forward_length: u32(c.intermediateSize),
    'attention.head_count': u32(c.numHeads), 'attention.head_count_kv': u32(1), 'rope.freq_base': f32(c.ropeTheta), 'attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    leading_dense_block_count: u32(c.numLayers), vocab_size: u32(c.vocabSize), 'attention.q_lora_rank': u32(mla.qLoraRank), 'attention.kv_lora_rank': u32(mla.kvLoraRank),
    'attention.key_length': u32(mla.kvLoraRank + rope), 'attention.value_length': u32(mla.kvLoraRank), 'attention.key_length_mla': u32(c.headDim), 'attention.value_length_mla': u32(mla.vHeadDim),
    expert_feed_forward_length: u32(c.intermediateSize), expert_shared_count: u32(0), 'rope.dimension_count': u32(rope),
    'rope.scaling.type': {type: 'string', value: 'yarn'}, 'rope.scaling.factor': f32(yarn.factor), 'rope.scaling.original_context_length': u32(yarn.originalMaxPosition),
    'rope.scaling.yarn_log_multiplier': f32(0.1 * mscaleAllDim),
  }
  return {
    'general.architecture': {type: 'string', value: 'deepseek2'},
    ...Object.fromEntries(Object.entries(keys).map(([key, value]) => [`deepseek2.${key}`, value])),
    // Our reading: Youtu's tokenizer under llama.cpp's llama-bpe split (the test checkpoint's is Llama 3's).
    ...familyVocabMetadata('llama3', c.vocabSize, 'llama-bpe'),
  }
}

function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numLayers, c.headDim, c.rotaryDim, c.attentionScale, c.ropeScaling, {...c.mla, kvBApart: undefined}, c.moe, c.tieWordEmbeddings, Math.fround(c.rmsNormEps)]
}

async function greedyTokens(model: LoadedModel, prompt: number[], steps = 6): Promise<number[]> {
  const tokens = [...prompt]
  for (let step = 0; step < steps; step++) {
    const {logits} = await promptLogits(model, 'f32', [tokens])
    tokens.push(argmax(logits.subarray((tokens.length - 1) * model.config.vocabSize)))
  }
  return tokens.slice(prompt.length)
}

describe('GGUF deepseek2 files of Youtu-LLM (YoutuForCausalLM)', () => {
  const source = () => ensureTestModel('tiny', {variant: 'youtu'})
  // The checkpoint as the file fixes it: latent norms at rms_norm_eps (1e-6, as Youtu-LLM's), YaRN's mscale = mscale_all_dim.
  const asFile = async () => withConfig(await source(), (json) => ({...json, rms_norm_eps: 1e-6, rope_parameters: {...json.rope_parameters, mscale: json.rope_parameters.mscale_all_dim}}))

  it('dense latent attention with attn_k_b / attn_v_b and YaRN: the checkpoint\'s logits (f32 within 1e-5, greedy tokens; q8_0 as quantized at load)', async () => {
    const hf = await asFile()
    const metadata = youtuMetadata(hf.config, 1.2)
    const tensors = youtuTensors(await source(), hf.config)
    const gguf = await loadModel(write('youtu', metadata, tensors))
    assert.equal(gguf.config.architecture, 'YoutuForCausalLM')
    assert.deepEqual(features(gguf), features(hf))
    const diff = maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits)
    assert.ok(diff < 1e-5, `max |logit difference| ${diff}`)
    assert.deepEqual(await greedyTokens(gguf, [1, 17, 250, 3]), await greedyTokens(hf, [1, 17, 250, 3]))
    // Matrices whose rows are whole blocks in Q8_0, run as stored; attn_k_b (rows of nope 16) and the 3D attn_v_b stay F32
    // and, stacked back into kv_b, are quantized at load as the checkpoint's kv_b is.
    const q8 = await loadModel(write('youtu-q8_0', metadata, tensors.flatMap((t) => (t.dims.length === 2 && t.dims[0]! % 32 === 0 ? q8_0Matrices([t]) : [t]))))
    assert.ok(q8.tensors.some((t) => t.blockFormat === 'q8_0'))
    assert.equal(maxAbsDifference((await promptLogits(q8, 'q8_0')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  })

  it('runs the latent norms at the file\'s rms eps, as llama.cpp\'s graph does, not the checkpoint class\'s 1e-6', async () => {
    const hf = await loadModel(await source())
    assert.equal(hf.config.mla!.latentNormEps, 1e-6)
    const gguf = await loadModel(write('youtu-eps', youtuMetadata(hf.config, 1.2), youtuTensors(await source(), hf.config)))
    assert.equal(gguf.config.mla!.latentNormEps, 1e-3)
  })

  it('refuses a malformed Youtu file, naming the key or tensor', async () => {
    const hf = await asFile()
    const metadata = youtuMetadata(hf.config, 1.2)
    const tensors = youtuTensors(await source(), hf.config)
    const cases: [Record<string, GgufEntry | null>, GgufTensorSpec[], RegExp][] = [
      // Layers left sparse with no experts to route to.
      [{'deepseek2.leading_dense_block_count': u32(hf.config.numLayers - 1)}, tensors, /GGUF metadata deepseek2\.expert_count is missing/],
      [{'deepseek2.leading_dense_block_count': null}, tensors, /GGUF metadata deepseek2\.expert_count is missing/],
      [{'deepseek2.attention.kv_lora_rank': null}, tensors, /GGUF metadata deepseek2\.attention\.kv_lora_rank is missing/],
      [{}, tensors.filter((t) => t.name !== 'blk.1.attn_kv_a_norm.weight'), /kv_a_layernorm|attn_kv_a_norm/],
      [{}, [...tensors, floatTensor('blk.0.ffn_gate_inp.weight', [4, hf.config.hiddenSize], new Float32Array(4 * hf.config.hiddenSize))], /blk\.0\.ffn_gate_inp\.weight|mlp\.gate\.weight/],
    ]
    for (const [i, [edit, files, pattern]] of cases.entries()) {
      const edited = Object.fromEntries(Object.entries({...metadata, ...edit}).filter((entry): entry is [string, GgufEntry] => entry[1] !== null))
      await assert.rejects(loadModel(write(`youtu-broken-${i}`, edited, files)), loadError(pattern), `case ${i}`)
    }
  })
})
