// The RMSNorm-family features (model/rms-variants.ts) the CUDA backend does not run yet; native/cuda/cuda_backend.cu
// refuses the same. Granite's multipliers (over dense and sparse MLPs), OLMo2's post-norms and whole-projection q/k
// norms and SmolLM3's layers without rope run there (rms_variant_kernels.cu), and Cohere's, OLMo's and PhiMoE's
// LayerNorms (weightless, weight-only or biased), Command R+'s per-head q/k LayerNorms, Cohere's parallel block, OLMo's
// clip_qkv (mean_norm_steps.h), PhiMoE's lm_head bias (norm_bias_weights.h) and its sparsemixer (sparsemixer_kernels.cu):
// what is left are Nemotron's, Arcee's and Apertus's ungated MLP (and Apertus's xIELU), BitNet's sub-norms and BitLinear
// quantization, NanoChat's embedding norm and sign-flipped rope, DiffLlama's differential attention, Hunyuan's q/k norms
// after rope (llama-twists.ts, relu2-families.ts), FlexOlmo's sparse MLPs after post-norms (moe_forward.cu norms the
// residual for its router and experts) and AFMoE's attention output gate.
import type {ModelConfig} from './model/model-config.js'

/** What keeps a model of these features on the CPU, in words; empty when the CUDA backend runs it (or has no variant). */
export function cudaRmsVariantGaps(config: Pick<ModelConfig, 'rmsVariant' | 'moe' | 'hiddenAct'>): string[] {
  const variant = config.rmsVariant
  if (!variant) return []
  const gaps: string[] = []
  if (variant.ungatedMlp) gaps.push('an ungated MLP')
  if (config.hiddenAct === 'xielu') gaps.push('the xIELU activation')
  if (variant.subNorms) gaps.push('norms before o_proj and down_proj')
  if (variant.bitLinear) gaps.push('ternary weights and int8 activations')
  if (variant.embeddingNorm) gaps.push('a norm on the embeddings')
  if (variant.reversedRope) gaps.push('a sign-flipped rope')
  if (variant.diffAttention) gaps.push('differential attention')
  if (variant.qkNormAfterRope) gaps.push('q/k norms after rope')
  if (variant.attentionOutputGate) gaps.push('an attention output gate')
  if (variant.postNormsOnly && config.moe) gaps.push('sparse MLPs reading the un-normed residual (post-norms only)')
  return gaps
}
