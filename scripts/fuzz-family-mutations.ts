// Config mutations that reach the newer families' own keys: per-layer arrays and pattern strings element by element,
// keys two objects deep (rope_parameters per layer type, per_layer_config; fuzz-model-mutations.ts does one deep), and values that are each fine alone but
// contradict another key or the layer count (MLA ranks, expert groups, SSM heads and groups, hybrid layer periods).
// Every label starts "config.json family:" so `fuzz-model-files.ts --match family:` runs these alone.
import type {HostileCase} from './fuzz-model-mutations.js'
import {DELETE, isObject, show, withPath, type Json} from './fuzz-json-edits.js'


/** Element values a per-layer array should never hold. */
const HOSTILE_ELEMENTS: unknown[] = ['banana', null, -1, 0.5, 1e9, [], {}]
/** Values for keys two objects deep (fewer than the top level's: there are many of them). */
const DEEP_VALUES: unknown[] = [DELETE, null, '7', -1, 0, 1e30, 'x']

export function familyCases(config: Json): HostileCase[] {
  // A multimodal wrapper's text model is mutated in place as well.
  const scopes: [string, Json, (inner: Json) => Json][] = [['', config, (inner) => inner]]
  if (isObject(config.text_config)) scopes.push(['text_config.', config.text_config, (inner) => ({...config, text_config: inner})])
  const cases: HostileCase[] = []
  for (const [prefix, scope, wrap] of scopes) {
    const layers = typeof scope.num_hidden_layers === 'number' ? scope.num_hidden_layers : 0
    const push = (label: string, edited: Json) => cases.push({label: `config.json family: ${prefix}${label}`, files: {'config.json': JSON.stringify(wrap(edited))}})
    for (const [path, value] of walk(scope)) {
      if (Array.isArray(value)) for (const [label, array] of arrayEdits(value, layers)) push(`${path.join('.')} ${label}`, withPath(scope, path, array))
      else if (typeof value === 'string' && /^[-*ME]{2,}$/.test(value)) for (const [label, text] of patternEdits(value)) push(`${path.join('.')} ${label}`, withPath(scope, path, text))
      else if (path.length === 3) for (const hostile of DEEP_VALUES) push(`${path.join('.')} = ${show(hostile)}`, withPath(scope, path, hostile))
    }
    for (const [label, edit] of relationEdits(scope, layers)) push(label, {...scope, ...edit})
  }
  return cases
}

/** Each key path of arrays, strings and numbers, up to two objects deep. */
function walk(object: Json, path: string[] = []): [string[], unknown][] {
  const found: [string[], unknown][] = []
  for (const [key, value] of Object.entries(object)) {
    if (key === 'pagedllm_test_model' || key === 'text_config' || key === 'architectures') continue
    if (isObject(value)) {
      if (path.length < 2) found.push(...walk(value, [...path, key]))
    } else found.push([[...path, key], value])
  }
  return found
}

function arrayEdits(array: unknown[], layers: number): [string, unknown[]][] {
  const edits: [string, unknown[]][] = [
    ['one element short', array.slice(0, -1)],
    ['one element long', [...array, array.at(-1)]],
    ['reversed', [...array].reverse()],
    ['all the first element', array.map(() => array[0])],
    ['all the last element', array.map(() => array.at(-1))],
  ]
  if (layers > 0 && array.length !== layers) edits.push(['as long as the layers', Array.from({length: layers}, (_, i) => array[i % Math.max(array.length, 1)])])
  for (const hostile of HOSTILE_ELEMENTS) edits.push([`first element ${show(hostile)}`, [hostile, ...array.slice(1)]])
  if (array.every((v) => typeof v === 'number')) edits.push(['an element past the layers', [...array.slice(0, -1), layers + 5]], ['duplicated', [...array, ...array]])
  return edits
}

