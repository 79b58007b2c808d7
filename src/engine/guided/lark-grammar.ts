// Converts a Lark grammar (as vLLM accepts in guided_grammar) into the EBNF xgrammar compiles.
//
// Lark's lexer turns text into terminals and skips the %ignore'd ones between them; a generation constraint has no
// lexer, so each token-level item of a rule (a literal, a regex, a terminal) may be preceded by ignored text and the
// root may end with it. Terminals themselves are exact text. Regex literals go through xgrammar's own regex converter
// (the `regexRules` callback), since its EBNF has no regex syntax of its own.
import {InvalidRequestError} from '../errors.js'
import {LARK_COMMON} from './lark-common.js'
import {parseLark, type LarkDefinition, type LarkExpr} from './lark-parser.js'
import {dotWithoutNewline} from './regex-rules.js'

/** A grammar is Lark when it has definitions written `name: ...` and no EBNF `::=` outside quotes. */
export function isLarkGrammar(text: string): boolean {
  const code = text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""')
  if (code.includes('::=')) return false
  return /^[ \t]*[?!]?[A-Za-z_][A-Za-z0-9_]*(?:\.-?\d+)?[ \t]*:(?!:)/m.test(code)
}

/** xgrammar's EBNF for one regex, its rules renamed to start with `name` (the first rule is `name`). */
export type RegexRules = (pattern: string, name: string) => Promise<string>

export async function larkToEbnf(text: string, param: string, regexRules: RegexRules): Promise<string> {
  const fail = (message: string): never => {
    throw new InvalidRequestError(`'${param}' (a Lark grammar): ${message}`, {param})
  }
  const grammar = parseLark(text, fail)
  const definitions = new Map<string, LarkDefinition>()
  for (const definition of grammar.definitions) {
    if (definitions.has(definition.name)) fail(`'${definition.name}' is defined twice`)
    definitions.set(definition.name, definition)
  }
  importCommon(grammar.imports, definitions, fail)
  const start = definitions.has('start') ? 'start' : grammar.definitions.find((d) => !d.terminal)?.name
  if (start === undefined) fail('it defines no rule (a lowercase name) to start from')

  // Generated names start with a prefix no user name has, so nothing can collide.
  let prefix = 'lark_'
  while ([...definitions.keys()].some((name) => name.startsWith(prefix)) || prefix === 'root') prefix += '_'
  const ruleName = (name: string) => (name === 'root' ? `${prefix}root` : name)
  const ignoreRule = `${prefix}ignore`
  const lines: string[] = []
  let regexCount = 0

  const emit = async (expr: LarkExpr, inRule: boolean): Promise<string> => {
    const token = (ebnf: string) => (inRule && grammar.ignore.length > 0 ? `(${ignoreRule} ${ebnf})` : ebnf)
    switch (expr.kind) {
      case 'literal':
        return token(literalEbnf(expr.text, expr.caseInsensitive))
      case 'range':
        return token(`[${classChar(expr.from)}-${classChar(expr.to)}]`)
      case 'regex': {
        const name = `${prefix}re${++regexCount}`
        lines.push((await regexRules(regexForGeneration(expr.pattern, expr.flags, fail), name)).trim())
        return token(name)
      }
      case 'name': {
        const definition = definitions.get(expr.name)
        if (definition === undefined) return fail(`'${expr.name}' is used but never defined (or %import'ed)`)
        return definition.terminal ? token(ruleName(expr.name)) : ruleName(expr.name)
      }
      case 'sequence':
        return expr.items.length === 0 ? '""' : `(${(await Promise.all(expr.items.map((item) => emit(item, inRule)))).join(' ')})`
      case 'choice':
        return `(${(await Promise.all(expr.options.map((option) => emit(option, inRule)))).join(' | ')})`
      case 'repeat': {
        const inner = await emit(expr.item, inRule)
        if (expr.max === null) return expr.min === 0 ? `${inner}*` : expr.min === 1 ? `${inner}+` : `${inner}{${expr.min},}`
        return expr.min === 0 && expr.max === 1 ? `${inner}?` : `${inner}{${expr.min},${expr.max}}`
      }
    }
  }

  for (const definition of definitions.values()) {
    lines.push(`${ruleName(definition.name)} ::= ${await emit(definition.body, !definition.terminal)}`)
  }
  if (grammar.ignore.length > 0) {
    const ignored = await Promise.all(grammar.ignore.map((item) => emit(item, false)))
    lines.push(`${ignoreRule} ::= (${ignored.join(' | ')})*`)
  }
  const root = grammar.ignore.length > 0 ? `${ruleName(start!)} ${ignoreRule}` : ruleName(start!)
  return [`root ::= ${root}`, ...lines].join('\n')
}

/** Adds the %import'ed common.lark terminals (and those they use) to the definitions, under their aliases. */
function importCommon(imports: {name: string; alias: string}[], definitions: Map<string, LarkDefinition>, fail: (message: string) => never): void {
  const pending = [...imports]
  while (pending.length > 0) {
    const {name, alias} = pending.pop()!
    const common = LARK_COMMON.get(name)
    if (common === undefined) fail(`%import common.${name}: not one of common.lark's terminals this server knows (${[...LARK_COMMON.keys()].join(', ')})`)
    if (definitions.has(alias)) {
      if (definitions.get(alias)!.body === common!.body) continue
      fail(`%import common.${name} as '${alias}': '${alias}' is already defined`)
    }
    definitions.set(alias, {...common!, name: alias})
    for (const used of namesIn(common!.body)) if (!definitions.has(used)) pending.push({name: used, alias: used})
  }
}

function namesIn(expr: LarkExpr): string[] {
  switch (expr.kind) {
    case 'name':
      return [expr.name]
    case 'sequence':
      return expr.items.flatMap(namesIn)
    case 'choice':
      return expr.options.flatMap(namesIn)
    case 'repeat':
      return namesIn(expr.item)
    default:
      return []
  }
}

/** A string literal; case-insensitive letters become two-letter classes. */
function literalEbnf(text: string, caseInsensitive: boolean): string {
  if (text === '') return '""'
  if (!caseInsensitive) return JSON.stringify(text)
  const parts = [...text].map((char) => {
    const lower = char.toLowerCase()
    const upper = char.toUpperCase()
    return lower === upper || [...lower].length !== 1 || [...upper].length !== 1 ? JSON.stringify(char) : `[${classChar(lower)}${classChar(upper)}]`
  })
  return `(${parts.join(' ')})`
}

/** One character inside an EBNF character class, escaped by code point. */
function classChar(char: string): string {
  const code = char.codePointAt(0)!
  return code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * A Lark regex as xgrammar's regex converter should read it. Lark's regexes are Python's: `.` stops at a newline
 * unless the `s` flag is set, where xgrammar's matches anything. Flags that change more than that are refused.
 */
function regexForGeneration(pattern: string, flags: string, fail: (message: string) => never): string {
  for (const flag of flags) {
    if (flag === 'i' || flag === 'x') fail(`the /${pattern}/${flags} regex: the '${flag}' flag is not supported (write the cases or spaces out)`)
  }
  return flags.includes('s') ? pattern : dotWithoutNewline(pattern)
}
