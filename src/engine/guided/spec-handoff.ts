// A guided spec checked and keyed in a tokenizer worker (which parsed its body), handed to the event loop at a cost
// that does not grow with the spec. Cloned back as objects, a schema of 20,000 alternatives cost the event loop ~100 ms
// to rebuild, then ~300 ms of checks and key; handed over, its content stays shared text, read only if something asks.
import {InvalidRequestError} from '../errors.js'
import type {GrammarRef} from './grammar-ref.js'
import {adoptSettlement, type GuidedSpec, isSettled, settle} from './guided-spec.js'

/** Each kind's fields that grow with the spec; the others (kind, param, anyWhitespace) travel as they are. */
const CONTENT_FIELDS: Record<GuidedSpec['kind'], readonly string[]> = {
  json: ['schema'],
  regex: ['pattern'],
  choice: ['choices'],
  grammar: ['ebnf'],
  structural_tag: ['tags', 'triggers'],
}

export interface SpecHandoff {
  /** The spec's fields in order, the small ones with their values. */
  fields: Array<[name: string, value?: unknown]>
  /** The spec's JSON text (UTF-8, shared): its content fields, parsed on first read. */
  text: SharedArrayBuffer
  digest: string
  ref?: GrammarRef
  /** The refusal of its checks, thrown where the event loop would have thrown its own (LLMEngine.prepareRequest). */
  error?: Refusal
}

/** An InvalidRequestError as it crosses threads. */
interface Refusal {
  message: string
  param: string | null
  code: string | null
}

const refusalOf = (error: InvalidRequestError | undefined): Refusal | undefined => error && {message: error.message, param: error.param, code: error.code}
const errorOf = (refusal: Refusal | undefined): InvalidRequestError | undefined => refusal && new InvalidRequestError(refusal.message, {param: refusal.param, code: refusal.code})

/** Settles the spec here and packs it (null: it has no text, so the event loop checks it as before). */
export function packSpec(spec: GuidedSpec): SpecHandoff | null {
  const settlement = settle(spec)
  if (settlement === null) return null
  const json = JSON.stringify(spec)
  const text = new SharedArrayBuffer(Buffer.byteLength(json))
  Buffer.from(text).write(json)
  const content = CONTENT_FIELDS[spec.kind]
  const fields = Object.entries(spec).map(([name, value]): [string, unknown?] => (content.includes(name) ? [name] : [name, value]))
  const {error} = settlement
  return {fields, text, digest: settlement.digest, ref: settlement.ref, error: refusalOf(error)}
}

/**
 * The spec on the event loop, adopted as settled (checkGuidedSpec, grammarRefOf and the compile read nothing more of
 * it). Its content fields are getters over the shared text, so reading one still gives the value sent.
 */
export function unpackSpec(handoff: SpecHandoff): GuidedSpec {
  let content: Record<string, unknown> | undefined
  const read = () => (content ??= JSON.parse(Buffer.from(handoff.text).toString('utf8')) as Record<string, unknown>)
  const spec: Record<string, unknown> = {}
  for (const [name, ...value] of handoff.fields) {
    if (value.length > 0) spec[name] = value[0]
    else Object.defineProperty(spec, name, {enumerable: true, configurable: true, get: () => read()[name]})
  }
  const {digest, ref, error} = handoff
  adoptSettlement(spec as unknown as GuidedSpec, {digest, ref, error: errorOf(error)})
  return spec as unknown as GuidedSpec
}

/**
 * A spec from a small body (parsed and checked on the event loop) is settled in a worker too once its text passes
 * this: checks and key cost about 0.3 ms per KB (a 60 KB `anyOf`: ~20 ms), its text and digest a hundredth of that.
 */
const SETTLE_ELSEWHERE_CHARS = 4096

/** The spec's text when it is worth settling in a worker (long enough, and not settled already), else null. */
export function textToSettle(spec: GuidedSpec): string | null {
  let text: string
  try {
    text = JSON.stringify(spec)
  } catch {
    return null // nested past the stack: its checks refuse it, on the event loop as before
  }
  return text.length >= SETTLE_ELSEWHERE_CHARS && !isSettled(spec) ? text : null
}

/** What settling a spec's text found, as it crosses back from the worker. */
export type TextSettlement = Omit<SpecHandoff, 'fields' | 'text'>

/** In a worker: settles the spec written as `text` (null: it has no text to digest, so the event loop checks it). */
export function settleText(text: string): TextSettlement | null {
  const settlement = settle(JSON.parse(text) as GuidedSpec)
  return settlement && {digest: settlement.digest, ref: settlement.ref, error: refusalOf(settlement.error)}
}

/** Adopts a worker's settlement of the spec's text (textToSettle) as this spec object's. */
export function adoptTextSettlement(spec: GuidedSpec, {digest, ref, error}: TextSettlement): void {
  adoptSettlement(spec, {digest, ref, error: errorOf(error)})
}