function patternEdits(pattern: string): [string, string][] {
  return [
    ['one character short', pattern.slice(0, -1)],
    ['one character long', `${pattern}M`],
    ['an unknown character', `X${pattern.slice(1)}`],
    ['lower case', pattern.toLowerCase()],
    ...[...'M*-E'].map((c): [string, string] => [`all "${c}"`, c.repeat(pattern.length)]),
    ['with a space', `${pattern.slice(0, 1)} ${pattern.slice(2)}`],
  ]
}

/** Values that contradict another key: each applies only where the base config has the key it edits. */
function relationEdits(scope: Json, layers: number): [string, Json][] {
  const n = (key: string) => (typeof scope[key] === 'number' ? (scope[key] as number) : 0)
  const experts = n('n_routed_experts') || n('num_experts') || n('num_local_experts') || n('moe_num_experts')
  const edits: [string, Json][] = [
    // MLA
    ['qk_rope_head_dim odd', {qk_rope_head_dim: 7}],
    ['qk_rope_head_dim 0', {qk_rope_head_dim: 0}],
    ['kv_lora_rank above hidden', {kv_lora_rank: n('hidden_size') * 4}],
    ['q_lora_rank null (no q LoRA, checkpoint has one)', {q_lora_rank: null}],
    ['qk_nope_head_dim 0', {qk_nope_head_dim: 0}],
    ['v_head_dim 0', {v_head_dim: 0}],
    // experts and their groups
    ['n_group not dividing the experts', {n_group: 3, num_expert_group: 3}],
    ['topk_group above n_group', {topk_group: n('n_group') + n('num_expert_group') + 1}],
    ['n_group above the experts', {n_group: experts * 2, num_expert_group: experts * 2}],
    ['num_experts_per_tok above the experts', {num_experts_per_tok: experts + 1, num_experts_per_token: experts + 1, top_k_experts: experts + 1, moe_topk: experts + 1}],
    ['first_k_dense_replace = layers (no MoE layer)', {first_k_dense_replace: layers}],
    ['first_k_dense_replace above layers', {first_k_dense_replace: layers + 3}],
    ['num_dense_layers above layers', {num_dense_layers: layers + 3}],
    ['decoder_sparse_step 0', {decoder_sparse_step: 0}],
    ['decoder_sparse_step above layers', {decoder_sparse_step: layers + 1}],
    ['interleave_moe_layer_step 0', {interleave_moe_layer_step: 0}],
    ['expert_layer_period 0', {expert_layer_period: 0}],
    ['expert_layer_offset = period', {expert_layer_offset: n('expert_layer_period')}],
    ['n_shared_experts 0 (checkpoint has one)', {n_shared_experts: 0, num_shared_experts: 0, moe_num_shared_experts: 0, shared_intermediate_size: 0}],
    ['moe_intermediate_size doubled', {moe_intermediate_size: n('moe_intermediate_size') * 2}],
    ['routed_scaling_factor -1', {routed_scaling_factor: -1}],
    // hybrid layer placement
    ['attn_layer_period 0', {attn_layer_period: 0}],
    ['attn_layer_offset = period', {attn_layer_offset: n('attn_layer_period')}],
    ['attn_layer_period above layers', {attn_layer_period: layers + 1}],
    ['num_kv_shared_layers = layers', {num_kv_shared_layers: layers}],
    ['num_kv_shared_layers above layers', {num_kv_shared_layers: layers + 2}],
    ['num_kv_shared_layers = layers - 1', {num_kv_shared_layers: layers - 1}],
    ['global_attn_every_n_layers 0', {global_attn_every_n_layers: 0}],
    ['no_rope_layer_interval 0', {no_rope_layer_interval: 0}],
    ['attention_chunk_size 0', {attention_chunk_size: 0}],
    ['sliding_window 0', {sliding_window: 0}],
    ['num_hidden_layers one more (arrays keep their length)', {num_hidden_layers: layers + 1}],
    ['num_hidden_layers one less', {num_hidden_layers: layers - 1}],
    // SSM sizes
    ['n_groups not dividing the heads', {n_groups: 3, mamba_n_groups: 3, mamba_ngroups: 3}],
    ['SSM heads not dividing the inner size', {mamba_num_heads: 7, mamba_n_heads: 7, num_heads: 7, n_mamba_heads: 7}],
    ['SSM head dim doubled', {mamba_head_dim: n('mamba_head_dim') * 2, mamba_d_head: n('mamba_d_head') * 2}],
    ['conv kernel 1', {conv_kernel: 1, mamba_d_conv: 1, linear_conv_kernel_dim: 1, conv_L_cache: 1}],
    ['conv kernel 2^20', {conv_kernel: 2 ** 20, mamba_d_conv: 2 ** 20, linear_conv_kernel_dim: 2 ** 20, conv_L_cache: 2 ** 20}],
    ['state size 2^20', {ssm_state_size: 2 ** 20, state_size: 2 ** 20, mamba_d_state: 2 ** 20}],
    ['chunk_size 0', {chunk_size: 0, mamba_chunk_size: 0}],
    ['expand 3', {expand: 3, mamba_expand: 3}],
    ['mamba_d_ssm not heads x head dim', {mamba_d_ssm: n('mamba_d_ssm') + 6}],
    ['time_step_rank 0', {time_step_rank: 0, mamba_dt_rank: 0}],
    ['time_step_limit reversed', {time_step_limit: [1000, 0.001]}],
    // linear attention
    ['linear value heads not a multiple of key heads', {linear_num_value_heads: 3}],
    ['linear_key_head_dim odd', {linear_key_head_dim: 15}],
    ['linear_num_key_heads 0', {linear_num_key_heads: 0}],
    // per-layer shapes (Gemma 4)
    ['global_head_dim odd', {global_head_dim: 33}],
    ['hidden_size_per_layer_input doubled', {hidden_size_per_layer_input: n('hidden_size_per_layer_input') * 2}],
    ['per_layer_config for layer 99', {per_layer_config: {99: {head_dim: 16}}}],
    ['per_layer_config for layer -1', {per_layer_config: {'-1': {head_dim: 16}}}],
    ['per_layer_config layer "x"', {per_layer_config: {x: {head_dim: 16}}}],
    ['per_layer_config head_dim 7', {per_layer_config: {1: {head_dim: 7}}}],
    ['per_layer_config unknown key', {per_layer_config: {1: {banana: 3}}}],
    // Gemma 3n's AltUp streams, LAuReL and sparse MLP gates
    ['altup_active_idx = altup_num_inputs', {altup_active_idx: n('altup_num_inputs')}],
    ['altup_num_inputs 1', {altup_num_inputs: 1}],
    ['laurel_rank doubled', {laurel_rank: n('laurel_rank') * 2}],
    ['vocab_size_per_layer_input above vocab_size', {vocab_size_per_layer_input: n('vocab_size') * 2}],
    ['activation sparsity 1 on the first layer', {activation_sparsity_pattern: Array.isArray(scope.activation_sparsity_pattern) ? [1, ...scope.activation_sparsity_pattern.slice(1)] : undefined}],
    // rope sections and partial rotary (CodeGen's and GPT-J's rotary_dim)
    ['rotary_dim above the head size', {rotary_dim: n('n_embd')}],
    ['rotary_dim odd', {rotary_dim: 3}],
    ['partial_rotary_factor 0', {partial_rotary_factor: 0}],
    ['partial_rotary_factor 1.5', {partial_rotary_factor: 1.5}],
    ['partial_rotary_factor giving an odd rotary dim', {partial_rotary_factor: 0.3}],
  ]
  // Only the keys the family has: a key it does not read would make a case that tests nothing.
  return edits.map(([label, edit]): [string, Json] => [label, Object.fromEntries(Object.entries(edit).filter(([key]) => key in scope))]).filter(([, edit]) => Object.keys(edit).length > 0)
}



