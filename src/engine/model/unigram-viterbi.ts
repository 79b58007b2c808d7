// The Unigram model's segmentation as the Rust tokenizers library computes it (Unigram::encode_optimized), in place of
// @huggingface/tokenizers' lattice. Both find a best-scoring path, but where two paths score the same (the same pieces
// in another order: "9" "000" "0" "0" against "9" "0" "0" "000") they keep different ones, and the JS model ignores
// byte_fallback (an unknown character became <unk> where Rust spells its UTF-8 bytes as <0xNN> pieces). Which of two
// equal paths wins depends on the last bit of the scores' sums, and Rust reads the scores with serde_json's default
// float parser, which is off by one ulp for about one score in eight (17-digit ones); those values are rebuilt here.
// XGLM's tokenizer.json is a Unigram model.

type Json = Record<string, unknown>

/** The library's Unigram model: the fields this module reads, and the tokenize step it replaces. */
interface UnigramModel {
  config: Json
  tokens_to_ids: Map<string, number>
  unk_token_id?: number
  trie: {common_prefix_search(chars: string[], start: number): Iterable<string>}
  tokenize(normalized: string): string[]
}

/** serde_json's default (not float_roundtrip) reading of the shortest decimal that writes x: the digits as a u64 made an
 * f64, then multiplied or divided by the power of ten once (a double rounding where the digits pass 2^53). */
export function serdeJsonF64(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e') as [string, string]
  const digits = mantissa.replace('.', '')
  let exponent = Number(exponentText) - (digits.length - 1)
  let value = Number(BigInt(digits))
  while (exponent < -308) {
    value /= 1e308
    exponent += 308
  }
  value = exponent >= 0 ? value * Number(`1e${exponent}`) : value / Number(`1e${-exponent}`)
  return x < 0 ? -value : value
}

/** Rust's K_UNK_PENALTY: an unknown character scores this far below the vocabulary's lowest piece. */
const UNK_PENALTY = 10

/** The pieces of one pre-tokenized word, by Rust's best-path rule: at equal scores the path found first (the earliest start) stays. */
function segment(model: UnigramModel, scores: number[], minScore: number, text: string): string[] {
  const chars = Array.from(text)
  const unkScore = minScore - UNK_PENALTY
  // Per character boundary: the best path's score up to it, where its last piece starts, and that piece's id.
  const best = Array.from({length: chars.length + 1}, () => ({score: 0, start: -1, id: 0}))
  for (let start = 0; start < chars.length; start++) {
    const tillHere = best[start]!.score
    let single = false
    const consider = (end: number, score: number, id: number) => {
      const node = best[end]!
      if (node.start < 0 || score + tillHere > node.score) Object.assign(node, {score: score + tillHere, start, id})
    }
    for (const piece of model.trie.common_prefix_search(chars, start)) {
      const id = model.tokens_to_ids.get(piece)!
      const length = Array.from(piece).length
      consider(start + length, scores[id]!, id)
      single ||= length === 1
    }
    if (!single) consider(start + 1, unkScore, model.unk_token_id ?? -1)
  }
  // Back from the end; consecutive unknown characters fuse into one piece (fuse_unk).
  const pieces: string[] = []
  let unknown = ''
  for (let end = chars.length; end > 0; ) {
    const node = best[end]!
    const piece = chars.slice(node.start, end).join('')
    if (model.unk_token_id !== undefined && node.id === model.unk_token_id) unknown = piece + unknown
    else {
      if (unknown !== '') pieces.push(unknown)
      unknown = ''
      pieces.push(piece)
    }
    end = node.start
  }
  if (unknown !== '') pieces.push(unknown)
  return pieces.reverse()
}

/** A piece the vocabulary lacks: its UTF-8 bytes as <0xNN> pieces where byte_fallback is on and all are there, else itself (the model makes it <unk>). */
function withByteFallback(model: UnigramModel, piece: string): string[] {
  if (model.tokens_to_ids.has(piece) || model.config.byte_fallback !== true) return [piece]
  const bytes = [...new TextEncoder().encode(piece)].map((byte) => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`)
  return bytes.every((token) => model.tokens_to_ids.has(token)) ? bytes : [piece]
}

/** Makes the library's Unigram model segment as Rust's does; other models are left alone. */
export function useRustUnigram(model: unknown): void {
  const unigram = model as UnigramModel
  if (unigram?.config?.type !== 'Unigram' || !Array.isArray(unigram.config.vocab)) return
  // The scores as Rust reads the file (the library also lowers the unknown token's own to the unknown penalty).
  const scores = (unigram.config.vocab as [string, number][]).map(([, score]) => serdeJsonF64(score))
  const minScore = scores.reduce((min, score) => Math.min(min, score), Infinity)
  unigram.tokenize = (normalized: string) => segment(unigram, scores, minScore, normalized).flatMap((piece) => withByteFallback(unigram, piece))
}
