// Writes a Nemotron-H or Falcon-H1 test checkpoint (read from its safetensors, as the converter reads it) as llama.cpp's
// converter writes its GGUF file (conversion/nemotron.py, falcon_h1.py over mamba.py / granite.py): Mamba-2 tensors as
// granitehybrid's (A as -exp(A_log) [1, heads], D [1, heads], conv1d squeezed, the gated norm [inner / groups, groups],
// dt_bias as ssm_dt.bias). nemotron_h / nemotron_h_moe: one block per checkpoint layer, q/k rows permuted for llama.cpp's
// rope, experts fused per layer, head_count_kv and feed_forward_length per block (0 where the block has none).
// falcon-h1: every muP multiplier folded into the weights as FalconH1Model.modify_tensors does.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import type {Mamba2Features} from '../../src/engine/model/mamba2-config.js'
import {readSafetensorsHeader, readTensorFloat64} from '../../src/engine/model/safetensors.js'
import {f32, llamaPermuted, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts} from './gguf-fused-experts.js'
import {mamba2TensorSpec} from './hybrid-gguf.js'
import {familyVocabMetadata} from './llama-gguf.js'

export type SsmHybridArch = 'nemotron_h' | 'nemotron_h_moe' | 'falcon-h1'

const GLOBAL: Record<string, string> = {
  'backbone.embeddings.weight': 'token_embd.weight', 'backbone.norm_f.weight': 'output_norm.weight',
  'model.embed_tokens.weight': 'token_embd.weight', 'model.final_layernorm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight',
}
const MIXER: Record<string, string> = {
  'in_proj.weight': 'ssm_in.weight', 'conv1d.weight': 'ssm_conv1d.weight', 'conv1d.bias': 'ssm_conv1d.bias', dt_bias: 'ssm_dt.bias', A_log: 'ssm_a', D: 'ssm_d',
  'norm.weight': 'ssm_norm.weight', 'out_proj.weight': 'ssm_out.weight',
}
const NEMOTRON_LAYER: Record<string, string> = {
  'norm.weight': 'attn_norm.weight', ...Object.fromEntries(Object.entries(MIXER).map(([hf, gguf]) => [`mixer.${hf}`, gguf])),
  'mixer.q_proj.weight': 'attn_q.weight', 'mixer.k_proj.weight': 'attn_k.weight', 'mixer.v_proj.weight': 'attn_v.weight', 'mixer.o_proj.weight': 'attn_output.weight',
  'mixer.up_proj.weight': 'ffn_up.weight', 'mixer.down_proj.weight': 'ffn_down.weight', 'mixer.gate.weight': 'ffn_gate_inp.weight',
  'mixer.gate.e_score_correction_bias': 'exp_probs_b.bias', 'mixer.shared_experts.up_proj.weight': 'ffn_up_shexp.weight',
  'mixer.shared_experts.down_proj.weight': 'ffn_down_shexp.weight', 'mixer.fc1_latent_proj.weight': 'ffn_latent_down.weight', 'mixer.fc2_latent_proj.weight': 'ffn_latent_up.weight',
}
const FALCON_LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'pre_ff_layernorm.weight': 'ffn_norm.weight', ...Object.fromEntries(Object.entries(MIXER).map(([hf, gguf]) => [`mamba.${hf}`, gguf])),
  'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
  'feed_forward.gate_proj.weight': 'ffn_gate.weight', 'feed_forward.up_proj.weight': 'ffn_up.weight', 'feed_forward.down_proj.weight': 'ffn_down.weight',
}

const configJson = (hf: LoadedModel) => JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8')) as Record<string, unknown>


/** Falcon-H1's multipliers folded in, as FalconH1Model.modify_tensors scales each weight (in_proj by row block z / x / B / C / dt). */
function folded(json: Record<string, unknown>, m: Mamba2Features, suffix: string, values: Float32Array<ArrayBuffer>, cols: number): Float32Array<ArrayBuffer> {
  const n = (key: string) => Number(json[key] ?? 1)
  const [mlpGate, mlpDown] = (json.mlp_multipliers as number[] | undefined) ?? [1, 1]
  const scale = (by: number) => values.map((v) => v * by)
  if (suffix === 'feed_forward.gate_proj.weight') return scale(mlpGate!)
  if (suffix === 'feed_forward.down_proj.weight') return scale(mlpDown!)
  if (suffix === 'self_attn.k_proj.weight') return scale(n('key_multiplier') * n('attention_in_multiplier'))
  if (suffix === 'self_attn.q_proj.weight' || suffix === 'self_attn.v_proj.weight') return scale(n('attention_in_multiplier'))
  if (suffix === 'self_attn.o_proj.weight') return scale(n('attention_out_multiplier'))
  if (suffix === 'mamba.out_proj.weight') return scale(n('ssm_out_multiplier'))
  if (suffix === 'model.embed_tokens.weight') return scale(n('embedding_multiplier'))
  if (suffix === 'lm_head.weight') return scale(n('lm_head_multiplier'))
  if (suffix !== 'mamba.in_proj.weight') return values
  const inner = m.heads * m.headDim
  const bc = m.groups * m.stateSize
  const ends = [inner, 2 * inner, 2 * inner + bc, 2 * inner + 2 * bc, Infinity]
  const multipliers = (json.ssm_multipliers as number[] | undefined) ?? [1, 1, 1, 1, 1]
  return values.map((v, i) => v * n('ssm_in_multiplier') * multipliers[ends.findIndex((end) => Math.floor(i / cols) < end)]!)
}

