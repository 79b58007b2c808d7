// Builds a deterministic Llama-2-style tokenizer.json (SentencePiece BPE: ▁ metaspace, byte fallback) of an exact vocabulary size.
import {TRAINING_TEXT, bosPostProcessor, fillVocabulary, learnMerges, specialAddedToken} from './byte-level-bpe.js'

const METASPACE = '\u2581'

export interface SentencePieceBpeSpec {
  vocabSize: number
  seed: number
  /** Added tokens, given ids 0.. in this order; the first three are <unk>, <s>, </s> as in Llama 2. */
  specialTokens: readonly string[]
  bosToken: string
}

function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`
}

/** Ids: specials, the 256 <0xNN> byte tokens, the training text's characters, then merges (SentencePiece's order). */
export function buildSentencePieceBpe(spec: SentencePieceBpeSpec): Record<string, unknown> {
  // SentencePiece sees text with spaces as ▁ and one ▁ in front; line breaks are left to byte fallback (<0x0A>).
  const normalized = METASPACE + TRAINING_TEXT.replace(/\s+/g, ' ').replaceAll(' ', METASPACE)
  // Llama 2's SentencePiece model splits digits: every digit is a piece of its own and no piece holds one with anything else.
  const digits = '0123456789'
  const alphabet = [...new Set([...normalized, ...digits])].sort()
  const minimum = spec.specialTokens.length + 256 + alphabet.length
  if (spec.vocabSize < minimum) throw new Error(`SentencePiece BPE needs a vocabulary of at least ${minimum}`)
  const vocab = new Map<string, number>()
  spec.specialTokens.forEach((token, id) => vocab.set(token, id))
  for (let byte = 0; byte < 256; byte++) vocab.set(byteToken(byte), vocab.size)
  for (const char of alphabet) vocab.set(char, vocab.size)
  // Pieces start at a ▁ and never span one, as SentencePiece's whitespace splitting gives.
  const words = (normalized.match(new RegExp(`\\p{N}|${METASPACE}?[^${METASPACE}\\p{N}]+|${METASPACE}`, 'gu')) ?? []).map((word) => [...word])
  const learned = learnMerges(words, spec.vocabSize - minimum)
  const merges = fillVocabulary(vocab, learned, alphabet.filter((char) => !digits.includes(char)), spec.vocabSize, spec.seed)
  const bosId = spec.specialTokens.indexOf(spec.bosToken)
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.specialTokens.map((content, id) => specialAddedToken(id, content)),
    normalizer: null,
    // What transformers' LlamaTokenizer (legacy=False) builds: ▁ before the first piece only, no splitting.
    pre_tokenizer: {type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'first', split: false},
    post_processor: bosPostProcessor(spec.bosToken, bosId),
    decoder: {
      type: 'Sequence',
      decoders: [
        {type: 'Replace', pattern: {String: METASPACE}, content: ' '},
        {type: 'ByteFallback'},
        {type: 'Fuse'},
        {type: 'Strip', content: ' ', start: 1, stop: 0},
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: spec.specialTokens[0],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([left, right]) => `${left} ${right}`),
    },
  }
}
