// Reads config.json's rope_scaling / rope_parameters (linear, llama3, dynamic, yarn, longrope) into the form the kernels compute from.
import {ModelLoadError, quotedValue} from '../errors.js'

/**
 * yarn and longrope reach the kernels as one divisor per rotary frequency (inverse frequency i = theta^(-2i/d) / divisor
 * i) and a factor on cos and sin, both computed here once; their own parameters stay for the reference and the banner.
 */
export type RopeScaling =
  | {type: 'none'}
  | {type: 'linear'; factor: number}
  | {type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPosition: number}
  | {type: 'yarn'; factor: number; originalMaxPosition: number; betaFast: number; betaSlow: number; truncate: boolean; frequencyDivisors: number[]; attentionFactor: number}
  | {type: 'longrope'; originalMaxPosition: number; maxPosition: number; shortFactor: number[]; longFactor: number[]; frequencyDivisors: number[]; attentionFactor: number; longAttentionFactor?: number}

type Json = Record<string, unknown>

/** The backends take positions as 32-bit integers. */
const MAX_POSITIONS = 2 ** 31 - 1

/** What the rest of the config says that a scaling type reads. */
export interface RopeContext {
  headDim: number
  ropeTheta: number
  maxPositionEmbeddings: number
  /** Phi-3 keeps original_max_position_embeddings beside rope_scaling; transformers gives it priority (yarn, longrope). */
  topLevelOriginalMax: unknown
}

/** The scaling, and the context it is exact up to when shorter than max_position_embeddings (with why). */
export interface ParsedRopeScaling {
  scaling: RopeScaling
  contextCap?: {tokens: number; note: string}
  note?: string
}

export function parseRopeScaling(raw: unknown, context: RopeContext, source: string): ParsedRopeScaling {
  if (raw == null) return {scaling: {type: 'none'}}
  if (!isObject(raw)) throw new ModelLoadError(`${source}: rope_scaling must be an object or null.`)
  checkMropeSection(raw.mrope_section, 'mrope_section', source)
  const type = raw.rope_type ?? raw.type ?? 'default'
  const positive = (key: string): number => {
    const value = raw[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ModelLoadError(`${source}: rope_scaling ${quotedValue(type)} needs a positive "${key}".`)
    }
    return value
  }
  const optionalPositive = (key: string): number | null => (raw[key] == null ? null : positive(key))
  if (type === 'default') return {scaling: {type: 'none'}}
  if (type === 'linear') return {scaling: {type: 'linear', factor: positive('factor')}}
  if (type === 'llama3') return {scaling: parseLlama3(raw, positive, source)}
  if (type === 'dynamic') {
    positive('factor')
    // transformers recomputes dynamic NTK frequencies only once a sequence passes max_position_embeddings, the engine's
    // context limit: every position it runs gets the unscaled frequencies, as in transformers.
    return {scaling: {type: 'none'}, note: `rope_scaling "dynamic": within max_position_embeddings (${context.maxPositionEmbeddings}, the context limit) transformers uses the unscaled rope, and so does the engine.`}
  }
  const originalMaxPosition = (): number => {
    const value = context.topLevelOriginalMax ?? raw.original_max_position_embeddings ?? context.maxPositionEmbeddings
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_POSITIONS) {
      throw new ModelLoadError(`${source}: rope_scaling ${quotedValue(type)} needs a positive integer "original_max_position_embeddings" (at most ${MAX_POSITIONS}).`)
    }
    return value
  }
  if (type === 'yarn') {
    const factor = positive('factor')
    const original = originalMaxPosition()
    const betaFast = raw.beta_fast ? positive('beta_fast') : 32
    const betaSlow = raw.beta_slow ? positive('beta_slow') : 1
    if (raw.truncate != null && typeof raw.truncate !== 'boolean') throw new ModelLoadError(`${source}: yarn rope_scaling "truncate" must be a boolean.`)
    const truncate = raw.truncate !== false
    const mscale = optionalPositive('mscale')
    const mscaleAllDim = optionalPositive('mscale_all_dim')
    const yarnScale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1)
    const attentionFactor = optionalPositive('attention_factor') ??
      (mscale && mscaleAllDim ? yarnScale(factor, mscale) / yarnScale(factor, mscaleAllDim) : yarnScale(factor))
    const scaling = {type: 'yarn' as const, factor, originalMaxPosition: original, betaFast, betaSlow, truncate}
    return {scaling: {...scaling, frequencyDivisors: yarnDivisors(scaling, context), attentionFactor}}
  }
  if (type === 'longrope' || type === 'su') return parseLongRope(raw, context, source, optionalPositive)
  throw new ModelLoadError(`${source}: rope scaling type ${quotedValue(type)} is not supported (supported: linear, llama3, dynamic, yarn, longrope).`)
}

function parseLlama3(raw: Json, positive: (key: string) => number, source: string): RopeScaling {
  const scaling = {
    type: 'llama3' as const,
    factor: positive('factor'),
    lowFreqFactor: positive('low_freq_factor'),
    highFreqFactor: positive('high_freq_factor'),
    originalMaxPosition: positive('original_max_position_embeddings'),
  }
  // The band between the two is interpolated over (high - low): empty or inverted, it divides by zero.
  if (scaling.lowFreqFactor >= scaling.highFreqFactor) {
    throw new ModelLoadError(`${source}: llama3 rope_scaling needs low_freq_factor (${scaling.lowFreqFactor}) below high_freq_factor (${scaling.highFreqFactor}).`)
  }
  if (!Number.isInteger(scaling.originalMaxPosition) || scaling.originalMaxPosition > MAX_POSITIONS) {
    throw new ModelLoadError(`${source}: llama3 rope_scaling needs an integer "original_max_position_embeddings" (at most ${MAX_POSITIONS}).`)
  }
  return scaling
}

