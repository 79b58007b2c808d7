// The ggml block formats pagedllm loads from GGUF files: which run as stored, which are converted at load (and to what), which are refused and why, and the weights label that says so.

/** ggml's block-quantized weight formats the native backend reads (native/cpu/quant_formats.h), by GGUF type name in lower case. */
export const BLOCK_FORMATS = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_xs', 'tq1_0', 'tq2_0'] as const
export type BlockFormat = (typeof BLOCK_FORMATS)[number]

/**
 * Formats without a linear kernel, and the one each is converted to at load (native/cpu/quant_formats.cpp,
 * load_format). IQ4_XS is IQ4_NL with 6-bit scales per 32 values: as IQ4_NL its codes stay as they are and only the
 * scales d * (s - 32) are rounded to fp16 (a relative change of at most 2^-11 per 32 weights), in 4.5 bits per weight
 * instead of 4.25. TQ1_0 and TQ2_0 (BitNet b1.58's ternary formats) hold a code in {-1, 0, 1} times an fp16 scale per
 * 256 values: as Q8_0 (that scale, the codes as int8) every value is the file's, bit for bit, in 8.5 bits per weight
 * instead of 1.6875 or 2.0625 (native/cpu/quant_ternary.cpp).
 */
export const LOAD_CONVERSIONS: Partial<Record<BlockFormat, BlockFormat>> = {iq4_xs: 'iq4_nl', tq1_0: 'q8_0', tq2_0: 'q8_0'}

/** The format a GGUF tensor type is loaded as, by GGUF type name (Q5_K -> q5_k); undefined for float and refused types. */
export function blockFormatOfGgufType(type: string): BlockFormat | undefined {
  const format = type.toLowerCase()
  return (BLOCK_FORMATS as readonly string[]).includes(format) ? (format as BlockFormat) : undefined
}

/**
 * GGUF types dequantized at load into the model's float weight format (no kernel reads them): MXFP4 (gpt-oss's
 * experts), whose values are exact in bf16 and f32 (native/cpu/model_weights.cpp, dequantize_ggml_mxfp4).
 */
export const DEQUANTIZED_AT_LOAD = ['MXFP4'] as const

/** Why a GGUF tensor type llama.cpp knows is refused (the error names the tensor and points to a file that loads). */
const REFUSED_BECAUSE: Record<string, string> = {
  IQ1_S: 'its codes index lattice codebooks (ggml\'s 2048-entry IQ1/IQ2/IQ3 grids), which pagedllm does not implement',
  IQ1_M: 'its codes index lattice codebooks (ggml\'s 2048-entry IQ1/IQ2/IQ3 grids), which pagedllm does not implement',
  IQ2_XXS: 'its codes index lattice codebooks (ggml\'s IQ2 grids), which pagedllm does not implement',
  IQ2_XS: 'its codes index lattice codebooks (ggml\'s IQ2 grids), which pagedllm does not implement',
  IQ2_S: 'its codes index lattice codebooks (ggml\'s IQ2 grids), which pagedllm does not implement',
  IQ3_XXS: 'its codes index lattice codebooks (ggml\'s IQ3 grids), which pagedllm does not implement',
  IQ3_S: 'its codes index lattice codebooks (ggml\'s IQ3 grids), which pagedllm does not implement',
  Q4_0_4_4: 'it is a Q4_0 layout interleaved for ARM that llama.cpp itself no longer loads (requantize to Q4_0)',
  Q4_0_4_8: 'it is a Q4_0 layout interleaved for ARM that llama.cpp itself no longer loads (requantize to Q4_0)',
  Q4_0_8_8: 'it is a Q4_0 layout interleaved for ARM that llama.cpp itself no longer loads (requantize to Q4_0)',
  IQ4_NL_4_4: 'it is an IQ4_NL layout interleaved for ARM that llama.cpp itself no longer loads (requantize to IQ4_NL)',
  IQ4_NL_4_8: 'it is an IQ4_NL layout interleaved for ARM that llama.cpp itself no longer loads (requantize to IQ4_NL)',
  IQ4_NL_8_8: 'it is an IQ4_NL layout interleaved for ARM that llama.cpp itself no longer loads (requantize to IQ4_NL)',
  Q8_1: 'it is llama.cpp\'s activation format, not a weight format',
  Q8_K: 'it is llama.cpp\'s activation format, not a weight format',
}

/** What follows "tensor NAME is " in the error for a tensor of a type pagedllm does not load. */
export function refusedTypeMessage(type: string): string {
  const loads = `pagedllm loads F32, F16, BF16, ${BLOCK_FORMATS.map((f) => f.toUpperCase()).join(', ')} and ${DEQUANTIZED_AT_LOAD.join(', ')} tensors`
  const why = REFUSED_BECAUSE[type]
  return why ? `${type}: ${why}; ${loads} (e.g. a Q4_K_M, Q5_K_M or IQ4_XS file of the same model).` : `${type}; ${loads}.`
}

/**
 * The weights label of a GGUF model, e.g. "q4_k+q6_k (GGUF)" or "q4_k+q6_k+iq4_xs (GGUF); iq4_xs converted to iq4_nl
 * at load": the formats as stored, and any conversion, so that no precision change goes unsaid.
 */
export function ggufWeightsLabel(formats: readonly BlockFormat[]): string {
  const stored = [...new Set(formats)]
  const conversions = stored.flatMap((format) => (LOAD_CONVERSIONS[format] ? [`${format} converted to ${LOAD_CONVERSIONS[format]} at load`] : []))
  return `${stored.join('+')} (GGUF)${conversions.length > 0 ? `; ${conversions.join(', ')}` : ''}`
}
