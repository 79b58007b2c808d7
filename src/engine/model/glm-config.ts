// GLM-4 (GlmForCausalLM, the 9B) and GLM-4-0414 (Glm4ForCausalLM): Llama's attention with q/k/v biases and an interleaved
// rope on the first half of each head (llama-twists.ts), Phi-3's fused gate_up_proj; GLM-4-0414 adds Gemma 2-style
// sandwich norms under its own names (tensor-renames.ts). Read as transformers 5.18's GlmConfig / Glm4Config read them.

export const GLM_ARCHITECTURES = ['GlmForCausalLM', 'Glm4ForCausalLM'] as const

export function isGlm(architecture: string): boolean {
  return (GLM_ARCHITECTURES as readonly string[]).includes(architecture)
}
