// The hostile requests of scripts/fuzz-serve.ts: a seeded generator of route, headers and body (valid ones mutated in type, range, size and combination).
import {gzipSync} from 'node:zlib'
import {FIELD_VALUES, VALID_VALUES, junk, messages, prompt} from './fuzz-serve-fields.js'
import {responsesBody} from './fuzz-serve-responses.js'

/** mulberry32: small, seeded, reproducible. */
export function makeRandom(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]
  const chance = (p: number) => next() < p
  return {next, int, pick, chance}
}
export type Random = ReturnType<typeof makeRandom>

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS'
  path: string
  headers: Record<string, string>
  /** Sent as is (a Buffer may hold bytes that are not UTF-8). */
  body?: Buffer
  /** Send the body chunked (no Content-Length), in pieces. */
  chunked?: boolean
  /** What the generator meant: the body stayed valid JSON of the right shape (the reply should be a 200, or a 4xx for a range). */
  label: string
}

/** A valid body for the route, then 0..5 fields set to hostile values (or, half the time, 1..8 fields set to valid ones). */
function body(r: Random, path: string): Record<string, unknown> {
  if (path === '/v1/responses') return responsesBody(r)
  const chat = path === '/v1/chat/completions'
  const fields: Record<string, unknown> = chat ? {messages: [{role: 'user', content: 'Hello there'}], max_tokens: r.int(1, 8)} : {prompt: 'Once upon a time', max_tokens: r.int(1, 8)}
  if (path === '/detokenize') return r.chance(0.8) ? {tokens: r.pick([[1, 2, 3], [], [-1], [2 ** 31], [1.5], 'x', Array.from({length: 10_000}, (_, i) => i % 300), null])} : {prompt: 'x'}
  if (r.chance(0.5)) fields.seed = r.int(0, 1000)
  const valid = r.chance(0.5)
  const values = valid ? VALID_VALUES : FIELD_VALUES
  const names = Object.keys(values)
  for (let i = valid ? r.int(1, 8) : r.int(0, 5); i > 0; i--) {
    const name = r.pick(names)
    fields[name === 'unknown_field' ? `x_${r.int(0, 99)}` : name] = values[name](r)
  }
  if (valid && chat && typeof fields.logprobs === 'number') fields.logprobs = true
  if (r.chance(valid ? 0.1 : 0.2)) fields[chat ? 'messages' : 'prompt'] = chat ? messages(r) : prompt(r)
  if (path === '/tokenize' && r.chance(0.4)) {
    delete fields.prompt
    fields.messages = messages(r)
    if (r.chance(0.5)) fields.return_token_strs = r.chance(0.8) ? true : junk(r)
  }
  return fields
}

const ROUTES = ['/v1/completions', '/v1/completions', '/v1/completions', '/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions', '/v1/responses', '/v1/responses', '/tokenize', '/detokenize']
const GET_ROUTES = ['/health', '/ping', '/version', '/metrics', '/v1/models', '/v1/models/x', '/v1/models/%ZZ', '/nope', '/v1/completions', '//v1//models', '/v1/models?x=1#y', '/' + 'a'.repeat(9000)]

/** One request: mostly POSTs of mutated JSON, some with broken framing, encodings or bytes. */
export function generateRequest(r: Random, servedModel: string): FuzzRequest {
  if (r.chance(0.08)) return {method: r.pick(['GET', 'GET', 'PUT', 'DELETE', 'OPTIONS'] as const), path: r.pick(GET_ROUTES), headers: {}, label: 'get'}
  const path = r.pick(ROUTES)
  const fields = body(r, path)
  if (r.chance(0.3)) fields.model = servedModel
  let text = JSON.stringify(fields)
  let label = 'json'
  const headers: Record<string, string> = {'content-type': 'application/json'}
  let raw: Buffer | undefined
  let chunked = false
  switch (r.int(0, 39)) {
    case 0:
      text = text.replace(/^\{/, `{"max_tokens": 1, "stream": "x", `) // duplicate keys: the last one wins in JSON.parse
      label = 'duplicate-keys'
      break
    case 1:
      text = `{"max_tokens": ${r.pick(['1e400', '-0', '1.0', '1E0', '0.99999999999999999', '-1e-400', '2.0e1', '18446744073709551616'])}, ${text.slice(1)}`
      label = 'number-forms'
      break
    case 2:
      text = '['.repeat(r.pick([100, 5000, 100_000])) + ']'.repeat(r.int(0, 1) ? 100 : 0)
      label = 'deep-nesting'
      break
    case 3:
      raw = Buffer.concat([Buffer.from(text.slice(0, -1) + ', "prompt": "'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('"}')])
      label = 'non-utf8'
      break
    case 4:
      headers['content-type'] = r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', '', 'multipart/form-data; boundary=x'])
      label = 'content-type'
      break
    case 5:
      raw = gzipSync(Buffer.from(text))
      headers['content-encoding'] = r.pick(['gzip', 'deflate', 'br', 'identity'])
      label = 'encoded-body'
      break
    case 6:
      chunked = true
      label = 'chunked'
      break
    case 7:
      text = text.slice(0, r.int(0, text.length - 1))
      label = 'truncated-json'
      break
    case 8:
      text = r.pick(['', 'null', '1', '"x"', 'true', '[]', '{}', '\uFEFF{}', '{"prompt": "x"} trailing', '{"__proto__": {"max_tokens": 1}, "prompt": "x"}', '{"constructor": {"prototype": {}}, "prompt": "x"}'])
      label = 'odd-json'
      break
    case 9:
      text = JSON.stringify({...fields, pad: 'p'.repeat(r.pick([1 << 20, 5 << 20]))})
      label = 'big-body'
      break
    default:
  }
  return {method: 'POST', path, headers, body: raw ?? Buffer.from(text), chunked, label}
}
