// FP8 checkpoints: quant_method "fp8" (DeepSeek-V3/R1, Kimi K2, Qwen3-*-FP8: F8_E4M3 weights, each with a float
// `weight_scale_inv` of one scale per weight_block_size block, the grid rounded up) and "compressed-tensors" float8 ones
// (llm-compressor: `weight_scale` per tensor, per output row or per block). Each weight is dequantized once at load
// (native/cpu/fp8_weights.cpp: code x scale, as transformers' Fp8Dequantize multiplies, despite the name "_inv") and then
// kept as --dtype / --quantization asks, as any float checkpoint's. Modules left unquantized (modules_to_not_convert,
// ignore) are plain float tensors without a scale. Activation quantization, dynamic or static (input_scale), is not
// applied: the engine computes in f32 / bf16, so it is ignored.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {TensorInfo} from './safetensors.js'

type Json = Record<string, unknown>

export interface Fp8Scheme {
  /** The tensor beside each FP8 weight `X.weight` that holds its scales: `X.weight_scale_inv` or `X.weight_scale`. */
  scaleSuffix: '_scale_inv' | '_scale'
  /** [rows, cols] of one scale's block, or null: a scale per tensor ([] or [1]) or per row ([rows, 1]) only. */
  blockSize: [number, number] | null
}

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

/** The FP8 scheme config.json's quantization_config declares, or null when it declares none or another method (refused elsewhere). */
export function fp8Scheme(config: Json, source: string): Fp8Scheme | null {
  const q = config.quantization_config
  if (!isObject(q)) return null
  if (q.quant_method === 'fp8') return {scaleSuffix: '_scale_inv', blockSize: blockShape(q.weight_block_size, 'quantization_config.weight_block_size', source)}
  if (q.quant_method === 'compressed-tensors' && isFloat8Groups(q)) return compressedTensorsScheme(q, source)
  return null
}

/** config.json without its quantization_config: what the architecture's own parser reads. */
export function withoutQuantizationConfig(config: Json): Json {
  const {quantization_config: _fp8, ...rest} = config
  return rest
}

function blockShape(value: unknown, key: string, source: string): [number, number] | null {
  if (value == null) return null
  if (!Array.isArray(value) || value.length !== 2 || !value.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ModelLoadError(`${source}: "${key}" must be two positive integers [rows, cols], got ${quotedValue(value)}.`)
  }
  return [value[0], value[1]]
}

/** compressed-tensors whose weight groups are 8-bit floats; int8 / int4 (W8A8, W4A16) groups are left to the refusal of quantized checkpoints. */
function isFloat8Groups(q: Json): boolean {
  const groups = isObject(q.config_groups) ? Object.values(q.config_groups) : []
  return groups.length > 0 && groups.every((g) => isObject(g) && isObject(g.weights) && g.weights.type === 'float')
}

function compressedTensorsScheme(q: Json, source: string): Fp8Scheme {
  if (q.format !== 'float-quantized') {
    throw new ModelLoadError(`${source}: compressed-tensors "quantization_config.format" ${quotedValue(q.format)} is not supported (float8 weights load as "float-quantized").`)
  }
  let blockSize: [number, number] | null = null
  for (const [name, group] of Object.entries(q.config_groups as Json)) {
    const weights = (group as Json).weights as Json
    const key = `quantization_config.config_groups.${name}.weights`
    if (weights.num_bits !== 8) throw new ModelLoadError(`${source}: "${key}.num_bits" ${quotedValue(weights.num_bits)} is not supported (float weights load as 8 bits).`)
    if (weights.strategy === 'block') {
      const shape = blockShape(weights.block_structure, `${key}.block_structure`, source)
      if (shape === null || (blockSize !== null && (blockSize[0] !== shape[0] || blockSize[1] !== shape[1]))) {
        throw new ModelLoadError(`${source}: "${key}.block_structure" must give the one block shape of all groups, got ${quotedValue(weights.block_structure)}.`)
      }
      blockSize = shape
    } else if (weights.strategy !== 'tensor' && weights.strategy !== 'channel') {
      throw new ModelLoadError(`${source}: "${key}.strategy" ${quotedValue(weights.strategy)} is not supported (tensor, channel or block).`)
    }
  }
  return {scaleSuffix: '_scale', blockSize}
}

