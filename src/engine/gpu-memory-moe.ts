// The CUDA backend's bytes for mixture-of-experts layers (native/cuda/cuda_weights.cu, moe_forward.cu), added to
// gpu-memory.ts's dense counts: sparse layers' weights in place of their dense MLP, and the MoE step scratch.
import type {ModelConfig} from './model/model-config.js'
import type {MoeConfig} from './model/moe-config.js'

/** Slots (token x rank) one block of the device counting sort counts (native/include/pagedllm/moe_plan.h kMoeSortChunkSlots). */
const SORT_CHUNK_SLOTS = 2048

/** MoeScratchPlan rounds every tensor up to 256 bytes. */
const planned = (bytes: number) => Math.ceil(bytes / 256) * 256

/** fp32 router rows: the experts', plus the shared expert's gate when it has one (moe_plan.h moe_router_rows). */
function routerRows(moe: MoeConfig): number {
  return moe.numExperts + (moe.sharedExpertIntermediateSize > 0 && !moe.ungatedSharedExpert ? 1 : 0)
}

function sparseLayerCount(config: ModelConfig): number {
  return config.moe?.sparseLayers.filter(Boolean).length ?? 0
}

/**
 * What a model's sparse layers add to cudaWeightBytes's dense count: per sparse layer the fp32 router (and shared
 * gate), every expert's gate/up/down and the shared expert's in 2 bytes, less the dense MLP counted for that layer.
 */
export function cudaMoeWeightBytesDelta(config: ModelConfig): number {
  const moe = config.moe
  if (!moe) return 0
  const {hiddenSize: h, intermediateSize: inter} = config
  const experts = moe.numExperts * moe.expertIntermediateSize + moe.sharedExpertIntermediateSize
  return sparseLayerCount(config) * (4 * routerRows(moe) * h + 2 * 3 * h * experts - 2 * 3 * h * inter)
}

/** 256-byte aligned weight regions a sparse layer holds (router, gate/up and down per expert, the shared expert's two). */
export function cudaMoeWeightRegions(config: ModelConfig): number {
  const moe = config.moe
  if (!moe) return 0
  return sparseLayerCount(config) * (1 + 2 * moe.numExperts + (moe.sharedExpertIntermediateSize > 0 ? 2 : 0))
}

/** The MoE scratch of a `numTokens` step, exactly as pagedllm/moe_plan.h's MoeScratchPlan lists it; 0 for a dense model. */
export function cudaMoeScratchBytes(config: ModelConfig, numTokens: number): number {
  const moe = config.moe
  if (!moe || sparseLayerCount(config) === 0) return 0
  const n = numTokens
  const h = config.hiddenSize
  const slots = n * moe.numExpertsPerToken
  const shared = moe.sharedExpertIntermediateSize
  const width = Math.max(moe.expertIntermediateSize, shared)
  return [
    n * h * 4, // the router's input: the pre-MLP norm in fp32
    n * routerRows(moe) * 4, // router logits (and the shared gate's)
    slots * 4, // chosen experts
    slots * 4, // their weights
    Math.ceil(slots / SORT_CHUNK_SLOTS) * moe.numExperts * 4, // per-chunk counts of the sort
    moe.numExperts * 4, // counts
    moe.numExperts * 4, // offsets
    slots * 4, // sorted slots
    slots * 4, // slot positions
    slots * h * 2, // gathered expert inputs
    n * 2 * width * 4, // one expert's (or the shared expert's) gate/up
    n * width * 2, // its activation
    slots * h * 4, // expert outputs
    shared > 0 ? n * h * 4 : 0, // shared expert output
  ].reduce((sum, bytes) => sum + planned(bytes), 0)
}
