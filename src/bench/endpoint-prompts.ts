// Text prompts for an endpoint: the trace's own text, else text of the traced length in the server's tokens (/tokenize), else filler words.
import {request, type Dispatcher} from 'undici'
import {UnavailableError} from '../engine/errors.js'
import {endpointHeaders} from './endpoint-run.js'
import {endpointUrl} from './endpoint-url.js'
import {BenchRandom} from './random.js'
import type {TraceRequest} from './trace.js'

/** text: what vLLM's benchmark_serving sends (any server takes it); ids: token ids of the local model's vocabulary. */
export const PROMPT_FORMATS = ['text', 'ids'] as const
export type PromptFormat = (typeof PROMPT_FORMATS)[number]

export interface EndpointPrompts {
  /** One prompt per trace request, in trace order. */
  texts: string[]
  /** Where the text came from, in words (for the log and results.json). */
  source: string
}

/**
 * Common English words that GPT-2 and Llama-family vocabularies each hold as one token (with the leading
 * space): a filler of n words is about n tokens there. Servers report the real counts in `usage`.
 */
const FILLER_WORDS = (
  'the of and to in is was for on are with as at be by this had not but from have they you were his her one all can ' +
  'said there use an each which she do how their if will up other about out many then them these so some would make ' +
  'like him into time has look two more write go see number no way could people my than first water been call who ' +
  'its now find long down day did get come made may part over new sound take only little work know place year live ' +
  'me back give most very after thing our just name good sentence man think say great where help through much before ' +
  'line right too mean old any same tell boy follow came want show also around form three small set put end does ' +
  'another well large must big even such because turn here why ask went men read need land different home us move'
).split(' ')

/** Seeded filler: `count` words drawn from FILLER_WORDS. */
export function fillerText(count: number, random: BenchRandom): string {
  return Array.from({length: count}, () => FILLER_WORDS[random.int(FILLER_WORDS.length)]).join(' ')
}

interface ServerTokenizer {
  tokenize(text: string, addSpecialTokens: boolean): Promise<number[]>
  detokenize(tokens: number[]): Promise<string>
}

/** The server's /tokenize and /detokenize (vLLM's and ours), or null when it has none. */
async function serverTokenizer(baseUrl: string, model: string, dispatcher: Dispatcher): Promise<ServerTokenizer | null> {
  const call = async (path: string, body: object) => {
    const response = await request(endpointUrl(baseUrl, path), {method: 'POST', dispatcher, headers: endpointHeaders(), body: JSON.stringify({model, ...body})})
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new UnavailableError(`${baseUrl}: POST ${path} answered ${response.statusCode}: ${text.slice(0, 300)}`)
    try {
      return JSON.parse(text)
    } catch {
      throw new UnavailableError(`${baseUrl}: POST ${path} answered with text that is not JSON: ${JSON.stringify(text.slice(0, 100))}`)
    }
  }
  // Answers of the wrong shape are refused: the prompts would silently have the wrong lengths.
  const expect = <T>(value: unknown, valid: (value: unknown) => value is T, what: string): T => {
    if (!valid(value)) throw new UnavailableError(`${baseUrl}: ${what} answered ${JSON.stringify(value)?.slice(0, 100)}`)
    return value
  }
  const isTokenList = (value: unknown): value is number[] => Array.isArray(value) && value.every((id) => Number.isInteger(id))
  const tokenizer: ServerTokenizer = {
    tokenize: async (text, addSpecialTokens) => expect((await call('/tokenize', {prompt: text, add_special_tokens: addSpecialTokens}))?.tokens, isTokenList, 'POST /tokenize'),
    detokenize: async (tokens) => expect((await call('/detokenize', {tokens}))?.prompt, (value): value is string => typeof value === 'string', 'POST /detokenize'),
  }
  try {
    const probe = await tokenizer.tokenize('hello', false)
    return Array.isArray(probe) && probe.length > 0 ? tokenizer : null
  } catch {
    return null // no such route (404), or not this shape: fall back to the filler
  }
}

/**
 * Text of `promptLen` server tokens, special tokens included (the traces count OPT's BOS, and servers add
 * theirs to a text prompt): seeded filler words, tokenized by the server, cut to the length and turned back into text.
 */
async function textOfLength(tokenizer: ServerTokenizer, promptLen: number, specialTokens: number, random: BenchRandom, baseUrl: string): Promise<string> {
  const wanted = Math.max(1, promptLen - specialTokens)
  let text = fillerText(wanted, random)
  let tokens = await tokenizer.tokenize(text, false)
  while (tokens.length < wanted) {
    const counted = tokens.length
    text += ' ' + fillerText(wanted - tokens.length, random)
    tokens = await tokenizer.tokenize(text, false)
    // A tokenizer that counts no more tokens for more words would grow the text forever.
    if (tokens.length <= counted) throw new UnavailableError(`${baseUrl}: /tokenize counts ${tokens.length} tokens for ever longer text: it cannot size a ${wanted}-token prompt`)
  }
  return tokenizer.detokenize(tokens.slice(0, wanted))
}

/** Text prompts for one endpoint, the best way it allows; the same seed gives the same text. */
export async function endpointTextPrompts(
  baseUrl: string,
  model: string,
  trace: readonly TraceRequest[],
  seed: number,
  dispatcher: Dispatcher,
): Promise<EndpointPrompts> {
  if (trace.every((r) => r.promptText !== undefined)) return {texts: trace.map((r) => r.promptText!), source: 'the dataset text'}
  const random = new BenchRandom(seed ^ 0x7e57)
  const tokenizer = await serverTokenizer(baseUrl, model, dispatcher)
  if (!tokenizer)
    return {texts: trace.map((r) => fillerText(Math.max(1, r.promptLen - 1), random)), source: 'filler words, one per traced token less a BOS (no /tokenize)'}
  const specialTokens = (await tokenizer.tokenize('', true)).length
  const texts: string[] = []
  for (const r of trace) texts.push(await textOfLength(tokenizer, r.promptLen, specialTokens, random, baseUrl))
  return {texts, source: "filler words cut to each traced length in the server's tokens (/tokenize)"}
}
