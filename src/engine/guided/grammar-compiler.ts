// Compiles guided specs against one vocabulary with xgrammar, cached per spec, and makes matchers (runs in the grammar worker).
import {InvalidRequestError} from '../errors.js'
import type {DecoderKind, Tokenizer} from '../model/tokenizer.js'
import {writeOutCountedRuns} from './counted-runs.js'
import {checkGuidedSpec, choiceGrammar, guidedKey, type GuidedSpec, type JsonSchema} from './guided-spec.js'
import {fixFormatGrammars} from './format-grammars.js'
import {checkGrammarEnds} from './grammar-termination.js'
import {extractPatterns, insertPatterns} from './json-string-patterns.js'
import {isLarkGrammar, larkToEbnf} from './lark-grammar.js'
import {extractBoundedNumbers, insertNumberGrammars} from './number-range.js'
import {dotWithoutNewline, regexRules} from './regex-rules.js'
import {normalizeSchema} from './schema-normalize.js'
import {rewriteNonAsciiClasses} from './utf8-classes.js'
import {
  takeXgrammarError,
  takeXgrammarWarnings,
  xgrammar,
  type XgCompiledGrammar,
  type XgGrammarCompiler,
  type XgGrammarMatcher,
  type XgTokenizerInfo,
} from './xgrammar.js'

/** Distinct grammars kept compiled; the least recently used is dropped past this. */
const CACHE_CAPACITY = 256

/** What xgrammar needs of a tokenizer; plain data, so it can be sent to a worker thread. */
export interface VocabInfo extends DecoderKind {
  /** Token strings by id, '' for special tokens and ids the tokenizer lacks; length = logits row width (config vocab_size). */
  vocab: string[]
  eosTokenIds: number[]
}

export function vocabInfoOf(tokenizer: Pick<Tokenizer, 'idToToken' | 'decoderKind' | 'specialTokenIds'>, vocabSize: number, eosTokenIds: readonly number[]): VocabInfo {
  const vocab: string[] = new Array(vocabSize)
  // A special token is not its text: as '' xgrammar never allows it (EOS still ends the output, by id), so no
  // <|im_start|> or <s> lands inside a JSON string. Non-special added tokens (Qwen3's <think>) stay text.
  for (let id = 0; id < vocabSize; id++) vocab[id] = tokenizer.specialTokenIds.has(id) ? '' : (tokenizer.idToToken(id) ?? '')
  return {vocab, ...tokenizer.decoderKind, eosTokenIds: [...eosTokenIds]}
}

export class GrammarCompiler {
  private probes = 0
  private tokenizerInfo: Promise<XgTokenizerInfo> | null = null
  private compiler: Promise<XgGrammarCompiler> | null = null
  /** key -> compiled grammar (or the compile in progress); Map order is recency order. */
  private readonly cache = new Map<string, Promise<XgCompiledGrammar>>()
  private readonly done = new Map<string, XgCompiledGrammar>()

  constructor(private readonly vocabInfo: VocabInfo) {}

  /**
   * Compiles (or finds) the grammar; a spec that does not compile is an InvalidRequestError naming its field.
   * xgrammar compiles asynchronously in its WebAssembly instance; the first call also builds the tokenizer tables.
   */
  async compile(spec: GuidedSpec, key = guidedKey(spec)): Promise<void> {
    let pending = this.cache.get(key)
    if (pending) {
      this.cache.delete(key)
      this.cache.set(key, pending)
    } else {
      checkGuidedSpec(spec)
      pending = this.compileNew(spec)
      this.cache.set(key, pending)
      pending.then(
        (compiled) => this.done.set(key, compiled),
        () => this.cache.delete(key),
      )
      this.evict()
    }
    await pending
  }

  /** Compiles the spec whose guidedKey is `key` (the key is the spec itself, less its field), errors on `param`. */
  async compileKey(key: string, param: string): Promise<void> {
    if (!this.done.has(key)) await this.compile({...JSON.parse(key), param} as GuidedSpec, key)
  }

