// GGUF files of Youtu-LLM (YoutuForCausalLM), which llama.cpp's converter writes as deepseek2 (DeepseekV2Model registers
// it): latent attention, no expert_count, leading_dense_block_count = block_count, kv_b split into attn_k_b / attn_v_b.
// Written from the youtu test checkpoint (held to transformers in hf-families-b.test.ts) with its config.json edited to
// what the file fixes (llama.cpp's graph runs the latent norms at rms_norm_eps, and YaRN's mscale as mscale_all_dim):
// the same features, f32 logits within 1e-5, the same greedy tokens, a q8_0 file equal to the checkpoint quantized at load
// (both run at q8_0: the latent pieces the file keeps F32 are quantized at load as the checkpoint's kv_b).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {greedyTokens, maxAbsDifference, promptLogits} from './support/model-logits.js'
import {floatTensor, youtuMetadata, youtuTensors} from './support/youtu-gguf.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

const {write} = ggufScratch('pagedllm-gguf-youtu-')

function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numLayers, c.headDim, c.rotaryDim, c.attentionScale, c.ropeScaling, {...c.mla, kvBApart: undefined}, c.moe, c.tieWordEmbeddings, Math.fround(c.rmsNormEps)]
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
