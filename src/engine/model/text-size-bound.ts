// The most UTF-8 bytes a text of N tokens can have, read off tokenizer.json, so a server can refuse huge prompts without tokenizing them.
type Json = Record<string, unknown>

/** bytes(text) <= tokens * bytesPerToken * contraction + slackBytes for every text that encodes to `tokens` tokens. */
export interface TextSizeBound {
  bytesPerToken: number
  /** How many input bytes the normalizer may turn into one output byte (Unicode normalization: up to 4). */
  contraction: number
  /** Bytes the normalizer may delete outright, once per text. */
  slackBytes: number
}

/** A Unicode normal form or case fold maps no character to less than a quarter of its UTF-8 bytes (e.g. U+1D400 -> 'A'). */
const UNICODE_CONTRACTION = 4

/**
 * The bound, or null when this tokenizer can drop unbounded text (whitespace-splitting pre-tokenizers, stripping
 * normalizers, fused unknown tokens): then only tokenizing tells the length. A vocab entry's own UTF-8 length
 * over-counts the input it covers (byte-level and '▁' pieces are never shorter than their bytes), so the bound is safe.
 */
export function textSizeBound(tokenizerJson: Json): TextSizeBound | null {
  const model = (tokenizerJson.model ?? {}) as Json
  const perToken = longestPieceBytes(model, tokenizerJson.added_tokens)
  if (perToken === null) return null
  const normalizer = normalizerBound(tokenizerJson.normalizer as Json | null | undefined)
  if (normalizer === null || !preTokenizerKeepsText(tokenizerJson.pre_tokenizer as Json | null | undefined)) return null
  return {bytesPerToken: perToken, ...normalizer}
}

export function maxTextBytes(bound: TextSizeBound, tokens: number): number {
  return tokens * bound.bytesPerToken * bound.contraction + bound.slackBytes
}

const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8')

function longestPieceBytes(model: Json, addedTokens: unknown): number | null {
  const vocab = model.vocab
  const pieces: string[] = Array.isArray(vocab) ? vocab.map((entry) => String((entry as unknown[])[0])) : Object.keys((vocab ?? {}) as Json)
  if (Array.isArray(addedTokens)) for (const token of addedTokens) pieces.push(String((token as Json).content ?? ''))
  let longest = 1
  for (const piece of pieces) longest = Math.max(longest, utf8Length(piece))
  const hasUnknown = model.unk_token != null || model.unk_id != null
  switch (model.type) {
    case 'BPE':
      // Unknown characters become one <unk> each, unless fused into one <unk> per run (unbounded); byte fallback never needs <unk>.
      return hasUnknown && model.fuse_unk === true && model.byte_fallback !== true ? null : longest
    case 'WordPiece':
      // A word longer than max_input_chars_per_word becomes one [UNK].
      return Math.max(longest, 4 * Number(model.max_input_chars_per_word ?? 100))
    default:
      // Unigram fuses unknown runs; WordLevel maps a whole unknown word to <unk>.
      return hasUnknown ? null : longest
  }
}

function normalizerBound(normalizer: Json | null | undefined): {contraction: number; slackBytes: number} | null {
  if (normalizer == null) return {contraction: 1, slackBytes: 0}
  switch (normalizer.type) {
    case 'Sequence': {
      let bound = {contraction: 1, slackBytes: 0}
      for (const part of (normalizer.normalizers ?? []) as Json[]) {
        const next = normalizerBound(part)
        if (next === null) return null
        // Later parts see earlier output: text <= c1 * (c2 * out + s2) + s1.
        bound = {contraction: bound.contraction * next.contraction, slackBytes: bound.slackBytes + bound.contraction * next.slackBytes}
      }
      return bound
    }
    case 'Prepend':
      return {contraction: 1, slackBytes: 0}
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
    case 'Lowercase':
      return {contraction: UNICODE_CONTRACTION, slackBytes: 0}
    case 'Replace':
      return replaceBound(normalizer)
    default:
      return null // Strip, StripAccents, BertNormalizer, Precompiled...: may delete any amount of text
  }
}

/** A literal replaced by a non-empty string contracts by their length ratio; a regex is bounded only as `\A literal (?=...)`. */
function replaceBound(normalizer: Json): {contraction: number; slackBytes: number} | null {
  const pattern = (normalizer.pattern ?? {}) as Json
  const content = String(normalizer.content ?? '')
  if (typeof pattern.String === 'string') {
    if (content === '') return null
    return {contraction: Math.max(1, utf8Length(pattern.String) / utf8Length(content)), slackBytes: 0}
  }
  // Matches at most once, at the start, and consumes only the literal before the lookahead.
  const anchored = typeof pattern.Regex === 'string' ? /^\\A((?:[^\\()[\]{}.*+?|^$]|\\[^A-Za-z0-9])*)(\(\?=.*\))?$/.exec(pattern.Regex) : null
  if (anchored === null) return null
  return {contraction: 1, slackBytes: utf8Length(anchored[1]!.replace(/\\(.)/g, '$1'))}
}

function preTokenizerKeepsText(preTokenizer: Json | null | undefined): boolean {
  if (preTokenizer == null) return true
  switch (preTokenizer.type) {
    case 'Sequence':
      return ((preTokenizer.pretokenizers ?? []) as Json[]).every(preTokenizerKeepsText)
    case 'Split':
      return preTokenizer.behavior !== 'Removed'
    case 'ByteLevel':
    case 'Metaspace':
    case 'Digits':
    case 'Punctuation':
    case 'UnicodeScripts':
      return true
    default:
      return false // Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit drop the separators
  }
}