  /** A fresh matcher at the start of a compiled grammar (by its guidedKey), with EOS as its stop token. */
  async newMatcher(key: string): Promise<XgGrammarMatcher> {
    // A grammar dropped from the cache while its requests still run is compiled again.
    await this.compileKey(key, 'guided')
    const compiled = this.done.get(key)!
    return xgrammar().GrammarMatcher.createGrammarMatcher(compiled, this.vocabInfo.eosTokenIds)
  }

  private async compileNew(spec: GuidedSpec): Promise<XgCompiledGrammar> {
    const compiled = await this.compileSpec(spec)
    await this.checkSomeTokenStarts(compiled, spec)
    return compiled
  }

  private async compileSpec(spec: GuidedSpec): Promise<XgCompiledGrammar> {
    const compiler = await (this.compiler ??= this.createCompiler())
    try {
      switch (spec.kind) {
        case 'json':
          return spec.schema === null ? await compiler.compileBuiltinJSONGrammar() : await compiler.compileGrammar(await jsonSchemaGrammar(spec, spec.param))
        case 'regex':
          // xgrammar's regex converter writes EBNF, whose non-ASCII classes need rewriting (utf8-classes.ts).
          return await compiler.compileGrammar(rewriteNonAsciiClasses(await regexRules(dotWithoutNewline(spec.pattern), 'root')))
        case 'choice':
          return await compiler.compileGrammar(choiceGrammar(spec.choices))
        case 'grammar': {
          // vLLM takes Lark grammars too (converting them for xgrammar); a conversion error is already a 400.
          const ebnf = rewriteNonAsciiClasses(isLarkGrammar(spec.ebnf) ? await larkToEbnf(spec.ebnf, spec.param, regexRules) : spec.ebnf)
          await checkGrammarEnds(ebnf, spec.param)
          return await compiler.compileGrammar(writeOutCountedRuns(ebnf))
        }
        case 'structural_tag':
          return await compiler.compileStructuralTag(await structuralTagFormat(spec))
      }
    } catch (error) {
      if (error instanceof InvalidRequestError) throw error
      // Some of its exceptions reach JS as bare numbers (no message): say so rather than "undefined".
      const reason = takeXgrammarError() || (error instanceof Error ? error.message : 'the grammar engine rejected it without a reason')
      throw new InvalidRequestError(`'${spec.param}' cannot be compiled to a grammar: ${reason}`, {param: spec.param, cause: error})
    }
  }

  /**
   * A grammar that no token (not even EOS) can start admits no output: a $ref cycle with nothing in between, text no
   * token can write. Its first mask would allow nothing, and the sampler would have to emit a token outside it.
   */
  private async checkSomeTokenStarts(compiled: XgCompiledGrammar, spec: GuidedSpec): Promise<void> {
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(compiled, this.vocabInfo.eosTokenIds)
    let mask: Int32Array
    try {
      mask = await matcher.getNextTokenBitmask()
    } finally {
      matcher.dispose()
    }
    if (mask.some((word) => word !== 0)) return
    compiled.dispose()
    throw new InvalidRequestError(
      `'${spec.param}' admits no output: no token of this model can start it (a $ref that only refers back to itself, or characters no token writes)`,
      {param: spec.param, code: 'empty_grammar'},
    )
  }

  /**
   * Whether xgrammar still compiles after a failure: some traps (stack overflows, some aborts) leave the WebAssembly
   * instance corrupt for every later compile. Specs never compiled before (a schema and a regex, through the same paths
   * requests take) are the probe, so no cache answers it.
   */
  async stillCompiles(): Promise<boolean> {
    const name = `probe${this.probes++}`
    const probes: GuidedSpec[] = [
      {kind: 'json', schema: {type: 'object', properties: {[name]: {type: 'integer'}}}, anyWhitespace: false, param: 'probe'},
      {kind: 'regex', pattern: name, param: 'probe'},
    ]
    try {
      for (const spec of probes) (await this.compileNew(spec)).dispose()
      return true
    } catch {
      takeXgrammarError()
      return false
    }
  }

