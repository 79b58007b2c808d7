// GPT-OSS (OpenAI's gpt-oss): Llama-style attention with q/k/v/o biases, a learned softmax sink per query head, sliding
// windows on alternate layers and YaRN rope, over sparse MLPs whose router has a bias and whose experts are stored
// fused and transposed: gate_up_proj [experts, hidden, 2 x inter] (gate and up in alternate columns) and down_proj
// [experts, inter, hidden], each with a bias. Read as transformers 5.18's GptOssConfig / GptOssForCausalLM read them;
// each expert is seen as a byte window of the file that the native loader transposes (and de-interleaves) at load.
// OpenAI's own checkpoints store the experts in MXFP4 (quantization_config "mxfp4": *_blocks [experts, out, in / 32, 16]
// bytes of fp4 pairs and *_scales [experts, out, in / 32] e8m0, already [out, in]); the loader dequantizes them.
import {ModelLoadError} from '../errors.js'
import type {ModelConfig} from './model-config.js'
import {isObject} from './rope-scaling.js'
import type {TensorInfo} from './safetensors.js'

export const GPT_OSS = 'GptOssForCausalLM'

type Json = Record<string, unknown>

/** GptOssConfig's defaults where they differ from the shared parser's (its head_dim 64, window 128 and 131072 positions: architectures.ts). */
export function gptOssView(config: Json): Json {
  // MXFP4 experts are dequantized at load (splitGptOssExperts); any other method is refused as for every model.
  if (isObject(config.quantization_config) && config.quantization_config.quant_method === 'mxfp4') {
    const {quantization_config: _mxfp4, ...unquantized} = config
    config = unquantized
  }
  // Only an absent rope takes the default: one that is not an object is left for the rope parser to refuse.
  const hasRope = config.rope_parameters != null || config.rope_scaling != null
  return {
    ...config,
    num_key_value_heads: config.num_key_value_heads ?? 8,
    rms_norm_eps: config.rms_norm_eps ?? 1e-5,
    attention_bias: config.attention_bias ?? true,
    rope_theta: config.rope_theta ?? 150000,
    // GptOssConfig's rope when none is given: YaRN x32 over 4096 positions, beta_fast 32, beta_slow 1, not truncated.
    ...(hasRope ? {} : {rope_scaling: {rope_type: 'yarn', factor: 32.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 4096}}),
  }
}

/** A sparse layer's tensors under the engine's names: router weight and bias, each expert's fused gate_up (or, apart, gate and up) and down with their biases. */
export function gptOssMoeTensorShapes(numExperts: number, inter: number, prefix: string, hidden: number, gateUpApart = false): {name: string; shape: number[]}[] {
  const shapes = [{name: `${prefix}.mlp.gate.weight`, shape: [numExperts, hidden]}, {name: `${prefix}.mlp.gate.bias`, shape: [numExperts]}]
  for (let e = 0; e < numExperts; e++) {
    const expert = `${prefix}.mlp.experts.${e}`
    const gateUp = gateUpApart ? ['gate_proj', 'up_proj'] : ['gate_up_proj']
    shapes.push(
      ...gateUp.flatMap((part) => [{name: `${expert}.${part}.weight`, shape: [inter * (3 - gateUp.length), hidden]}, {name: `${expert}.${part}.bias`, shape: [inter * (3 - gateUp.length)]}]),
      {name: `${expert}.down_proj.weight`, shape: [hidden, inter]},
      {name: `${expert}.down_proj.bias`, shape: [hidden]},
    )
  }
  return shapes
}

const ROUTER = /^(model\.layers\.\d+\.)mlp\.router\.(weight|bias)$/
const EXPERTS = /^(model\.layers\.\d+\.)mlp\.experts\.(gate_up_proj|gate_up_proj_bias|down_proj|down_proj_bias)$/
const MXFP4 = /^(model\.layers\.\d+\.)mlp\.experts\.(gate_up_proj|down_proj)_(blocks|scales)$/

