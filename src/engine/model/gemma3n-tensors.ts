// Gemma 3n's tensors beyond Gemma 4's (gemma4-tensors.ts lists those): AltUp's stream projections, and per layer its
// router and coefficients and LAuReL's low-rank pair (transformers 5.18 names).
import type {ModelConfig} from './model-config.js'

type Shape = {name: string; shape: number[]}

/** altup_projections (embeddings -> streams 1..N-1) and altup_unembed_projections (streams 1..N-1 -> the output's). */
export function gemma3nGlobalShapes(config: ModelConfig): Shape[] {
  const hidden = config.hiddenSize
  const extra = config.gemma3n!.altupInputs - 1
  return [
    ...Array.from({length: extra}, (_, i) => ({name: `model.altup_projections.${i}.weight`, shape: [hidden, hidden]})),
    ...Array.from({length: extra}, (_, i) => ({name: `model.altup_unembed_projections.${i}.weight`, shape: [hidden, hidden]})),
  ]
}

/** Layer `layer`'s AltUp (router, prediction / correction coefficients, output scale) and LAuReL weights. */
export function gemma3nLayerShapes(config: ModelConfig, layer: number): Shape[] {
  const hidden = config.hiddenSize
  const {altupInputs: n, laurelRank: rank} = config.gemma3n!
  const p = `model.layers.${layer}`
  return [
    {name: `${p}.altup.correct_output_scale`, shape: [hidden]},
    {name: `${p}.altup.correction_coefs.weight`, shape: [n, n]},
    {name: `${p}.altup.prediction_coefs.weight`, shape: [n * n, n]},
    {name: `${p}.altup.modality_router.weight`, shape: [n, hidden]},
    {name: `${p}.altup.router_norm.weight`, shape: [hidden]},
    {name: `${p}.laurel.linear_left.weight`, shape: [rank, hidden]},
    {name: `${p}.laurel.linear_right.weight`, shape: [hidden, rank]},
    {name: `${p}.laurel.post_laurel_norm.weight`, shape: [hidden]},
  ]
}
