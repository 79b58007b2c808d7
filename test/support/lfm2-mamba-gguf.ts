// Writes a loaded LFM2, LFM2-MoE, Mamba / Falcon-Mamba or Jamba test model as llama.cpp's converter writes its GGUF
// file (LFM2Model, LFM2MoeModel, MambaModel, JambaModel): tensors renamed (LFM2's conv as shortconv.*, its final norm as
// token_embd_norm, its expert_bias as exp_probs_b.bias;
// Mamba's dt_proj as ssm_dt, x_proj as ssm_x), A stored as -exp(A_log), the convolutions squeezed, experts fused per
// layer; attention.head_count_kv per layer (0 for a conv or mixer layer), shortconv.l_cache, the ssm.* keys
// (ssm.dt_b_c_rms for Falcon-Mamba), the MLP width LFM2's converter adjusts; LFM2-MoE's expert keys (no
// routed_scaling_factor: the converter writes none).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat64} from '../../src/engine/model/safetensors.js'
import {f32, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts, ggufSpec} from './gguf-fused-experts.js'
import {familyVocabMetadata} from './llama-gguf.js'

export type Lfm2MambaArch = 'lfm2' | 'lfm2moe' | 'mamba' | 'jamba'

const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.gate.e_score_correction_bias': 'exp_probs_b.bias', 'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'conv.in_proj.weight': 'shortconv.in_proj.weight', 'conv.conv.weight': 'shortconv.conv.weight', 'conv.out_proj.weight': 'shortconv.out_proj.weight',
  'mamba.in_proj.weight': 'ssm_in.weight', 'mamba.conv1d.weight': 'ssm_conv1d.weight', 'mamba.conv1d.bias': 'ssm_conv1d.bias', 'mamba.x_proj.weight': 'ssm_x.weight',
  'mamba.dt_proj.weight': 'ssm_dt.weight', 'mamba.dt_proj.bias': 'ssm_dt.bias', 'mamba.A_log': 'ssm_a', 'mamba.D': 'ssm_d', 'mamba.out_proj.weight': 'ssm_out.weight',
  'mamba.dt_layernorm.weight': 'ssm_dt_norm.weight', 'mamba.b_layernorm.weight': 'ssm_b_norm.weight', 'mamba.c_layernorm.weight': 'ssm_c_norm.weight',
}

/** Every tensor of `hf` (under the engine's names) as the converter stores it. */
export function lfm2MambaTensors(hf: LoadedModel, arch: Lfm2MambaArch): GgufTensorSpec[] {
  const global: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': arch.startsWith('lfm2') ? 'token_embd_norm.weight' : 'output_norm.weight', 'lm_head.weight': 'output.weight'}
  const specs: GgufTensorSpec[] = []
  const experts = new FusedExperts()
  for (const tensor of hf.tensors) {
    let values: Float32Array<ArrayBuffer> = Float32Array.from(readTensorFloat64(tensor))
    if (experts.take(tensor, values)) continue
    const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const name = layer ? `blk.${layer[1]}.${LAYER[layer[2]!]}` : global[tensor.name]!
    if (name.endsWith('.ssm_a')) values = values.map((a) => -Math.exp(a))
    // The convolutions' [channels, 1, kernel] squeezed; the expert bias [experts], as the checkpoint has it (the loader reads it as one row).
    const shape = tensor.shape.length === 3 && /conv(1d)?\.weight$/.test(name) ? [tensor.shape[0]!, tensor.shape[2]!] : name.endsWith('.exp_probs_b.bias') ? [tensor.shape.at(-1)!] : tensor.shape
    specs.push(ggufSpec(name, [...shape].reverse(), values))
  }
  specs.push(...experts.specs())
  return specs
}

/** The metadata the converter writes for `hf` (from its config.json, as the converter reads hparams). */
export function lfm2MambaMetadata(hf: LoadedModel, arch: Lfm2MambaArch): Record<string, GgufEntry> {
  const c = hf.config
  const json = JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8')) as Record<string, unknown>
  const kvPerLayer = {type: 'i32s' as const, value: c.hybrid!.linearLayers.map((recurrent) => (recurrent ? 0 : c.numKvHeads))}
  const common: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps),
    ...familyVocabMetadata('gpt2', c.vocabSize),
  }
  if (arch === 'lfm2' || arch === 'lfm2moe') {
    const moe = c.moe
    return {
      ...common, [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.feed_forward_length`]: u32(c.intermediateSize),
      [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: kvPerLayer, [`${arch}.rope.freq_base`]: f32(c.ropeTheta),
      [`${arch}.vocab_size`]: u32(c.vocabSize), [`${arch}.shortconv.l_cache`]: u32(c.hybrid!.shortConv!.kernel),
      ...(moe ? {
        'lfm2moe.expert_count': u32(moe.numExperts), 'lfm2moe.expert_used_count': u32(moe.numExpertsPerToken),
        'lfm2moe.expert_feed_forward_length': u32(moe.expertIntermediateSize), 'lfm2moe.leading_dense_block_count': u32(moe.sparseLayers.indexOf(true)),
        'lfm2moe.expert_gating_func': u32(2),
      } : {}),
    }
  }
  const m = c.hybrid!.mamba1!
  const ssm: Record<string, GgufEntry> = {
    [`${arch}.ssm.conv_kernel`]: u32(m.convKernel), [`${arch}.ssm.inner_size`]: u32(m.innerSize), [`${arch}.ssm.state_size`]: u32(m.stateSize),
    [`${arch}.ssm.time_step_rank`]: u32(m.dtRank),
  }
  if (arch === 'mamba') {
    return {
      ...common, ...ssm, 'mamba.context_length': u32(1 << 20), 'mamba.feed_forward_length': u32(0), 'mamba.attention.head_count': u32(0),
      'mamba.ssm.dt_b_c_rms': {type: 'bool', value: m.dtBcNorm === 'unweighted'},
    }
  }
  return {
    ...common, ...ssm, 'jamba.context_length': u32(c.maxPositionEmbeddings), 'jamba.feed_forward_length': u32(Number(json.intermediate_size)),
    'jamba.attention.head_count': u32(c.numHeads), 'jamba.attention.head_count_kv': kvPerLayer,
    'jamba.expert_count': u32(Number(json.num_experts)), 'jamba.expert_used_count': u32(Number(json.num_experts_per_tok)),
  }
}
