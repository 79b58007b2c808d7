// GGUF files of Mistral Small 4 (Mistral4ForCausalLM), which llama.cpp's converter writes as mistral4 (Mistral3Model's
// Mistral4Model, a DeepseekV2Model) and runs with its deepseek2 loader and graph: latent attention with kv_b split into
// attn_k_b / attn_v_b, the checkpoint's fused experts as ffn_gate_up_exps / ffn_down_exps, softmax routing in groups.
// Written from the mistral4 test checkpoint (held to transformers in hf-families-a.test.ts) with its config.json edited to
// what the file fixes (the latent norms at rms_norm_eps, YaRN's mscale as mscale_all_dim, no Llama 4 query scale: the
// converter writes no temperature scale): the same features, f32 logits within 1e-5, the same greedy tokens, a q8_0
// file equal to the checkpoint quantized at load.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {withConfig} from './support/edited-checkpoint.js'
import {q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {mistral4Metadata, mistral4Tensors} from './support/mistral4-gguf.js'
import {greedyTokens, maxAbsDifference, promptLogits} from './support/model-logits.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

const {write} = ggufScratch('pagedllm-gguf-mistral4-')

function features(m: LoadedModel): unknown {
  const c = m.config
  return [c.architecture, c.numLayers, c.headDim, c.rotaryDim, c.attentionScale, c.ropeScaling, c.maxPositionEmbeddings, {...c.mla, kvBApart: undefined}, c.moe, c.tieWordEmbeddings, Math.fround(c.rmsNormEps)]
}

describe('GGUF mistral4 files (Mistral Small 4)', () => {
  const source = () => ensureTestModel('tiny', {variant: 'mistral4'})
  // The checkpoint as the file fixes it: latent norms at rms_norm_eps (1e-6, as Mistral Small 4's), YaRN's mscale =
  // mscale_all_dim, no llama_4_scaling_beta (so no context cap either).
  const asFile = async () => withConfig(await source(), (json) => ({
    ...json, rms_norm_eps: 1e-6, rope_parameters: {...json.rope_parameters, mscale: json.rope_parameters.mscale_all_dim, llama_4_scaling_beta: 0},
  }))

  it('latent attention, grouped softmax routing over fused experts and YaRN: the checkpoint\'s logits (f32 within 1e-5, greedy tokens; q8_0 as quantized at load)', async () => {
    const hf = await asFile()
    const metadata = mistral4Metadata(hf.config, 1.2)
    const tensors = mistral4Tensors(await source(), hf.config)
    const gguf = await loadModel(write('mistral4', metadata, tensors))
    assert.equal(gguf.config.architecture, 'Mistral4ForCausalLM')
    assert.deepEqual(features(gguf), features(hf))
    const diff = maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits)
    assert.ok(diff < 1e-5, `max |logit difference| ${diff}`)
    assert.deepEqual(await greedyTokens(gguf, [1, 17, 250, 3]), await greedyTokens(hf, [1, 17, 250, 3]))
    // Matrices whose rows are whole blocks in Q8_0, run as stored (the experts' stacks included); attn_k_b (rows of nope 16)
    // and the 3D attn_v_b stay F32 and, stacked back into kv_b, are quantized at load as the checkpoint's kv_b is.
    const q8 = await loadModel(write('mistral4-q8_0', metadata, tensors.flatMap((t) => (t.dims[0]! % 32 === 0 && !/attn_[kv]_b/.test(t.name) ? q8_0Matrices([t]) : [t]))))
    assert.ok(q8.tensors.some((t) => t.blockFormat === 'q8_0' && t.name.includes('.experts.')))
    assert.equal(maxAbsDifference((await promptLogits(q8, 'q8_0')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  })

  it('runs the latent norms at the file\'s rms eps, as llama.cpp\'s deepseek2 graph does, not the checkpoint class\'s 1e-6', async () => {
    const hf = await loadModel(await source())
    assert.equal(hf.config.mla!.latentNormEps, 1e-6)
    const gguf = await loadModel(write('mistral4-eps', mistral4Metadata(hf.config, 1.2), mistral4Tensors(await source(), hf.config)))
    assert.equal(gguf.config.mla!.latentNormEps, 1e-3)
  })

  it('runs Llama 4\'s query scale where the file carries attention.temperature_scale: the context capped as the checkpoint\'s', async () => {
    const hf = await loadModel(await source())
    const metadata = {...mistral4Metadata(hf.config, 1.2), 'mistral4.attention.temperature_scale': {type: 'f32', value: 0.1} as GgufEntry, 'mistral4.context_length': u32(256)}
    const gguf = await loadModel(write('mistral4-temperature', metadata, mistral4Tensors(await source(), hf.config)))
    assert.equal(gguf.config.maxPositionEmbeddings, hf.config.maxPositionEmbeddings)
    assert.ok(gguf.config.notes?.some((note) => /llama_4_scaling_beta/.test(note)))
  })

  it('refuses a malformed mistral4 file, naming the key or tensor', async () => {
    const hf = await asFile()
    const metadata = mistral4Metadata(hf.config, 1.2)
    const tensors = mistral4Tensors(await source(), hf.config)
    const stack = tensors.find((t) => t.name === 'blk.1.ffn_gate_up_exps.weight')!
    const cases: [Record<string, GgufEntry | null>, GgufTensorSpec[], RegExp][] = [
      [{'mistral4.expert_count': null}, tensors, /GGUF metadata mistral4\.expert_count is missing/],
      [{'mistral4.attention.kv_lora_rank': null}, tensors, /GGUF metadata mistral4\.attention\.kv_lora_rank is missing/],
      // Found by fuzz-model-files.ts --gguf: a key_length other than the latent cache's width loaded, unread.
      [{'mistral4.attention.key_length': u32(2 ** 31)}, tensors, /attention\.key_length 2147483648 is not 40 \(kv_lora_rank \+ rope\.dimension_count\)/],
      [{'mistral4.rope.scaling.yarn_log_multiplier': {type: 'string', value: '0.12'}}, tensors, /mistral4\.rope\.scaling\.yarn_log_multiplier must be a number/],
      [{'mistral4.rope.scaling.type': {type: 'string', value: 'linear'}}, tensors, /mistral4 rope scaling "linear" is not supported \(none or yarn\)/],
      [{'mistral4.expert_gating_func': u32(2)}, tensors, /mistral4\.expert_gating_func 2 is not supported: mistral4 routes with softmax scores/],
      [{}, tensors.filter((t) => t.name !== 'blk.2.ffn_down_exps.weight'), /down_proj|ffn_down_exps/],
      [{}, tensors.filter((t) => t.name !== 'blk.1.attn_kv_a_norm.weight'), /kv_a_layernorm|attn_kv_a_norm/],
      // A stack one expert short of expert_count.
      [{}, tensors.map((t) => (t === stack ? {...t, dims: [t.dims[0]!, t.dims[1]!, t.dims[2]! - 1], data: t.data.subarray(0, (t.data.length / t.dims[2]!) * (t.dims[2]! - 1))} : t)), /blk\.1\.ffn_gate_up_exps\.weight stacks 7 experts/],
    ]
    for (const [i, [edit, files, pattern]] of cases.entries()) {
      const edited = Object.fromEntries(Object.entries({...metadata, ...edit}).filter((entry): entry is [string, GgufEntry] => entry[1] !== null))
      await assert.rejects(loadModel(write(`mistral4-broken-${i}`, edited, files)), loadError(pattern), `case ${i}`)
    }
  })
})
