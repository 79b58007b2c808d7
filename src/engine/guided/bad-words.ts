// vLLM's bad_words: a word's last token is banned wherever the output already ends with the word's other tokens.
/** Token sequences of each word, as it would appear alone and after a space (both spellings are banned). */
export function badWordTokenSequences(tokenizer: {encode(text: string, opts?: {addSpecialTokens?: boolean}): number[]}, words: readonly string[]): number[][] {
  const sequences = new Map<string, number[]>()
  for (const word of words) {
    for (const spelling of [word, ` ${word.trimStart()}`]) {
      const ids = tokenizer.encode(spelling, {addSpecialTokens: false})
      if (ids.length > 0) sequences.set(ids.join(','), ids)
    }
  }
  return [...sequences.values()]
}

/** Tokens that would complete a bad word right now, given the output so far. */
export function bannedNextTokens(sequences: readonly number[][], outputTokenIds: readonly number[]): number[] {
  const banned: number[] = []
  for (const sequence of sequences) {
    const prefixLength = sequence.length - 1
    if (prefixLength > outputTokenIds.length) continue
    let matches = true
    for (let i = 0; i < prefixLength && matches; i++) matches = outputTokenIds[outputTokenIds.length - prefixLength + i] === sequence[i]
    if (matches) banned.push(sequence[prefixLength]!)
  }
  return banned
}