/** Every tensor of the checkpoint as the converter stores it. */
export function ssmHybridTensors(hf: LoadedModel, arch: SsmHybridArch): GgufTensorSpec[] {
  const c = hf.config
  const m = c.hybrid!.mamba2!
  const json = configJson(hf)
  const falcon = arch === 'falcon-h1'
  const specs: GgufTensorSpec[] = []
  const experts = new FusedExperts()
  for (const tensor of readSafetensorsHeader(join(hf.dir, 'model.safetensors'))) {
    let values: Float32Array<ArrayBuffer> = Float32Array.from(readTensorFloat64(tensor))
    if (experts.take(tensor, values)) continue
    const cols = tensor.shape.at(-1)!
    const layer = /^(?:backbone|model)\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const suffix = layer?.[2] ?? tensor.name
    const name = layer ? `blk.${layer[1]}.${(falcon ? FALCON_LAYER : NEMOTRON_LAYER)[suffix]}` : GLOBAL[tensor.name]!
    if (falcon) values = folded(json, m, suffix, values, cols)
    else if (suffix === 'mixer.q_proj.weight') values = llamaPermuted(values, c.numHeads, cols)
    else if (suffix === 'mixer.k_proj.weight') values = llamaPermuted(values, c.numKvHeads, cols)
    specs.push(mamba2TensorSpec(name, tensor.shape, values, m))
  }
  specs.push(...experts.specs())
  return specs
}

/** The metadata the converter writes for the checkpoint (from its config.json, as the converter reads hparams). */
export function ssmHybridMetadata(hf: LoadedModel, arch: SsmHybridArch): Record<string, GgufEntry> {
  const c = hf.config
  const m = c.hybrid!.mamba2!
  const json = configJson(hf)
  const common: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.attention.head_count`]: u32(c.numHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps), [`${arch}.vocab_size`]: u32(c.vocabSize),
    [`${arch}.ssm.conv_kernel`]: u32(m.convKernel), [`${arch}.ssm.state_size`]: u32(m.stateSize), [`${arch}.ssm.group_count`]: u32(m.groups),
    [`${arch}.ssm.inner_size`]: u32(m.heads * m.headDim), [`${arch}.ssm.time_step_rank`]: u32(m.heads),
    ...familyVocabMetadata('gpt2', c.vocabSize),
  }
  if (arch === 'falcon-h1') {
    return {
      ...common, 'falcon-h1.block_count': u32(c.numLayers), 'falcon-h1.context_length': u32(c.maxPositionEmbeddings),
      'falcon-h1.feed_forward_length': u32(c.intermediateSize), 'falcon-h1.attention.head_count_kv': u32(c.numKvHeads), 'falcon-h1.rope.freq_base': f32(c.ropeTheta),
    }
  }
  const pattern = [...String(json.hybrid_override_pattern)]
  const moe = c.moe
  const width = moe ? moe.expertIntermediateSize : c.intermediateSize
  const entries: Record<string, GgufEntry> = {
    ...common, [`${arch}.block_count`]: u32(pattern.length), [`${arch}.context_length`]: u32(1 << 20),
    [`${arch}.attention.head_count_kv`]: {type: 'i32s', value: pattern.map((kind) => (kind === '*' ? c.numKvHeads : 0))},
    [`${arch}.feed_forward_length`]: {type: 'i32s', value: pattern.map((kind) => (kind === '-' || kind === 'E' ? width : 0))},
    [`${arch}.rope.scaling.finetuned`]: {type: 'bool', value: false},
  }
  if (!moe) return entries
  return {
    ...entries, 'nemotron_h_moe.expert_count': u32(moe.numExperts), 'nemotron_h_moe.expert_used_count': u32(moe.numExpertsPerToken),
    'nemotron_h_moe.expert_feed_forward_length': u32(moe.expertIntermediateSize), 'nemotron_h_moe.expert_shared_feed_forward_length': u32(moe.sharedExpertIntermediateSize!),
    'nemotron_h_moe.expert_shared_count': u32(1), 'nemotron_h_moe.expert_weights_norm': {type: 'bool', value: moe.normTopkProb},
    'nemotron_h_moe.expert_weights_scale': f32(moe.grouped!.routedScalingFactor), 'nemotron_h_moe.expert_group_count': u32(moe.grouped!.groups),
    // Not written by the converter; llama.cpp needs it for a file with more than one group.
    'nemotron_h_moe.expert_group_used_count': u32(moe.grouped!.topkGroups),
    ...(moe.latentSize !== undefined ? {'nemotron_h_moe.moe_latent_size': u32(moe.latentSize)} : {}),
  }
}
