// The tensors of the Mamba-2 hybrids (mamba2-config.ts): each layer's mixer (model.layers.N.mamba.*, as Granite 4.0
// hybrid and Bamba name it) or plain attention, and the checkpoint names that differ from the engine's: Bamba's
// feed_forward / pre_ff_layernorm / final_layernorm, Mamba2's backbone.* (mixer, norm, norm_f, embeddings; so too the
// Mamba-1 models' names: Mamba's and Falcon-Mamba's backbone.*, Jamba's feed_forward and router), and a dense Granite 4.0 hybrid's shared_mlp (input_linear: gate rows then up rows, as transformers' chunk(2)), cut into
// the MLP's gate/up/down as byte windows of the file.
import {rowWindows} from './fused-tensors.js'
import type {ModelConfig} from './model-config.js'
import {BAMBA, GRANITE_HYBRID, MAMBA2, type Mamba2Features} from './mamba2-config.js'
import {FALCON_MAMBA, JAMBA, MAMBA} from './mamba1-config.js'
import {FALCON_H1} from './falcon-h1-config.js'
import {NEMOTRON_H} from './nemotron-h-config.js'
import {nemotronHCheckpointName, nemotronHEngineTensors} from './nemotron-h-tensors.js'
import type {TensorInfo} from './safetensors.js'
import {LFM2, LFM2_MOE} from './lfm2-config.js'
import {LFM2_MOE_RENAMES, LFM2_RENAMES} from './lfm2-tensors.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N): a Mamba-2 mixer's tensors, or the attention's. */
export function mamba2LayerShapes(config: ModelConfig, m: Mamba2Features, mixer: boolean, prefix: string): Shape[] {
  const hidden = config.hiddenSize
  const q = config.numHeads * config.headDim
  const kv = config.numKvHeads * config.headDim
  const attention = ['q', 'k', 'v'].map((part) => ({name: `${prefix}.self_attn.${part}_proj.weight`, shape: [part === 'q' ? q : kv, hidden]}))
    .concat({name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, q]})
  if (!mixer) return attention
  const inner = m.heads * m.headDim
  const channels = inner + 2 * m.groups * m.stateSize
  const p = `${prefix}.mamba`
  return [
    {name: `${p}.in_proj.weight`, shape: [inner + channels + m.heads, hidden]},
    {name: `${p}.conv1d.weight`, shape: [channels, 1, m.convKernel]},
    ...(m.convBias ? [{name: `${p}.conv1d.bias`, shape: [channels]}] : []),
    {name: `${p}.dt_bias`, shape: [m.heads]},
    {name: `${p}.A_log`, shape: [m.heads]},
    {name: `${p}.D`, shape: [m.heads]},
    ...(m.gatedNorm === 'gate-only' ? [] : [{name: `${p}.norm.weight`, shape: [inner]}]),
    {name: `${p}.out_proj.weight`, shape: [hidden, inner]},
    ...(m.falconH1 ? attention : []), // Falcon-H1: attention beside the mixer
  ]
}

/** Bamba's and Jamba's layer names. */
const FEED_FORWARD: [string, string][] = [
  ['model.layers.{L}.feed_forward.{X}', 'model.layers.{L}.mlp.{X}'],
  ['model.layers.{L}.pre_ff_layernorm.weight', 'model.layers.{L}.post_attention_layernorm.weight'],
  ['model.final_layernorm.weight', 'model.norm.weight'],
]
/** Mamba2's, Mamba's and Falcon-Mamba's backbone.*. */
const BACKBONE: [string, string][] = [
  ['backbone.layers.{L}.mixer.{X}', 'model.layers.{L}.mamba.{X}'],
  ['backbone.layers.{L}.norm.weight', 'model.layers.{L}.input_layernorm.weight'],
  ['backbone.norm_f.weight', 'model.norm.weight'],
  ['backbone.embeddings.weight', 'model.embed_tokens.weight'],
  ['backbone.embedding.weight', 'model.embed_tokens.weight'], // older checkpoints' name
]

