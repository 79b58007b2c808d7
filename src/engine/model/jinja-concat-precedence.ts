// jinja2's `~` binds tighter than `+` and `-` (its parser reads `a + b ~ c` as a + (b ~ c)); @huggingface/jinja reads
// them as one level, left to right ((a + b) ~ c). Where both meet at one bracket depth, each `~` run between the
// `+` / `-` operators is put in parentheses on the tokens, before the library parses them.

type Token = {value: string; type: string}

const OPENS = new Set(['OpenParen', 'OpenSquareBracket', 'OpenCurlyBracket'])
const CLOSES = new Set(['CloseParen', 'CloseSquareBracket', 'CloseCurlyBracket'])
/** Tokens of a lower precedence than + and -: they end the sum they follow. */
const ENDS_SUM = new Set(['ComparisonBinaryOperator', 'Comma', 'Colon', 'Equals', 'OpenStatement', 'CloseStatement', 'OpenExpression', 'CloseExpression', 'Text', 'Comment'])
const ENDS_SUM_NAMES = new Set(['and', 'or', 'not', 'in', 'if', 'else', 'elif', 'for', 'recursive'])

const isConcat = (token: Token) => token.type === 'AdditiveBinaryOperator' && token.value === '~'
const isSum = (token: Token) => token.type === 'AdditiveBinaryOperator' && token.value !== '~'

/** The tokens with every `~` run that meets a + or - at its depth in parentheses; the same array when none does. */
export function groupConcatenations(tokens: Token[]): Token[] {
  if (!tokens.some(isConcat)) return tokens
  // Per sum (a stretch of one depth between lower-precedence tokens): where its terms start and whether each holds a `~`.
  const wraps = new Map<number, number>() // term start -> term end (exclusive)
  const sums: Array<{terms: Array<{start: number; concat: boolean}>; sums: number}> = [{terms: [{start: 0, concat: false}], sums: 0}]
  const close = (sum: (typeof sums)[number], end: number) => {
    if (sum.sums === 0) return
    sum.terms.forEach((term, i) => {
      if (term.concat) wraps.set(term.start, i + 1 < sum.terms.length ? sum.terms[i + 1]!.start - 1 : end)
    })
  }
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    const sum = sums.at(-1)!
    if (OPENS.has(token.type)) sums.push({terms: [{start: i + 1, concat: false}], sums: 0})
    else if (CLOSES.has(token.type) && sums.length > 1) {
      close(sums.pop()!, i)
    } else if (ENDS_SUM.has(token.type) || (token.type === 'Identifier' && ENDS_SUM_NAMES.has(token.value))) {
      close(sum, i)
      sums[sums.length - 1] = {terms: [{start: i + 1, concat: false}], sums: 0}
    } else if (isSum(token)) {
      sum.sums++
      sum.terms.push({start: i + 1, concat: false})
    } else if (isConcat(token)) sum.terms.at(-1)!.concat = true
  }
  close(sums.at(-1)!, tokens.length)
  if (wraps.size === 0) return tokens
  const ends = new Map<number, number>()
  for (const end of wraps.values()) ends.set(end, (ends.get(end) ?? 0) + 1)
  const out: Token[] = []
  for (let i = 0; i <= tokens.length; i++) {
    for (let n = ends.get(i) ?? 0; n > 0; n--) out.push({type: 'CloseParen', value: ')'})
    if (wraps.has(i)) out.push({type: 'OpenParen', value: '('})
    if (i < tokens.length) out.push(tokens[i]!)
  }
  return out
}
