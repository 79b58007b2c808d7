// The RMSNorm-family features (model/rms-variants.ts) the CUDA backend does not run yet; native/cuda/cuda_backend.cu
// refuses the same. Granite's multipliers (over dense and sparse MLPs), OLMo2's post-norms and whole-projection q/k
// norms and SmolLM3's layers without rope run there (rms_variant_kernels.cu), and Cohere's, OLMo's and PhiMoE's
// LayerNorms (weightless, weight-only or biased), Command R+'s per-head q/k LayerNorms, Cohere's parallel block, OLMo's
// clip_qkv (mean_norm_steps.h), PhiMoE's lm_head bias (norm_bias_weights.h) and its sparsemixer (sparsemixer_kernels.cu):
// every variant here today, so the list is empty; a new variant's missing step is named here.
import type {ModelConfig} from './model/model-config.js'

/** What keeps a model of these features on the CPU, in words; empty when the CUDA backend runs it (or has no variant). */
export function cudaRmsVariantGaps(config: Pick<ModelConfig, 'rmsVariant' | 'moe'>): string[] {
  const variant = config.rmsVariant
  if (!variant) return []
  const gaps: string[] = []  // a variant's missing step: if (variant.feature) gaps.push('its name in words')
  return gaps
}
