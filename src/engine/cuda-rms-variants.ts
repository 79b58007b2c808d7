// The RMSNorm-family features (model/rms-variants.ts) the CUDA backend does not run yet; native/cuda/cuda_backend.cu
// refuses the same. Granite's multipliers, OLMo2's post-norms and whole-projection q/k norms and SmolLM3's layers
// without rope run there (rms_variant_kernels.cu), and Cohere's and OLMo's LayerNorms (weightless or not), Cohere's
// parallel block and OLMo's clip_qkv (mean_norm_steps.h).
import type {ModelConfig} from './model/model-config.js'

/** What keeps a model of these features on the CPU, in words; empty when the CUDA backend runs it (or has no variant). */
export function cudaRmsVariantGaps(config: Pick<ModelConfig, 'rmsVariant' | 'moe'>): string[] {
  const variant = config.rmsVariant
  if (!variant) return []
  const gaps: string[] = []
  // GraniteMoE: its fused experts and the multipliers together are unchecked on CUDA, whatever runs sparse MLPs there.
  if (config.moe && (variant.residualMultiplier !== 1 || variant.logitsMultiplier !== 1)) gaps.push("Granite's multipliers with sparse MLPs")
  if (variant.normBias) gaps.push('biased LayerNorms')
  if (variant.headBias) gaps.push('an lm_head bias')
  if (variant.ungatedMlp) gaps.push('an ungated MLP')
  if (variant.qkNormAfterRope) gaps.push('q/k norms after rope')
  return gaps
}
