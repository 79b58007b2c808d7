// Writes the kimi-linear test checkpoint as llama.cpp's converter writes its GGUF file (conversion/kimi_linear.py):
// the KDA convolutions reshaped to ggml [kernel, 1, channels, 1], A stored as -exp(A_log) in ggml [1, heads, 1, 1],
// dt_bias as ssm_dt.bias, the KDA projections as ssm_f_a / ssm_f_b / ssm_beta / ssm_g_a / ssm_g_b / ssm_norm, kv_b split
// into attn_k_b [heads, kv_lora_rank, nope] (each head's rows transposed) and attn_v_b [heads, v, kv_lora_rank],
// experts (w1 gate, w3 up, w2 down) fused per layer, the router bias as exp_probs_b.bias; head_count_kv per layer (0
// for a KDA layer, 1 for a latent one: the MQA form) and the keys set_gguf_parameters writes.
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {readCheckpointTensors, readTensorFloat32, writeSafetensors} from '../../src/engine/model/safetensors.js'
import {f32, GGUF_GLOBAL_NAMES, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts, ggufSpec} from './gguf-fused-experts.js'
import {familyVocabMetadata} from './llama-gguf.js'

type Json = Record<string, any>

const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_conv1d.weight': 'ssm_conv1d_q.weight', 'self_attn.k_conv1d.weight': 'ssm_conv1d_k.weight', 'self_attn.v_conv1d.weight': 'ssm_conv1d_v.weight',
  'self_attn.f_a_proj.weight': 'ssm_f_a.weight', 'self_attn.f_b_proj.weight': 'ssm_f_b.weight', 'self_attn.b_proj.weight': 'ssm_beta.weight',
  'self_attn.g_a_proj.weight': 'ssm_g_a.weight', 'self_attn.g_b_proj.weight': 'ssm_g_b.weight', 'self_attn.o_norm.weight': 'ssm_norm.weight',
  'self_attn.A_log': 'ssm_a', 'self_attn.dt_bias': 'ssm_dt.bias',
  'self_attn.kv_a_proj_with_mqa.weight': 'attn_kv_a_mqa.weight', 'self_attn.kv_a_layernorm.weight': 'attn_kv_a_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'block_sparse_moe.gate.weight': 'ffn_gate_inp.weight', 'block_sparse_moe.gate.e_score_correction_bias': 'exp_probs_b.bias',
  'block_sparse_moe.shared_experts.gate_proj.weight': 'ffn_gate_shexp.weight', 'block_sparse_moe.shared_experts.up_proj.weight': 'ffn_up_shexp.weight',
  'block_sparse_moe.shared_experts.down_proj.weight': 'ffn_down_shexp.weight',
}
const EXPERT_PARTS: Record<string, string> = {w1: 'gate', w3: 'up', w2: 'down'}

/**
 * The kimi-linear test checkpoint in `source` rewritten to `dir` as a Kimi Linear llama.cpp can hold: its latent
 * attention cut to the KDA layers' head count (the first heads of q_proj, kv_b_proj and o_proj's columns), since
 * llama.cpp sizes both by attention.head_count, and routed over one group, as the converter's files say (it writes no
 * group count for Kimi's config.json).
 */
export function kimiLinearForGguf(source: string, dir: string): string {
  cpSync(source, dir, {recursive: true})
  const json = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Json
  const heads: number = json.linear_attn_config.num_heads
  const [nope, rope, v]: number[] = [json.qk_nope_head_dim, json.qk_rope_head_dim, json.v_head_dim]
  writeFileSync(join(dir, 'config.json'), JSON.stringify({...json, num_attention_heads: heads, num_key_value_heads: heads, num_expert_group: 1, topk_group: 1}))
  const tensors = readCheckpointTensors(source).map((t) => {
    let values = readTensorFloat32(t)
    let shape = t.shape
    const [rows, cols] = t.shape as [number, number]
    const latent = /^model\.layers\.(\d+)\.self_attn\.(q_proj|kv_b_proj|o_proj)\.weight$/.exec(t.name)
    if (latent && !json.linear_attn_config.kda_layers.includes(Number(latent[1]) + 1)) {
      if (latent[2] === 'o_proj') {
        const kept = heads * v
        values = Float32Array.from({length: rows * kept}, (_, i) => values[Math.floor(i / kept) * cols + (i % kept)]!)
        shape = [rows, kept]
      } else {
        const kept = heads * (latent[2] === 'kv_b_proj' ? nope + v : nope + rope)
        values = values.slice(0, kept * cols)
        shape = [kept, cols]
      }
    }
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
    return {name: t.name, dtype: 'F32' as const, shape, data: () => bytes}
  })
  writeSafetensors(join(dir, 'model.safetensors'), tensors)
  return dir
}

