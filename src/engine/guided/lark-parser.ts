// Parses Lark grammar text (rules, terminals, %import common, %ignore) into definitions of plain expressions.
// Tree-shaping marks (?rule, !rule, _hidden, -> alias, priorities) shape parse trees only, so they are read and dropped.

export type LarkExpr =
  | {kind: 'literal'; text: string; caseInsensitive: boolean}
  | {kind: 'range'; from: string; to: string}
  | {kind: 'regex'; pattern: string; flags: string}
  | {kind: 'name'; name: string}
  | {kind: 'sequence'; items: LarkExpr[]}
  | {kind: 'choice'; options: LarkExpr[]}
  | {kind: 'repeat'; item: LarkExpr; min: number; max: number | null}

/** A rule (lowercase name) or a terminal (uppercase name: exact text, no %ignore'd text inside). */
export interface LarkDefinition {
  name: string
  terminal: boolean
  body: LarkExpr
}

export interface LarkGrammar {
  definitions: LarkDefinition[]
  imports: {name: string; alias: string}[]
  ignore: LarkExpr[]
}

type Token =
  | {type: 'name'; value: string; line: number}
  | {type: 'string'; value: string; caseInsensitive: boolean; line: number}
  | {type: 'regex'; value: string; flags: string; line: number}
  | {type: 'number'; value: number; line: number}
  | {type: 'directive'; value: string; line: number}
  | {type: 'punct'; value: string; line: number}
  | {type: 'newline'; line: number}

