// The tensors of one Mamba-1 model layer (mamba1-config.ts) under the engine's names: a mixer's model.layers.N.mamba.*
// (as Jamba names it; Mamba's and Falcon-Mamba's backbone.layers.N.mixer.* are renamed with Mamba2's in
// mamba2-tensors.ts), or Jamba's rope-free attention.
import type {ModelConfig} from './model-config.js'
import type {Mamba1Features} from './mamba1-config.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N): a Mamba-1 mixer's tensors, or the attention's. */
export function mamba1LayerShapes(config: ModelConfig, m: Mamba1Features, mixer: boolean, prefix: string): Shape[] {
  const hidden = config.hiddenSize
  if (!mixer) {
    const q = config.numHeads * config.headDim
    const kv = config.numKvHeads * config.headDim
    return ['q', 'k', 'v'].map((part) => ({name: `${prefix}.self_attn.${part}_proj.weight`, shape: [part === 'q' ? q : kv, hidden]}))
      .concat({name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, q]})
  }
  const {innerSize: inner, stateSize: n, dtRank: rank} = m
  const heads = m.heads ?? 1
  const p = `${prefix}.mamba`
  return [
    {name: `${p}.in_proj.weight`, shape: [2 * inner, hidden]},
    {name: `${p}.conv1d.weight`, shape: [inner, 1, m.convKernel]},
    ...(m.convBias ? [{name: `${p}.conv1d.bias`, shape: [inner]}] : []),
    // Zamba's heads each have their own x_proj and dt_proj, stacked.
    {name: `${p}.x_proj.weight`, shape: heads > 1 ? [heads, rank + 2 * n, inner / heads] : [rank + 2 * n, inner]},
    {name: `${p}.dt_proj.weight`, shape: heads > 1 ? [heads, inner / heads, rank] : [inner, rank]},
    {name: `${p}.dt_proj.bias`, shape: [inner]},
    {name: `${p}.A_log`, shape: [inner, n]},
    {name: `${p}.D`, shape: [inner]},
    // Jamba's dt / B / C RMSNorms have weights; Falcon-Mamba's have none in the checkpoint.
    ...(m.dtBcNorm === 'weighted' ? [{name: `${p}.dt_layernorm.weight`, shape: [rank]}, {name: `${p}.b_layernorm.weight`, shape: [n]}, {name: `${p}.c_layernorm.weight`, shape: [n]}] : []),
    {name: `${p}.out_proj.weight`, shape: [hidden, inner]},
  ]
}