/** Every tensor of the checkpoint in `dir` as the converter stores it (legacyKvB: kv_b whole, as attn_kv_b, which llama.cpp still reads). */
export function kimiLinearGgufTensors(dir: string, options: {legacyKvB?: boolean} = {}): GgufTensorSpec[] {
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json
  const heads: number = json.num_key_value_heads
  const [nope, v]: number[] = [json.qk_nope_head_dim, json.v_head_dim]
  const specs: GgufTensorSpec[] = []
  const experts = new FusedExperts()
  for (const tensor of readCheckpointTensors(dir)) {
    let values = Float32Array.from(readTensorFloat32(tensor))
    const expert = /^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$/.exec(tensor.name)
    if (expert && experts.take({...tensor, name: `model.layers.${expert[1]}.mlp.experts.${expert[2]}.${EXPERT_PARTS[expert[3]!]}_proj.weight`}, values)) continue
    if (GGUF_GLOBAL_NAMES[tensor.name]) {
      specs.push(ggufSpec(GGUF_GLOBAL_NAMES[tensor.name]!, [...tensor.shape].reverse(), values))
      continue
    }
    const [, layer, suffix] = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)!
    const blk = `blk.${layer}`
    if (suffix === 'self_attn.kv_b_proj.weight' && options.legacyKvB) {
      specs.push(ggufSpec(`${blk}.attn_kv_b.weight`, [...tensor.shape].reverse(), values))
      continue
    }
    if (suffix === 'self_attn.kv_b_proj.weight') {
      const rank = tensor.shape[1]!
      const [k, vb] = [new Float32Array(heads * nope * rank), new Float32Array(heads * v * rank)]
      for (let h = 0; h < heads; h++) {
        for (let r = 0; r < nope + v; r++) {
          for (let j = 0; j < rank; j++) {
            const value = values[(h * (nope + v) + r) * rank + j]!
            if (r < nope) k[(h * rank + j) * nope + r] = value
            else vb[(h * v + r - nope) * rank + j] = value
          }
        }
      }
      specs.push(ggufSpec(`${blk}.attn_k_b.weight`, [nope, rank, heads], k), ggufSpec(`${blk}.attn_v_b.weight`, [rank, v, heads], vb))
      continue
    }
    const name = `${blk}.${LAYER[suffix!]!}`
    if (suffix === 'self_attn.A_log') {
      values = values.map((a) => -Math.exp(a))
      specs.push(ggufSpec(name, [1, tensor.shape[2]!, 1, 1], values))
    } else if (/_conv1d\.weight$/.test(suffix!)) {
      specs.push(ggufSpec(name, [tensor.shape[2]!, 1, tensor.shape[0]!, 1], values))
    } else {
      specs.push(ggufSpec(name, [...tensor.shape].reverse(), values))
    }
  }
  specs.push(...experts.specs())
  return specs
}

/** The metadata the converter writes for the checkpoint in `dir` (its config.json as the converter's hparams). */
export function kimiLinearGgufMetadata(dir: string, vocabSize: number): Record<string, GgufEntry> {
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json
  const linear = json.linear_attn_config
  const keys: Record<string, GgufEntry> = {
    block_count: u32(json.num_hidden_layers), context_length: u32(json.model_max_length), embedding_length: u32(json.hidden_size),
    feed_forward_length: u32(json.intermediate_size), 'attention.head_count': u32(json.num_attention_heads),
    'attention.head_count_kv': {type: 'i32s', value: Array.from({length: json.num_hidden_layers}, (_, i) => (linear.full_attn_layers.includes(i + 1) ? 1 : 0))},
    'rope.freq_base': f32(json.rope_theta ?? 10000), 'attention.layer_norm_rms_epsilon': f32(json.rms_norm_eps),
    expert_count: u32(json.num_experts), expert_used_count: u32(json.num_experts_per_token), expert_group_used_count: u32(json.topk_group),
    expert_gating_func: u32(2), vocab_size: u32(vocabSize),
    'ssm.conv_kernel': u32(linear.short_conv_kernel_size), 'kda.head_dim': u32(linear.head_dim),
    ...(json.q_lora_rank != null ? {'attention.q_lora_rank': u32(json.q_lora_rank)} : {}),
    'attention.kv_lora_rank': u32(json.kv_lora_rank), 'rope.dimension_count': u32(json.qk_rope_head_dim),
    'attention.key_length': u32(json.kv_lora_rank + json.qk_rope_head_dim), 'attention.key_length_mla': u32(json.qk_nope_head_dim + json.qk_rope_head_dim),
    'attention.value_length_mla': u32(json.v_head_dim), expert_feed_forward_length: u32(json.moe_intermediate_size),
    expert_shared_count: u32(json.num_shared_experts), leading_dense_block_count: u32(json.first_k_dense_replace), expert_weights_scale: f32(json.routed_scaling_factor),
  }
  return {
    'general.architecture': {type: 'string', value: 'kimi-linear'},
    ...Object.fromEntries(Object.entries(keys).map(([key, value]) => [`kimi-linear.${key}`, value])),
    ...familyVocabMetadata('gpt2', vocabSize),
  }
}