/** Above this many repetitions (`item ~ n..m`) the expanded grammar would be huge. */
const MAX_REPEAT = 10_000
const PUNCTUATION = ['->', '..', ':', '|', '(', ')', '[', ']', '?', '!', '*', '+', '~', ',', '{', '}', '.']
const ESCAPES: Record<string, string> = {n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', b: '\b', a: '\x07', '0': '\0', '\\': '\\', '"': '"', "'": "'"}

export function isTerminalName(name: string): boolean {
  const first = name.replace(/^_+/, '')[0]
  return first !== undefined && first >= 'A' && first <= 'Z'
}

export function parseLark(text: string, fail: (message: string) => never): LarkGrammar {
  const tokens = tokenize(text, fail)
  const grammar: LarkGrammar = {definitions: [], imports: [], ignore: []}
  let at = 0
  let depth = 0
  const where = () => `line ${tokens[Math.min(at, tokens.length - 1)]?.line ?? 1}`
  // Inside brackets newlines are layout; outside, one ends the statement unless the next line starts with '|'.
  const skipLayout = () => {
    while (tokens[at]?.type === 'newline') {
      let next = at
      while (tokens[next]?.type === 'newline') next++
      if (depth === 0 && !isPunct(tokens[next], '|')) return
      at = next
    }
  }
  const peek = () => {
    skipLayout()
    return tokens[at]
  }
  /** Takes the next token when it is this punctuation. */
  const accept = (value: string): boolean => {
    if (!isPunct(peek(), value)) return false
    at++
    return true
  }
  const expectPunct = (value: string) => {
    const token = peek()
    if (!isPunct(token, value)) fail(`expected '${value}' at ${where()}`)
    at++
  }
  const expectName = (): string => {
    const token = peek()
    if (token?.type !== 'name') return fail(`expected a name at ${where()}`)
    at++
    return token.value
  }
  const expectNumber = (): number => {
    const token = peek()
    if (token?.type !== 'number') return fail(`expected a number at ${where()}`)
    at++
    return token.value
  }

  const expansions = (): LarkExpr => {
    const options = [alternative()]
    while (accept('|')) options.push(alternative())
    return options.length === 1 ? options[0]! : {kind: 'choice', options}
  }
  const alternative = (): LarkExpr => {
    const items: LarkExpr[] = []
    for (;;) {
      const token = peek()
      if (token === undefined || token.type === 'newline' || (token.type === 'punct' && ['|', ')', ']', '->'].includes(token.value))) break
      items.push(item())
    }
    if (accept('->')) expectName()
    return items.length === 1 ? items[0]! : {kind: 'sequence', items}
  }
  const item = (): LarkExpr => {
    let expr = atom()
    for (;;) {
      const token = peek()
      if (isPunct(token, '?')) expr = {kind: 'repeat', item: expr, min: 0, max: 1}
      else if (isPunct(token, '*')) expr = {kind: 'repeat', item: expr, min: 0, max: null}
      else if (isPunct(token, '+')) expr = {kind: 'repeat', item: expr, min: 1, max: null}
      else if (isPunct(token, '~')) {
        at++
        const min = expectNumber()
        const max = accept('..') ? expectNumber() : min
        if (max < min || max > MAX_REPEAT) fail(`'~ ${min}..${max}' at ${where()} must be an ascending range of at most ${MAX_REPEAT}`)
        expr = {kind: 'repeat', item: expr, min, max}
        continue
      } else return expr
      at++
    }
  }
  const atom = (): LarkExpr => {
    const token = peek()
    if (token === undefined) return fail('the grammar ends inside a definition')
    at++
    if (token.type === 'punct' && (token.value === '(' || token.value === '[')) {
      depth++
      const inner = expansions()
      depth--
      expectPunct(token.value === '(' ? ')' : ']')
      return token.value === '(' ? inner : {kind: 'repeat', item: inner, min: 0, max: 1}
    }
    if (token.type === 'string') {
      if (!accept('..')) return {kind: 'literal', text: token.value, caseInsensitive: token.caseInsensitive}
      const to = peek()
      if (to?.type !== 'string') return fail(`a range "a".."z" needs a string after '..' at ${where()}`)
      at++
      if ([...token.value].length !== 1 || [...to.value].length !== 1) fail(`a range at line ${token.line} must join two one-character strings`)
      if (token.value.codePointAt(0)! > to.value.codePointAt(0)!) fail(`the range "${token.value}".."${to.value}" at line ${token.line} is empty`)
      return {kind: 'range', from: token.value, to: to.value}
    }
    if (token.type === 'regex') return {kind: 'regex', pattern: token.value, flags: token.flags}
    if (token.type === 'name') {
      if (isPunct(tokens[at], '{')) fail(`templates ('${token.value}{...}', line ${token.line}) are not supported`)
      return {kind: 'name', name: token.value}
    }
    return fail(`unexpected '${token.type === 'newline' ? 'end of line' : String(token.value)}' at line ${token.line}`)
  }

  const importStatement = () => {
    const module = peek()?.type === 'name' ? expectName() : 'a relative module'
    if (module !== 'common') fail(`%import ${module} at ${where()}: only Lark's 'common' terminals can be imported here`)
    if (isPunct(tokens[at], '.')) {
      at++
      const name = expectName()
      const alias = accept('->') ? expectName() : name
      grammar.imports.push({name, alias})
      return
    }
    expectPunct('(')
    for (;;) {
      const name = expectName()
      grammar.imports.push({name, alias: name})
      if (!accept(',')) break
    }
    expectPunct(')')
  }

  for (;;) {
    while (tokens[at]?.type === 'newline') at++
    const token = tokens[at]
    if (token === undefined) break
    if (token.type === 'directive') {
      at++
      if (token.value === 'import') importStatement()
      else if (token.value === 'ignore') grammar.ignore.push(expansions())
      else fail(`%${token.value} (line ${token.line}) is not supported`)
    } else {
      if (isPunct(token, '?') || isPunct(token, '!')) at++
      const name = expectName()
      if (isPunct(tokens[at], '{')) fail(`templates ('${name}{...}', line ${token.line}) are not supported`)
      if (isPunct(tokens[at], '.')) {
        at++
        expectNumber()
      }
      expectPunct(':')
      grammar.definitions.push({name, terminal: isTerminalName(name), body: expansions()})
    }
    const end = tokens[at]
    if (end !== undefined && end.type !== 'newline') fail(`unexpected '${'value' in end ? String(end.value) : ''}' at line ${end.line}`)
  }
  return grammar
}

function isPunct(token: Token | undefined, value: string): boolean {
  return token?.type === 'punct' && token.value === value
}

function tokenize(text: string, fail: (message: string) => never): Token[] {
  const tokens: Token[] = []
  let line = 1
  let i = 0
  while (i < text.length) {
    const char = text[i]!
    if (char === '\n') {
      tokens.push({type: 'newline', line})
      line++
      i++
    } else if (char === ' ' || char === '\t' || char === '\r') i++
    else if (text.startsWith('//', i) || char === '#') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (char === '"' || char === "'") {
      const start = line
      let value = ''
      i++
      while (text[i] !== char) {
        if (i >= text.length || text[i] === '\n') fail(`a string at line ${start} is not closed`)
        if (text[i] === '\\') {
          const [decoded, length] = unescape(text, i + 1, fail, start)
          value += decoded
          i += 1 + length
        } else value += text[i++]
      }
      i++
      const caseInsensitive = text[i] === 'i' && !/[A-Za-z0-9_]/.test(text[i + 1] ?? '')
      if (caseInsensitive) i++
      tokens.push({type: 'string', value, caseInsensitive, line: start})
    } else if (char === '/' && text[i + 1] !== '/') {
      let value = ''
      i++
      while (text[i] !== '/') {
        if (i >= text.length || text[i] === '\n') fail(`a /regex/ at line ${line} is not closed`)
        // An escaped slash is a slash to the regex; other escapes pass through for it to read.
        if (text[i] === '\\' && text[i + 1] === '/') {
          value += '/'
          i += 2
        } else if (text[i] === '\\') {
          value += text.slice(i, i + 2)
          i += 2
        } else value += text[i++]
      }
      i++
      const flags = /^[imslux]*/.exec(text.slice(i))![0]
      i += flags.length
      tokens.push({type: 'regex', value, flags, line})
    } else if (char === '%') {
      const word = /^%([a-z]+)/.exec(text.slice(i))
      if (word === null) fail(`a '%' at line ${line} starts no directive`)
      tokens.push({type: 'directive', value: word![1]!, line})
      i += word![0].length
    } else if (/[A-Za-z_]/.test(char)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0]
      tokens.push({type: 'name', value: word, line})
      i += word.length
    } else if (/[0-9-]/.test(char) && /^-?[0-9]/.test(text.slice(i, i + 2))) {
      const digits = /^-?[0-9]+/.exec(text.slice(i))![0]
      tokens.push({type: 'number', value: Number(digits), line})
      i += digits.length
    } else {
      const punct = PUNCTUATION.find((candidate) => text.startsWith(candidate, i))
      if (punct === undefined) fail(`unexpected character ${JSON.stringify(char)} at line ${line}`)
      tokens.push({type: 'punct', value: punct!, line})
      i += punct!.length
    }
  }
  return tokens
}

/** A Python string escape starting after the backslash at `at`: the text it means and how many characters it took. */
function unescape(text: string, at: number, fail: (message: string) => never, line: number): [string, number] {
  const char = text[at]
  if (char === undefined) return fail(`a string at line ${line} ends in a backslash`)
  const hex = char === 'x' ? 2 : char === 'u' ? 4 : char === 'U' ? 8 : 0
  if (hex > 0) {
    const digits = text.slice(at + 1, at + 1 + hex)
    const code = /^[0-9a-fA-F]+$/.test(digits) && digits.length === hex ? parseInt(digits, 16) : NaN
    if (!(code <= 0x10ffff)) fail(`a string at line ${line} has a bad \\${char} escape`)
    return [String.fromCodePoint(code), 1 + hex]
  }
  return [ESCAPES[char] ?? `\\${char}`, 1]
}