/** The checkpoint's tensors with GPT-OSS's router renamed and its fused experts split per expert; others unchanged. */
export function splitGptOssExperts(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  if (config.architecture !== GPT_OSS || !config.moe) return tensors
  const {numExperts: experts, expertIntermediateSize: inter} = config.moe
  const hidden = config.hiddenSize
  const byName = new Map(tensors.map((t) => [t.name, t]))
  return tensors.flatMap((tensor) => {
    const mxfp4 = MXFP4.exec(tensor.name)
    if (mxfp4) return mxfp4[3] === 'scales' ? [] : splitMxfp4Experts(tensor, byName.get(tensor.name.replace(/_blocks$/, '_scales')), mxfp4[1]!, mxfp4[2]!, experts, inter, hidden)
    const router = ROUTER.exec(tensor.name)
    if (router) return [{...tensor, name: `${router[1]}mlp.gate.${router[2]}`}]
    const match = EXPERTS.exec(tensor.name)
    if (!match) return [tensor]
    const [, prefix, kind] = match as unknown as [string, string, string]
    // Stored shape, and each expert's as the engine computes with it ([out, in]; a bias [out]).
    const [stored, engine] = {
      gate_up_proj: [[experts, hidden, 2 * inter], [2 * inter, hidden]],
      gate_up_proj_bias: [[experts, 2 * inter], [2 * inter]],
      down_proj: [[experts, inter, hidden], [hidden, inter]],
      down_proj_bias: [[experts, hidden], [hidden]],
    }[kind]!
    if (tensor.shape.length !== stored.length || tensor.shape.some((d, i) => d !== stored[i]) || tensor.nbytes % experts !== 0) {
      throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${stored.join(', ')}] (in ${tensor.path}).`)
    }
    const bytes = tensor.nbytes / experts
    const name = kind.startsWith('gate_up') ? 'gate_up_proj' : 'down_proj'
    const suffix = kind.endsWith('_bias') ? 'bias' : 'weight'
    return Array.from({length: experts}, (_, e): TensorInfo => ({
      ...tensor,
      name: `${prefix}mlp.experts.${e}.${name}.${suffix}`,
      shape: engine,
      offset: tensor.offset + e * bytes,
      nbytes: bytes,
      // Matrices are stored [in, out]; gate and up alternate along out, which the loader's one-head pair
      // de-interleave (tensor_rows.h) turns into gate rows then up rows.
      ...(suffix === 'weight' ? {transposed: true} : {}),
      ...(name === 'gate_up_proj' ? {ropeInterleavedHeads: 1} : {}),
    }))
  })
}

/** One MXFP4 expert tensor (blocks and scales) as per-expert [out, in] windows the native loader dequantizes. */
function splitMxfp4Experts(blocks: TensorInfo, scales: TensorInfo | undefined, prefix: string, part: string, experts: number, inter: number, hidden: number): TensorInfo[] {
  const [rows, cols] = part === 'gate_up_proj' ? [2 * inter, hidden] : [hidden, inter]
  if (scales === undefined) throw new ModelLoadError(`Tensor ${blocks.name} has no ${part}_scales beside it (in ${blocks.path}).`)
  if (cols % 32 !== 0) throw new ModelLoadError(`Tensor ${blocks.name}: MXFP4 rows of ${cols} values are not whole blocks of 32 (in ${blocks.path}).`)
  for (const [tensor, shape] of [[blocks, [experts, rows, cols / 32, 16]], [scales, [experts, rows, cols / 32]]] as const) {
    if (tensor.dtype !== 'U8' || tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(`Tensor ${tensor.name} is ${tensor.dtype} [${tensor.shape.join(', ')}], but config.json implies U8 [${shape.join(', ')}] (in ${tensor.path}).`)
    }
  }
  const [blockBytes, scaleBytes] = [blocks.nbytes / experts, scales.nbytes / experts]
  return Array.from({length: experts}, (_, e): TensorInfo => ({
    ...blocks,
    name: `${prefix}mlp.experts.${e}.${part}.weight`,
    dtype: 'F32', // a stand-in: the native loader reads MXFP4 whatever it says
    shape: [rows, cols],
    offset: blocks.offset + e * blockBytes,
    nbytes: blockBytes,
    mxfp4Scales: {path: scales.path, offset: scales.offset + e * scaleBytes, nbytes: scaleBytes},
    ...(part === 'gate_up_proj' ? {ropeInterleavedHeads: 1} : {}),
  }))
}

/** The tensors a GPT-OSS checkpoint holds in place of the engine's per-expert ones, for writing test checkpoints. */
export function gptOssCheckpointShapes(config: ModelConfig, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  if (config.architecture !== GPT_OSS || !config.moe) return shapes
  const {numExperts: experts, expertIntermediateSize: inter} = config.moe
  const hidden = config.hiddenSize
  return shapes.flatMap(({name, shape}) => {
    const match = /^(model\.layers\.\d+\.)mlp\.(gate\.(weight|bias)|experts\.(\d+)\.(gate_up|down)_proj\.(weight|bias))$/.exec(name)
    if (!match) return [{name, shape}]
    const prefix = match[1]!
    if (match[3]) return [{name: `${prefix}mlp.router.${match[3]}`, shape}]
    // The first expert's tensors stand for the whole fused ones.
    if (match[4] !== '0') return []
    const part = match[5] === 'gate_up' ? 'gate_up_proj' : 'down_proj'
    const width = part === 'gate_up_proj' ? 2 * inter : hidden
    if (match[6] === 'bias') return [{name: `${prefix}mlp.experts.${part}_bias`, shape: [experts, width]}]
    return [{name: `${prefix}mlp.experts.${part}`, shape: part === 'gate_up_proj' ? [experts, hidden, width] : [experts, inter, hidden]}]
  })
}
