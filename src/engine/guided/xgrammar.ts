// Loads @mlc-ai/web-xgrammar (xgrammar compiled to WebAssembly) once, with the CommonJS bindings its UMD bundle needs.
//
// The package is "type": "module" but lib/index.js is a UMD bundle, so `import` yields no exports; evaluating the file
// with CommonJS `module`/`exports`/`require` (and __filename, which its loader reads) gives the real API.
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'

export interface XgTokenizerInfo {
  getVocabSize(): number
  /** An embind vector of each token's decoded text; the caller deletes it. */
  getDecodedVocabHandle(): {size(): number; get(index: number): string; delete(): void}
  dispose(): void
}
export interface XgCompiledGrammar {
  dispose(): void
}
export interface XgGrammarMatcher {
  acceptToken(tokenId: number): boolean
  getNextTokenBitmask(): Promise<Int32Array>
  isTerminated(): boolean
  dispose(): void
}
export interface XgGrammar {
  /** The grammar as EBNF text. */
  toString(): string
  dispose(): void
}
export interface XgGrammarCompiler {
  compileJSONSchema(
    schema: string,
    anyWhitespace?: boolean,
    indent?: number,
    separators?: [string, string],
    strictMode?: boolean,
    maxWhitespaceCnt?: number,
  ): Promise<XgCompiledGrammar>
  compileBuiltinJSONGrammar(): Promise<XgCompiledGrammar>
  compileGrammar(ebnf: string, rootRule?: string): Promise<XgCompiledGrammar>
  compileStructuralTag(structuralTag: object): Promise<XgCompiledGrammar>
  dispose(): void
}
export interface XgrammarModule {
  TokenizerInfo: {
    createTokenizerInfo(
      encodedVocab: string[],
      vocabType?: string,
      prependSpaceInTokenization?: boolean,
      vocabSize?: number,
      stopTokenIds?: number[],
    ): Promise<XgTokenizerInfo>
  }
  GrammarCompiler: {createGrammarCompiler(info: XgTokenizerInfo, cacheEnabled?: boolean): Promise<XgGrammarCompiler>}
  GrammarMatcher: {
    createGrammarMatcher(compiled: XgCompiledGrammar, overrideStopTokens?: number[], terminateWithoutStopToken?: boolean): Promise<XgGrammarMatcher>
  }
  Grammar: {fromEBNF(ebnf: string, rootRule?: string): Promise<XgGrammar>; fromStructuralTag(tag: object): Promise<XgGrammar>}
  Testings: {
    isGrammarAcceptString(grammar: XgGrammar, text: string): Promise<boolean>
    _jsonSchemaToEBNF(
      schema: string,
      anyWhitespace?: boolean,
      indent?: number,
      separators?: [string, string],
      strictMode?: boolean,
      maxWhitespaceCnt?: number,
    ): Promise<string>
  }
}

let loaded: XgrammarModule | null = null
/** The last fatal message the WebAssembly side printed: its exceptions reach JS only as a bare "Aborted()". */
let lastFatal = ''
/** Warnings printed since the last take (e.g. schema keywords it ignores). */
let warnings: string[] = []

const withoutBuildPath = (line: string) => line.replace(/^\[(FATAL|WARNING)\]\s*\S+:\d+:\s*/, '')

/** Why the last xgrammar call failed, in xgrammar's words without its build path, or '' when it said nothing. */
export function takeXgrammarError(): string {
  const message = withoutBuildPath(lastFatal)
  lastFatal = ''
  return message
}

export function takeXgrammarWarnings(): string[] {
  const taken = warnings.map(withoutBuildPath)
  warnings = []
  return taken
}

// The bundle binds its printers to console.log/error when it starts; this console keeps fatal and warning lines
// instead of printing them (a bad user grammar is a 400, not server noise) and passes everything else through.
const xgrammarConsole = Object.create(console) as Console
const keep =
  (print: (...args: unknown[]) => void) =>
  (...args: unknown[]) => {
    const line = args.map(String).join(' ')
    if (line.startsWith('[FATAL]')) lastFatal = line
    else if (line.startsWith('[WARNING]')) warnings.push(line)
    else if (line !== 'Aborted()') print(...args)
  }
xgrammarConsole.error = keep(console.error.bind(console))
xgrammarConsole.log = keep(console.log.bind(console))

/** The xgrammar API; the WebAssembly instance itself starts on the first async call. */
export function xgrammar(): XgrammarModule {
  if (loaded) return loaded
  const require = createRequire(import.meta.url)
  const path = require.resolve('@mlc-ai/web-xgrammar/lib/index.js')
  const module = {exports: {} as Record<string, unknown>}
  const evaluate = new Function('module', 'exports', 'require', '__filename', '__dirname', 'console', readFileSync(path, 'utf8'))
  evaluate(module, module.exports, createRequire(path), path, path.slice(0, path.lastIndexOf('/')), xgrammarConsole)
  loaded = module.exports as unknown as XgrammarModule
  return loaded
}
