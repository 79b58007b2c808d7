// NanoChat (karpathy/nanochat, NanoChatForCausalLM): Llama's block with every RMSNorm weightless (the final one also
// normalises the embeddings), a rope whose rotate_half is sign-flipped (a turn by -angle), weightless per-head q/k norms
// after it, CLIP's ungated relu2 MLP (mlp.fc1 / mlp.fc2) and Gemma 2's final logit soft cap. Read as transformers 5.18's
// NanoChatConfig and modeling read them; rms-variants.ts carries it to the CPU backend.
import {ModelLoadError, quotedValue} from '../errors.js'

export const NANOCHAT = 'NanoChatForCausalLM'

type Json = Record<string, unknown>

/** NanoChatConfig's defaults where the shared parser's differ: relu2, bos 0, eos 1. */
export function nanochatView(config: Json): Json {
  return {hidden_act: 'relu2', bos_token_id: 0, eos_token_id: 1, ...config}
}

/** final_logit_softcapping: 15 by default, null for none (0). */
export function nanochatLogitSoftcap(config: Json, source: string): number {
  const cap = config.final_logit_softcapping === undefined ? 15 : config.final_logit_softcapping
  if (cap === null) return 0
  if (typeof cap !== 'number' || !Number.isFinite(cap) || cap <= 0) throw new ModelLoadError(`${source}: "final_logit_softcapping" must be a positive number or null, got ${quotedValue(cap)}.`)
  return cap
}
