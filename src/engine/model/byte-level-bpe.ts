// Builds a deterministic GPT-2-style byte-level BPE tokenizer.json of an exact vocabulary size, for generated test models.
import {SeededRandom} from './seeded-random.js'

export const TEST_SPECIAL_TOKENS = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'] as const

/** ChatML, opening with BOS as Llama-family templates do (so chat prompts are tokenized without adding special tokens). */
export const CHATML_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// Learned merges come from this text first, so common English words encode to few tokens.
const TRAINING_TEXT = `The quick brown fox jumps over the lazy dog. A paged attention engine stores the key and value cache
in fixed-size blocks, so that memory is allocated on demand and shared between sequences. What is the capital of France?
The capital of France is Paris. Write a short poem about the sea. The sea is blue and the waves are high. Here is a simple
recipe for chocolate chip cookies: first, mix the butter and the sugar, then add the eggs, the flour and the chocolate.
Explain what a neural network is. A neural network is a model that learns to map inputs to outputs from examples.
Give me three tips for staying healthy: eat well, sleep well, and move every day. Translate good morning into Spanish.
The system, the user and the assistant take turns in a conversation. This is a test of the tokenizer and of the model.
In the beginning there were many questions, and the answers were not always simple, but they were often interesting.
Numbers like 1, 2, 3, 10, 42, 100 and 2024 appear in text too, as do names, places, dates and times of the day.`

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

// The ByteLevel pre-tokenizer's own split (GPT-2 pattern), so training sees the same words encoding will.
const WORD_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

/** Standard BPE training on TRAINING_TEXT: merge the most frequent adjacent pair until pairs stop repeating. */
function learnMerges(byteChars: string[], limit: number): [string, string][] {
  const encoder = new TextEncoder()
  const wordCounts = new Map<string, number>()
  for (const word of TRAINING_TEXT.match(WORD_PATTERN) ?? []) {
    const mapped = [...encoder.encode(word)].map((b) => byteChars[b]).join('\u0000')
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1)
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
    const [left, right] = best.split('\u0000')
    merges.push([left, right])
    words = words.map(({symbols, count}) => {
      const merged: string[] = []
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right)
          i++
        } else merged.push(symbols[i])
      }
      return {symbols: merged, count}
    })
  }
  return merges
}

/** A tokenizer.json whose vocabulary has exactly vocabSize entries: specials, 256 bytes, learned then seeded-random merges. */
/** A tokenizer.json added_tokens entry for a special token matched whole, never split by BPE. */
export function specialAddedToken(id: number, content: string) {
  return {id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}
}

export function buildByteLevelBpe(vocabSize: number, seed: number): Record<string, unknown> {
  const minimum = TEST_SPECIAL_TOKENS.length + 256
  if (vocabSize < minimum) throw new Error(`byte-level BPE needs a vocabulary of at least ${minimum}`)
  const byteChars = bytesToUnicode()
  const vocab = new Map<string, number>()
  TEST_SPECIAL_TOKENS.forEach((token, id) => vocab.set(token, id))
  for (const char of byteChars) vocab.set(char, vocab.size)

  const merges: [string, string][] = []
  for (const [left, right] of learnMerges(byteChars, vocabSize - minimum)) {
    merges.push([left, right])
    vocab.set(left + right, vocab.size)
  }
  // Fill the rest with merges of random existing tokens (never specials), so every id is a real, decodable token.
  const random = new SeededRandom(seed ^ 0x5bd1e995)
  const mergeable = [...vocab.keys()].slice(TEST_SPECIAL_TOKENS.length)
  while (vocab.size < vocabSize) {
    const left = mergeable[random.nextInt(mergeable.length)]
    const right = mergeable[random.nextInt(mergeable.length)]
    const token = left + right
    if (vocab.has(token) || token.length > 16) continue
    merges.push([left, right])
    vocab.set(token, vocab.size)
    mergeable.push(token)
  }

  const addedTokens = TEST_SPECIAL_TOKENS.map((content, id) => specialAddedToken(id, content))
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
    post_processor: {
      type: 'TemplateProcessing',
      single: [{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
      pair: [
        {SpecialToken: {id: '<s>', type_id: 0}},
        {Sequence: {id: 'A', type_id: 0}},
        {SpecialToken: {id: '<s>', type_id: 1}},
        {Sequence: {id: 'B', type_id: 1}},
      ],
      special_tokens: {'<s>': {id: '<s>', ids: [1], tokens: ['<s>']}},
    },
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([left, right]) => `${left} ${right}`),
    },
  }
}

/** tokenizer_config.json for the generated tokenizer: BOS <s>, EOS <|im_end|>, ChatML template. */
export function buildTokenizerConfig(maxLength: number): Record<string, unknown> {
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(
      TEST_SPECIAL_TOKENS.map((content, id) => [
        String(id),
        {content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true},
      ]),
    ),
    bos_token: '<s>',
    eos_token: '<|im_end|>',
    unk_token: '<unk>',
    pad_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
  }
}
