// Prompt-lookup proposer: find the sequence's last n tokens earlier in its own text and propose what followed them.

/**
 * Up to `maxTokens` tokens that followed the most recent earlier occurrence of the last n tokens of `tokenIds`,
 * trying n from ngramMax down to ngramMin; [] when no suffix recurs.
 */
export function proposeNgram(tokenIds: readonly number[], ngramMin: number, ngramMax: number, maxTokens: number): number[] {
  const length = tokenIds.length
  if (maxTokens <= 0) return []
  for (let n = Math.min(ngramMax, length - 1); n >= ngramMin; n--) {
    const suffixStart = length - n
    // Most recent match first: nearby text is the likeliest to repeat.
    for (let start = suffixStart - 1; start >= 0; start--) {
      let matches = true
      for (let k = 0; k < n; k++) {
        if (tokenIds[start + k] !== tokenIds[suffixStart + k]) {
          matches = false
          break
        }
      }
      if (!matches) continue
      const from = start + n
      return tokenIds.slice(from, Math.min(from + maxTokens, length)) as number[]
    }
  }
  return []
}

/**
 * Hindsight: the proposal lookup would have made `numTokens` tokens ago (at most that many tokens), and how many of
 * them the text that followed accepted. null when there was nothing to propose then.
 */
export function ngramInHindsight(tokenIds: readonly number[], ngramMin: number, ngramMax: number, numTokens: number): {proposed: number; accepted: number} | null {
  const then = tokenIds.length - numTokens
  if (numTokens <= 0 || then < 1) return null
  const draft = proposeNgram(tokenIds.slice(0, then), ngramMin, ngramMax, numTokens)
  if (draft.length === 0) return null
  let accepted = 0
  while (accepted < draft.length && draft[accepted] === tokenIds[then + accepted]) accepted++
  return {proposed: draft.length, accepted}
}
