// Builds deterministic byte-level BPE tokenizer.json files (Llama-3 / Qwen2 style) of an exact vocabulary size, for test models.
import {SeededRandom} from './seeded-random.js'

/** The text merges are learned from first, so common English words encode to few tokens. */
export const TRAINING_TEXT = `The quick brown fox jumps over the lazy dog. A paged attention engine stores the key and value cache
in fixed-size blocks, so that memory is allocated on demand and shared between sequences. What is the capital of France?
The capital of France is Paris. Write a short poem about the sea. The sea is blue and the waves are high. Here is a simple
recipe for chocolate chip cookies: first, mix the butter and the sugar, then add the eggs, the flour and the chocolate.
Explain what a neural network is. A neural network is a model that learns to map inputs to outputs from examples.
Give me three tips for staying healthy: eat well, sleep well, and move every day. Translate good morning into Spanish.
The system, the user and the assistant take turns in a conversation. This is a test of the tokenizer and of the model.
In the beginning there were many questions, and the answers were not always simple, but they were often interesting.
Numbers like 1, 2, 3, 10, 42, 100 and 2024 appear in text too, as do names, places, dates and times of the day.`

/** A tokenizer.json added_tokens entry for a special token matched whole, never split by BPE. */
export function specialAddedToken(id: number, content: string) {
  return {id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}
}

/** A tokenizer.json post-processor that puts the BOS token before every encoded text (and before each of a pair). */
export function bosPostProcessor(bosToken: string, bosId: number) {
  return specialTokensPostProcessor({token: bosToken, id: bosId}, null)
}

/** BOS before and EOS after every encoded text (and each of a pair), either optional: transformers' Llama update_post_processor. */
export function specialTokensPostProcessor(bos: {token: string; id: number} | null, eos: {token: string; id: number} | null) {
  const sequence = (id: 'A' | 'B', typeId: number) => [
    ...(bos ? [{SpecialToken: {id: bos.token, type_id: typeId}}] : []),
    {Sequence: {id, type_id: typeId}},
    ...(eos ? [{SpecialToken: {id: eos.token, type_id: typeId}}] : []),
  ]
  const specials = [bos, eos].filter((t) => t !== null)
  return {
    type: 'TemplateProcessing',
    single: sequence('A', 0),
    pair: [...sequence('A', 0), ...sequence('B', 1)],
    special_tokens: Object.fromEntries(specials.map(({token, id}) => [token, {id: token, ids: [id], tokens: [token]}])),
  }
}

/** GPT-2's reversible map from bytes to printable characters, so every byte string is a valid token string. */
export function bytesToUnicode(): string[] {
  const printable: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b)
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b)
  for (let b = 0xae; b <= 0xff; b++) printable.push(b)
  const map: string[] = new Array(256)
  for (const b of printable) map[b] = String.fromCodePoint(b)
  let extra = 0
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + extra++)
  return map
}

/** Standard BPE training: merge the most frequent adjacent pair of the words (symbol lists with counts) until pairs stop repeating. */
export function learnMerges(wordSymbols: string[][], limit: number): [string, string][] {
  const wordCounts = new Map<string, number>()
  for (const symbols of wordSymbols) {
    const key = symbols.join('\u0000')
    wordCounts.set(key, (wordCounts.get(key) ?? 0) + 1)
  }
  let words = [...wordCounts].map(([w, count]) => ({symbols: w.split('\u0000'), count}))
  const merges: [string, string][] = []
  while (merges.length < limit) {
    const pairCounts = new Map<string, number>()
    for (const {symbols, count} of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + '\u0000' + symbols[i + 1]
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count)
      }
    }
    let best: string | null = null
    let bestCount = 1
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== null && key < best)) {
        best = key
        bestCount = count
      }
    }
    if (best === null) break
    const [left, right] = best.split('\u0000') as [string, string]
    merges.push([left, right])
    words = words.map(({symbols, count}) => {
      const merged: string[] = []
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right)
          i++
        } else merged.push(symbols[i]!)
      }
      return {symbols: merged, count}
    })
  }
  return merges
}

/**
 * Grows `vocab` to vocabSize: learned merges first, then merges of seeded-random pairs of `mergeable` tokens, so every
 * id is a real, decodable token. Returns all merges in rank order.
 */
export function fillVocabulary(vocab: Map<string, number>, learned: [string, string][], mergeable: string[], vocabSize: number, seed: number): [string, string][] {
  const merges: [string, string][] = []
  for (const [left, right] of learned) {
    if (vocab.size >= vocabSize) break
    if (vocab.has(left + right)) continue
    merges.push([left, right])
    vocab.set(left + right, vocab.size)
    mergeable.push(left + right)
  }
  const random = new SeededRandom(seed ^ 0x5bd1e995)
  while (vocab.size < vocabSize) {
    const left = mergeable[random.nextInt(mergeable.length)]!
    const right = mergeable[random.nextInt(mergeable.length)]!
    const token = left + right
    if (vocab.has(token) || token.length > 16) continue
    merges.push([left, right])
    vocab.set(token, vocab.size)
    mergeable.push(token)
  }
  return merges
}

export interface ByteLevelBpeSpec {
  vocabSize: number
  seed: number
  /** Added tokens, given ids 0.. in this order ahead of the byte alphabet. */
  specialTokens: readonly string[]
  /** The family's pre-tokenizer split in JS syntax, so training sees the words encoding will. */
  trainingSplit: RegExp
  /** tokenizer.json sections copied as given (the family's own). */
  normalizer: unknown
  preTokenizer: unknown
  postProcessor: unknown
  decoder: unknown
  ignoreMerges: boolean
}

/** A byte-level BPE tokenizer.json whose vocabulary has exactly spec.vocabSize entries: specials, 256 bytes, merges. */
export function buildByteLevelBpe(spec: ByteLevelBpeSpec): Record<string, unknown> {
  const minimum = spec.specialTokens.length + 256
  if (spec.vocabSize < minimum) throw new Error(`byte-level BPE needs a vocabulary of at least ${minimum}`)
  const byteChars = bytesToUnicode()
  const vocab = new Map<string, number>()
  spec.specialTokens.forEach((token, id) => vocab.set(token, id))
  for (const char of byteChars) vocab.set(char, vocab.size)
  const encoder = new TextEncoder()
  const words = (TRAINING_TEXT.match(spec.trainingSplit) ?? []).map((word) => [...encoder.encode(word)].map((b) => byteChars[b]!))
  const learned = learnMerges(words, spec.vocabSize - minimum)
  const merges = fillVocabulary(vocab, learned, [...byteChars], spec.vocabSize, spec.seed)
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.specialTokens.map((content, id) => specialAddedToken(id, content)),
    normalizer: spec.normalizer,
    pre_tokenizer: spec.preTokenizer,
    post_processor: spec.postProcessor,
    decoder: spec.decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([left, right]) => `${left} ${right}`),
    },
  }
}
