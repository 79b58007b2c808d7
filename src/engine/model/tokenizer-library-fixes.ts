// Puts right the places where @huggingface/tokenizers (JS) departs from the Rust tokenizers library it ports.
//
// - The ByteLevel pre-tokenizer splits by GPT-2's regex written with JS's \s, which counts U+FEFF as a space and not
//   U+0085; Rust's \s is Unicode White_Space (the reverse). " \ufeff" then split apart where Rust keeps one word.
//   (Split patterns from tokenizer.json are rewritten by the library itself; only this built-in one is not.)
// - The ByteFallback decoder's TextDecoder drops a U+FEFF at the start of each run of <0xNN> bytes (a BOM to it).
// - The Digits pre-tokenizer counts ASCII digits only; Rust's counts what char::is_numeric takes (\p{N}). After a
//   ByteLevel step (Falcon's) that includes the bytes B2 B3 B9 BC-BE, which map to ² ³ ¹ ¼ ½ ¾.
// - The Punctuation pre-tokenizer keeps runs of punctuation together whatever its behavior; Rust splits at each
//   punctuation character as the behavior says (Isolated by default; Falcon's Contiguous keeps runs).
// - The Unigram model breaks ties between equal-scoring segmentations otherwise and ignores byte_fallback (unigram-viterbi.ts).
// All are fixed on the built tokenizer's parts, which the library keeps as plain fields.
import {useRustUnigram} from './unigram-viterbi.js'

/** GPT-2's split with \s as Unicode White_Space, as the Rust library compiles it. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu

type Part = {pattern?: unknown; text_decoder?: unknown; tokenizers?: unknown; decoders?: unknown; use_regex?: unknown; byte_encoder?: unknown; config?: {type?: unknown; individual_digits?: unknown; behavior?: unknown}}

/** Rust's is_punc: ASCII punctuation or a Unicode P* character (the library's own class). */
const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E'
/** The pieces each Punctuation behavior leaves, as one match-all pattern (the library's pre-tokenizer keeps the matches). */
const PUNCTUATION_PIECES: Record<string, string> = {
  Isolated: `[^${PUNCTUATION}]+|[${PUNCTUATION}]`,
  Contiguous: `[^${PUNCTUATION}]+|[${PUNCTUATION}]+`,
  Removed: `[^${PUNCTUATION}]+`,
  MergedWithPrevious: `[^${PUNCTUATION}]*[${PUNCTUATION}]|[^${PUNCTUATION}]+`,
  MergedWithNext: `[${PUNCTUATION}]?[^${PUNCTUATION}]+|[${PUNCTUATION}]`,
}

/** Every part of a pipeline step, the members of Sequence steps included. */
function parts(step: unknown): Part[] {
  // The library's steps are callable objects (functions with fields).
  if (step === null || (typeof step !== 'object' && typeof step !== 'function')) return []
  const part = step as Part
  const children = [...(Array.isArray(part.tokenizers) ? part.tokenizers : []), ...(Array.isArray(part.decoders) ? part.decoders : [])]
  return [part, ...children.flatMap(parts)]
}

export function fixTokenizerLibrary(inner: object): void {
  const {pre_tokenizer: preTokenizer, decoder, model} = inner as {pre_tokenizer?: unknown; decoder?: unknown; model?: unknown}
  useRustUnigram(model)
  for (const part of parts(preTokenizer)) {
    // The ByteLevel pre-tokenizer: a byte-to-unicode table and a split regex.
    if (part.byte_encoder !== undefined && part.pattern instanceof RegExp && part.use_regex !== false) part.pattern = new RegExp(GPT2_SPLIT)
    if (part.config?.type === 'Digits' && part.pattern instanceof RegExp) part.pattern = part.config.individual_digits === true ? /[^\p{N}]+|\p{N}/gu : /[^\p{N}]+|\p{N}+/gu
    if (part.config?.type === 'Punctuation' && part.pattern instanceof RegExp) {
      part.pattern = new RegExp(PUNCTUATION_PIECES[String(part.config.behavior ?? 'Isolated')] ?? PUNCTUATION_PIECES.Isolated!, 'gu')
    }
  }
  for (const part of parts(decoder)) {
    if (part.text_decoder instanceof TextDecoder && !part.text_decoder.ignoreBOM) part.text_decoder = new TextDecoder('utf-8', {ignoreBOM: true})
  }
}
