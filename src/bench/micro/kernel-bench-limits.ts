// Checks a kernel bench's shapes before anything is built: whole heads, whole quantization blocks, and memory the machine has.
import {totalmem} from 'node:os'
import {InvalidRequestError} from '../../engine/errors.js'
import {GGML_BLOCKS} from '../../engine/model/gguf-file.js'
import type {KernelBenchOptions} from './kernels.js'

/** Values per quantization block: every weight row (hidden size, intermediate size) must hold whole blocks. */
const blockValues = (format: KernelBenchOptions['weightFormat']): number | undefined => GGML_BLOCKS[format.toUpperCase()]?.values

/** The longest typed array V8 makes (2^32 elements). */
const MAX_ARRAY_ELEMENTS = 2 ** 32

/** Roughly the bytes the bench holds at once: f32 weights (before quantizing), the linear cases' activations and the attention cases' KV pools. */
export function kernelBenchBytes(o: KernelBenchOptions): {bytes: number; largestArray: number} {
  const headDim = o.hiddenSize / o.numHeads
  const kvWidth = o.numKvHeads * headDim
  const layerWeights = (o.hiddenSize + 2 * kvWidth) * o.hiddenSize + o.hiddenSize * o.hiddenSize + 3 * o.intermediateSize * o.hiddenSize
  const lmHead = o.vocabSize * o.hiddenSize
  const rows = Math.max(o.batch, o.prefillTokens)
  const linearOut = rows * Math.max(o.hiddenSize, 2 * o.intermediateSize, o.hiddenSize + 2 * kvWidth, o.vocabSize)
  const pooled = (tokens: number) => Math.ceil(tokens / o.blockSize) * o.blockSize * kvWidth
  // Key and value pools of the decode (one sequence), batch (--batch sequences) and prefill cases.
  const kvPools = [pooled(o.contextLen), o.batch * pooled(o.contextLen), pooled(o.prefillTokens)]
  const elements = o.numLayers * layerWeights + lmHead + 3 * linearOut + 2 * kvPools.reduce((a, b) => a + b, 0)
  return {bytes: 4 * elements, largestArray: Math.max(lmHead, 2 * o.intermediateSize * o.hiddenSize, linearOut, ...kvPools)}
}

export function checkKernelBenchOptions(o: KernelBenchOptions): void {
  const refuse = (param: string, message: string): never => {
    throw new InvalidRequestError(message, {param})
  }
  if (o.hiddenSize % o.numHeads !== 0 || o.numHeads % o.numKvHeads !== 0)
    refuse('heads', '--hidden-size must be a multiple of --heads, and --heads a multiple of --kv-heads')
  const block = blockValues(o.weightFormat)
  if (block !== undefined && (o.hiddenSize % block !== 0 || o.intermediateSize % block !== 0))
    refuse('weight-format', `--weight-format ${o.weightFormat} stores rows in blocks of ${block} values: --hidden-size and --intermediate-size must be multiples of ${block}`)
  const {bytes, largestArray} = kernelBenchBytes(o)
  const gib = (value: number) => (value / 2 ** 30).toFixed(1)
  if (bytes > totalmem() / 2 || largestArray > MAX_ARRAY_ELEMENTS)
    refuse('hidden-size', `these shapes need about ${gib(bytes)} GiB (one array of ${largestArray} floats), more than half of this machine's ${gib(totalmem())} GiB: lower the sizes, --batch, --prefill-tokens or --context-len`)
}