const FP8_DTYPES = new Set(['F8_E4M3', 'F8_E5M2'])

/**
 * The checkpoint's tensors with each FP8 weight paired with its scales for the native loader (its dtype a stand-in, as
 * MXFP4's); the scale tensors stay in the list, unused, as other extras. An FP8 tensor without scales, or in a checkpoint
 * that declares no FP8 scheme, is refused by name.
 */
export function pairFp8Scales(scheme: Fp8Scheme | undefined, tensors: TensorInfo[]): TensorInfo[] {
  if (!tensors.some((t) => FP8_DTYPES.has(t.dtype))) return tensors
  const byName = new Map(tensors.map((t) => [t.name, t]))
  return tensors.map((tensor) => {
    if (!FP8_DTYPES.has(tensor.dtype)) return tensor
    if (scheme === undefined) {
      throw new ModelLoadError(`Tensor ${tensor.name} is ${tensor.dtype}, but config.json declares no FP8 quantization_config (quant_method "fp8", or compressed-tensors float8) to say its scales (in ${tensor.path}).`)
    }
    const scales = byName.get(tensor.name + scheme.scaleSuffix)
    if (scales === undefined) throw new ModelLoadError(`Tensor ${tensor.name} is ${tensor.dtype} but has no ${tensor.name}${scheme.scaleSuffix} beside it (in ${tensor.path}).`)
    if (tensor.shape.length !== 2) throw new ModelLoadError(`Tensor ${tensor.name} is ${tensor.dtype} [${tensor.shape.join(', ')}]; FP8 weights load as matrices only (in ${tensor.path}).`)
    if (FP8_DTYPES.has(scales.dtype) || scales.dtype === 'U8') throw new ModelLoadError(`Tensor ${scales.name} is ${scales.dtype}; FP8 scales load as F32, BF16 or F16 (in ${scales.path}).`)
    const [blockRows, blockCols] = scaleBlock(tensor, scales, scheme.blockSize)
    return {
      ...tensor,
      dtype: 'F32', // a stand-in: the native loader reads the FP8 codes whatever it says
      fp8Scales: {path: scales.path, offset: scales.offset, nbytes: scales.nbytes, dtype: scales.dtype as 'F32' | 'F16' | 'BF16', blockRows, blockCols, format: tensor.dtype === 'F8_E5M2' ? 'e5m2' : 'e4m3', whole: {offset: tensor.offset, nbytes: tensor.nbytes}},
    }
  })
}

/** The block one scale covers, read off the scale tensor's shape: the declared block grid, one scale, or one a row. */
function scaleBlock(weight: TensorInfo, scales: TensorInfo, blockSize: [number, number] | null): [number, number] {
  const [rows, cols] = weight.shape as [number, number]
  const grid = scales.shape.length === 0 ? [1, 1] : scales.shape.length === 1 ? [scales.shape[0]!, 1] : scales.shape
  const is = (r: number, c: number) => grid.length === 2 && grid[0] === r && grid[1] === c
  if (blockSize !== null && is(Math.ceil(rows / blockSize[0]), Math.ceil(cols / blockSize[1]))) return blockSize
  if (is(1, 1)) return [rows, cols]
  if (is(rows, 1)) return [1, cols]
  const expected = blockSize === null ? `[1] or [${rows}, 1]` : `[${Math.ceil(rows / blockSize[0])}, ${Math.ceil(cols / blockSize[1])}] (blocks of ${blockSize.join(' x ')})`
  throw new ModelLoadError(`Tensor ${scales.name} has shape [${scales.shape.join(', ')}], but weight ${weight.name} [${rows}, ${cols}] needs scales ${expected} (in ${scales.path}).`)
}

/** The selected tensors, unless an FP8 weight was cut into windows (a fused projection split by rows), whose scales no window carries. */
export function refuseCutFp8Weights(tensors: TensorInfo[]): TensorInfo[] {
  const cut = tensors.find((t) => t.fp8Scales && (t.offset !== t.fp8Scales.whole.offset || t.nbytes !== t.fp8Scales.whole.nbytes))
  if (cut) throw new ModelLoadError(`Tensor ${cut.name} is cut from a fused FP8 weight, which does not load (its block scales are not cut with it) (in ${cut.path}).`)
  return tensors
}
