// A guided spec checked and keyed in a tokenizer worker (which parsed its body), handed to the event loop at a cost
// that does not grow with the spec. Cloned back as objects, a schema of 20,000 alternatives cost the event loop ~100 ms
// to rebuild, then ~300 ms of checks and key; handed over, its content stays shared text, read only if something asks.
import {InvalidRequestError} from '../errors.js'
import type {GrammarRef} from './grammar-ref.js'
import {adoptSettlement, type GuidedSpec, settle} from './guided-spec.js'

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
  error?: {message: string; param: string | null; code: string | null}
}

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
  return {fields, text, digest: settlement.digest, ref: settlement.ref, error: error && {message: error.message, param: error.param, code: error.code}}
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
  adoptSettlement(spec as unknown as GuidedSpec, {digest, ref, error: error && new InvalidRequestError(error.message, {param: error.param, code: error.code})})
  return spec as unknown as GuidedSpec
}
