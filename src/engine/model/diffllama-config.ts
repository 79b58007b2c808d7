// DiffLlama (DiffLlamaForCausalLM): Llama's layers with differential attention, each pair of heads (p, p + heads / 2)
// the difference of two softmax-weighted value mixes, scaled by the layer's learned lambda (self_attn.lambda_q1 / k1 /
// q2 / k2) and RMS-normed (native/cpu/diff_attention.cpp). Read as transformers 5.18's DiffLlamaConfig and
// DiffLlamaAttention read them; rms-variants.ts carries it to the CPU backend.
import {ModelLoadError} from '../errors.js'

export const DIFFLLAMA = 'DiffLlamaForCausalLM'

type Json = Record<string, unknown>

/** DiffLlamaConfig's defaults where the shared parser's differ: eps 1e-5, bos 1, eos 2. */
export function diffllamaView(config: Json): Json {
  return {rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 2, ...config}
}

/** Its attention splits the values by halves of the KV heads and pairs the query heads' halves: both counts even. */
export function checkDiffAttentionHeads(numHeads: number, numKvHeads: number, source: string): void {
  if (numKvHeads % 2 !== 0) throw new ModelLoadError(`${source}: DiffLlama needs an even num_key_value_heads (its differential attention splits the values by halves of the KV heads), got ${numKvHeads}.`)
  if (numHeads % 2 !== 0) throw new ModelLoadError(`${source}: DiffLlama needs an even num_attention_heads, got ${numHeads}.`)
}

/** A layer's four lambda vectors, [head_dim] each. */
export function diffLambdaShapes(prefix: string, headDim: number): {name: string; shape: number[]}[] {
  return ['lambda_q1', 'lambda_k1', 'lambda_q2', 'lambda_k2'].map((name) => ({name: `${prefix}.self_attn.${name}`, shape: [headDim]}))
}