/**
 * YaRN (transformers' _compute_yarn_parameters): frequencies below the correction range are divided by `factor`,
 * those above kept, a linear ramp between; as divisors, 1 / ((1 - ramp) / factor + ramp) with ramp the kept share.
 */
function yarnDivisors(s: {factor: number; originalMaxPosition: number; betaFast: number; betaSlow: number; truncate: boolean}, context: RopeContext): number[] {
  const dim = context.headDim
  const correctionDim = (rotations: number): number =>
    (dim * Math.log(s.originalMaxPosition / (rotations * 2 * Math.PI))) / (2 * Math.log(context.ropeTheta))
  let low = correctionDim(s.betaFast)
  let high = correctionDim(s.betaSlow)
  if (s.truncate) [low, high] = [Math.floor(low), Math.ceil(high)]
  low = Math.max(low, 0)
  high = Math.min(high, dim - 1)
  if (low === high) high += 0.001 // transformers' guard against a zero-width ramp
  return Array.from({length: dim / 2}, (_, i) => {
    const kept = 1 - Math.min(1, Math.max(0, (i - low) / (high - low)))
    return 1 / ((1 - kept) / s.factor + kept)
  })
}

/**
 * LongRoPE (Phi-3): per-frequency divisors, short_factor up to original_max_position_embeddings and long_factor past
 * it. transformers switches on the longest position in the whole forward pass, which no paged batch can reproduce
 * per sequence, so the context is capped to the original length, where short_factor is exact.
 */
function parseLongRope(raw: Json, context: RopeContext, source: string, optionalPositive: (key: string) => number | null): ParsedRopeScaling {
  const half = context.headDim / 2
  const factors = (key: string): number[] => {
    const value = raw[key]
    if (!Array.isArray(value) || value.length !== half || value.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
      throw new ModelLoadError(`${source}: longrope rope_scaling "${key}" must list ${half} positive numbers (head_dim / 2).`)
    }
    return value as number[]
  }
  const shortFactor = factors('short_factor')
  const longFactor = factors('long_factor')
  const original = context.topLevelOriginalMax ?? raw.original_max_position_embeddings
  if (typeof original !== 'number' || !Number.isInteger(original) || original <= 0) {
    throw new ModelLoadError(`${source}: longrope rope_scaling needs a positive integer "original_max_position_embeddings".`)
  }
  const factor = optionalPositive('factor') ?? context.maxPositionEmbeddings / original
  const attentionFactor = optionalPositive('attention_factor') ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)))
  // PhiMoE's long_mscale (phimoe-config.ts) past the original context; others keep one factor.
  const longAttentionFactor = optionalPositive('long_attention_factor')
  const scaling: RopeScaling = {
    type: 'longrope', originalMaxPosition: original, maxPosition: context.maxPositionEmbeddings, shortFactor, longFactor, frequencyDivisors: shortFactor, attentionFactor,
    ...(longAttentionFactor === null ? {} : {longAttentionFactor}),
  }
  if (original >= context.maxPositionEmbeddings) return {scaling}
  return {scaling, contextCap: {tokens: original, note: longRopeCapNote(original)}}
}

function longRopeCapNote(original: number): string {
  return `longrope rope_scaling: context capped to original_max_position_embeddings ${original} (short_factor, exact there; transformers changes the rope of every sequence of a forward pass once one passes it: Phi-3's long_factor, PhiMoE's long_mscale; --max-model-len above it runs long_factor throughout).`
}

/**
 * LongRoPE past the original context, when --max-model-len asks for it: long_factor rotates every position (llama.cpp's
 * rule once its context passes the original), so a sequence's rotations never depend on its batch or its length.
 * Otherwise the config as parsed: short_factor, capped to the original context, exact against transformers there.
 */
export function longRopeForContext<Config extends {ropeScaling: RopeScaling; maxPositionEmbeddings: number; notes?: string[]}>(config: Config, requested: number | undefined): Config {
  const rope = config.ropeScaling
  if (rope.type !== 'longrope' || requested === undefined || requested <= config.maxPositionEmbeddings || rope.maxPosition <= rope.originalMaxPosition) return config
  const maxPositionEmbeddings = Math.min(requested, rope.maxPosition)
  const note = `longrope rope_scaling: --max-model-len ${requested} passes original_max_position_embeddings ${rope.originalMaxPosition}, so long_factor rotates every position up to ${maxPositionEmbeddings} (as llama.cpp past the original context; transformers keeps short_factor while a forward pass stays within it).`
  const notes = [...(config.notes ?? []).filter((line) => line !== longRopeCapNote(rope.originalMaxPosition)), note]
  return {...config, maxPositionEmbeddings, ropeScaling: {...rope, frequencyDivisors: rope.longFactor, attentionFactor: rope.longAttentionFactor ?? rope.attentionFactor}, notes}
}

/**
 * Multimodal rope's sections (Qwen2-VL, Qwen3-VL, Qwen 3.5) give each frequency one of a token's (t, h, w) positions,
 * one position for text, so text runs plain rope whatever they say; they are read only to refuse what transformers
 * could not index with.
 */
export function checkMropeSection(sections: unknown, key: string, source: string): void {
  if (sections != null && (!Array.isArray(sections) || sections.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 0))) {
    throw new ModelLoadError(`${source}: "${key}" must list non-negative integers, got ${quotedValue(sections)}.`)
  }
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