/** [checkpoint name, engine name] per architecture (the first that fits wins; LFM2's: lfm2-tensors.ts); {L} stands for a layer number, {X} for the rest of a name. */
const RENAMES: Record<string, [string, string][]> = {
  [BAMBA]: FEED_FORWARD,
  // Falcon-H1 names its MLP and norms as Bamba does.
  [FALCON_H1]: FEED_FORWARD,
  [MAMBA2]: BACKBONE,
  // The Mamba-1 models (mamba1-config.ts): Jamba's MoE router is feed_forward.router.
  [MAMBA]: BACKBONE,
  [FALCON_MAMBA]: BACKBONE,
  [JAMBA]: [['model.layers.{L}.feed_forward.router.weight', 'model.layers.{L}.mlp.gate.weight'], ...FEED_FORWARD],
  [LFM2]: LFM2_RENAMES,
  [LFM2_MOE]: LFM2_MOE_RENAMES,
}

/** `name` as `to` names it when it fits the pattern `from`; null otherwise. */
function renamed(name: string, from: string, to: string): string | null {
  const pattern = new RegExp('^' + from.replace(/\./g, '\\.').replace('{L}', '(?<L>\\d+)').replace('{X}', '(?<X>.+)') + '$')
  const match = pattern.exec(name)
  return match ? to.replace('{L}', match.groups?.L ?? '').replace('{X}', match.groups?.X ?? '') : null
}

/** A dense Granite 4.0 hybrid: its MLP is shared_mlp (num_local_experts 0). */
function denseShared(config: ModelConfig): boolean {
  return config.architecture === GRANITE_HYBRID && !config.moe
}

/** The checkpoint's names as the engine's (a dense Granite hybrid's shared_mlp cut into gate/up/down); others unchanged. */
export function mamba2EngineTensors(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  if (config.architecture === NEMOTRON_H) return nemotronHEngineTensors(config, tensors)
  const renames = RENAMES[config.architecture] ?? []
  if (renames.length === 0 && !denseShared(config)) return tensors
  return tensors.flatMap((tensor) => {
    for (const [checkpoint, engine] of renames) {
      const name = renamed(tensor.name, checkpoint, engine)
      if (name !== null) return [{...tensor, name}]
    }
    const shared = denseShared(config) ? /^(model\.layers\.\d+\.)shared_mlp\.(input_linear|output_linear)\.weight$/.exec(tensor.name) : null
    if (!shared) return [tensor]
    if (shared[2] === 'output_linear') return [{...tensor, name: `${shared[1]}mlp.down_proj.weight`}]
    return rowWindows(tensor, [[`${shared[1]}mlp.gate_proj.weight`, config.intermediateSize], [`${shared[1]}mlp.up_proj.weight`, config.intermediateSize]], 2)
  })
}

/** The checkpoint's name of an engine tensor (for messages and for writing test checkpoints). */
export function mamba2CheckpointName(config: ModelConfig, name: string): string {
  if (config.architecture === NEMOTRON_H) return nemotronHCheckpointName(config, name)
  for (const [checkpoint, engine] of RENAMES[config.architecture] ?? []) {
    const back = renamed(name, engine, checkpoint)
    if (back !== null) return back
  }
  return name
}

/** The tensors a checkpoint of these architectures holds in place of the engine's, for writing test checkpoints. */
export function mamba2CheckpointShapes(config: ModelConfig, shapes: Shape[]): Shape[] {
  return shapes.flatMap(({name, shape}) => {
    const mlp = denseShared(config) ? /^(model\.layers\.\d+\.)mlp\.(gate|up|down)_proj\.weight$/.exec(name) : null
    if (mlp?.[2] === 'up') return []
    if (mlp) return [mlp[2] === 'gate' ? {name: `${mlp[1]}shared_mlp.input_linear.weight`, shape: [2 * shape[0]!, shape[1]!]} : {name: `${mlp[1]}shared_mlp.output_linear.weight`, shape}]
    return [{name: mamba2CheckpointName(config, name), shape}]
  })
}