  /** Each token's text as it appears in the output (xgrammar's decoding of the vocabulary). */
  async decodedVocab(): Promise<string[]> {
    const handle = (await this.createTokenizerInfo()).getDecodedVocabHandle()
    const texts: string[] = new Array(handle.size())
    for (let id = 0; id < texts.length; id++) texts[id] = handle.get(id)
    handle.delete()
    return texts
  }

  private createTokenizerInfo(): Promise<XgTokenizerInfo> {
    const {vocab, vocabType, prependSpace, eosTokenIds} = this.vocabInfo
    return (this.tokenizerInfo ??= xgrammar().TokenizerInfo.createTokenizerInfo(vocab, vocabType, prependSpace, vocab.length, eosTokenIds))
  }

  private async createCompiler(): Promise<XgGrammarCompiler> {
    return xgrammar().GrammarCompiler.createGrammarCompiler(await this.createTokenizerInfo())
  }

  private evict(): void {
    while (this.cache.size > CACHE_CAPACITY) {
      const oldest = this.cache.keys().next().value as string
      this.cache.delete(oldest)
      // Matchers hold their own reference to the grammar, so dropping ours is safe while they run.
      this.done.get(oldest)?.dispose()
      this.done.delete(oldest)
    }
  }
}

// xgrammar 0.1.27 writes strings with a length bound as [^"\\\r\n]{m,n}, which admits raw control characters
// (invalid JSON: JSON.parse rejects them); its unbounded strings already exclude them, and so does this class.
const LOOSE_STRING_CHAR = String.raw`[^"\\\r\n]`
const JSON_STRING_CHAR = String.raw`[^\0-\x1f\"\\\r\n]`

/** xgrammar's structural-tag object for vLLM's (begin, schema, end) tags; each schema through jsonSchemaGrammar (number bounds). */
async function structuralTagFormat(spec: Extract<GuidedSpec, {kind: 'structural_tag'}>): Promise<object> {
  const tags = []
  for (const [i, tag] of spec.tags.entries()) {
    const grammar = await jsonSchemaGrammar({kind: 'json', schema: tag.schema, anyWhitespace: spec.anyWhitespace, param: spec.param}, `${spec.param}.structures[${i}].schema`)
    tags.push({type: 'tag', begin: tag.begin, content: {type: 'grammar', grammar}, end: tag.end})
  }
  return {type: 'structural_tag', format: {type: 'triggered_tags', triggers: spec.triggers, tags}}
}

/**
 * The schema's EBNF (compact: no whitespace, "," and ":"; or any whitespace, which the worker bounds per sequence with
 * whitespace-bound.ts), with JSON-valid string characters and bounded numbers.
 */
export async function jsonSchemaGrammar(spec: Extract<GuidedSpec, {kind: 'json'}>, param: string): Promise<string> {
  const separators: [string, string] | undefined = spec.anyWhitespace ? undefined : [',', ':']
  const patterns = await extractPatterns(normalizeSchema(spec.schema!, param))
  const {schema, grammars} = extractBoundedNumbers(patterns.schema as JsonSchema, param)
  takeXgrammarWarnings()
  const ebnf = await xgrammar().Testings._jsonSchemaToEBNF(
    JSON.stringify(schema),
    spec.anyWhitespace,
    spec.anyWhitespace ? 2 : -1,
    separators,
    true,
  )
  // A part of the schema the converter says it ignores would go unenforced: refuse it, in its words.
  const ignored = takeXgrammarWarnings().find((warning) => /ignor|not supported/i.test(warning))
  if (ignored) throw new InvalidRequestError(`'${param}': this schema cannot be fully enforced: ${ignored}`, {param})
  // Outside string literals only: an enum value "[ab]{3}" is text, not a run.
  const unrolled = writeOutCountedRuns(fixFormatGrammars(insertPatterns(ebnf, patterns.rules)))
  const grammar = rewriteNonAsciiClasses(insertNumberGrammars(unrolled.split(LOOSE_STRING_CHAR).join(JSON_STRING_CHAR), grammars))
  await checkGrammarEnds(grammar, param)
  return grammar
}
