// Checks a guided output: every token a valid step of its grammar (a fresh matcher on this thread), and a finished
// output valid as a whole (ajv for JSON schemas, the regex, the choices). Shared by the tests and scripts/guided-corpus.ts.
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import {GrammarCompiler, vocabInfoOf} from '../../src/engine/guided/grammar-compiler.js'
import {guidedKey, type GuidedSpec} from '../../src/engine/guided/guided-spec.js'
import type {LLMEngine} from '../../src/engine/llm-engine.js'
import type {CompletionOutput} from '../../src/engine/request-output.js'

const ajv = new Ajv2020({strict: false})
;(addFormats as unknown as (ajv: Ajv2020) => void)(ajv)

export function schemaErrors(schema: object | boolean, value: unknown): string | null {
  return ajv.validate(forAjv2020(schema), value) ? null : ajv.errorsText()
}

/**
 * The schema as draft 2020-12 (ajv's) reads it: draft 4's boolean exclusiveMinimum/Maximum as numbers, without
 * `$schema` (ajv knows no other draft's meta-schema here) or `$id` (ajv keeps each id: a second schema with it clashes).
 */
function forAjv2020(schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(forAjv2020)
  if (typeof schema !== 'object' || schema === null) return schema
  const entries = Object.entries(schema).filter(([key]) => key !== '$schema' && key !== '$id')
  const out: Record<string, unknown> = Object.fromEntries(entries.map(([key, value]) => [key, forAjv2020(value)]))
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof out[flag] !== 'boolean') continue
    if (out[flag]) out[flag] = out[bound]
    else delete out[flag]
    if (out[flag] !== undefined) delete out[bound]
  }
  return out
}

export class GuidedChecker {
  private readonly compiler: GrammarCompiler

  constructor(engine: LLMEngine) {
    // The engine's matchers live in its grammar worker; this one is independent of them.
    this.compiler = new GrammarCompiler(vocabInfoOf(engine.tokenizer, engine.model.config.vocabSize, engine.model.generationConfig.eosTokenIds))
  }

  /** What is wrong with the output, or null: a token its grammar rejects, an early stop, or an invalid whole. */
  async problem(spec: GuidedSpec, output: CompletionOutput): Promise<string | null> {
    await this.compiler.compile(spec)
    const matcher = await this.compiler.newMatcher(guidedKey(spec))
    try {
      const rejected = output.tokenIds.findIndex((tokenId) => !matcher.acceptToken(tokenId))
      if (rejected >= 0) return `${spec.param}: token ${rejected} (${output.tokenIds[rejected]}) of ${JSON.stringify(output.text)} breaks the grammar`
      if (output.finishReason !== 'stop') return null
      if (!matcher.isTerminated()) return `${spec.param}: stopped before the grammar could end`
    } finally {
      matcher.dispose()
    }
    return wholeOutputProblem(spec, output.text)
  }
}

function wholeOutputProblem(spec: GuidedSpec, text: string): string | null {
  const fail = (why: string) => `${spec.param}: ${JSON.stringify(text)} ${why}`
  switch (spec.kind) {
    case 'json': {
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (error) {
        return fail(`does not parse: ${(error as Error).message}`)
      }
      const errors = spec.schema === null ? null : schemaErrors(spec.schema, value)
      return errors === null ? null : fail(`fails its schema: ${errors}`)
    }
    case 'regex':
      return new RegExp(`^(?:${spec.pattern})$`, 'u').test(text) ? null : fail(`does not match /${spec.pattern}/`)
    case 'choice':
      return spec.choices.includes(text) ? null : fail(`is not one of ${JSON.stringify(spec.choices)}`)
    case 'grammar':
      return null // the matcher's full acceptance above is the check
    case 'structural_tag':
      return structuralTagProblem(spec, text, fail)
  }
}

/** Every trigger in the text opens a tag: its begin, JSON its schema accepts, its end. */
function structuralTagProblem(spec: Extract<GuidedSpec, {kind: 'structural_tag'}>, text: string, fail: (why: string) => string): string | null {
  let at = 0
  for (;;) {
    const found = spec.triggers.map((trigger) => text.indexOf(trigger, at)).filter((index) => index >= 0)
    if (found.length === 0) return null
    const start = Math.min(...found)
    const tag = spec.tags.find((candidate) => text.startsWith(candidate.begin, start))
    if (tag === undefined) return fail(`has a trigger at ${start} that opens no tag`)
    const bodyStart = start + tag.begin.length
    const bodyEnd = text.indexOf(tag.end, bodyStart)
    if (bodyEnd < 0) return fail(`opens ${JSON.stringify(tag.begin)} at ${start} and never closes it`)
    let value: unknown
    try {
      value = JSON.parse(text.slice(bodyStart, bodyEnd))
    } catch (error) {
      return fail(`has a tag body that does not parse: ${(error as Error).message}`)
    }
    const errors = schemaErrors(tag.schema, value)
    if (errors !== null) return fail(`has a tag body that fails its schema: ${errors}`)
    at = bodyEnd + tag.end.length
  }
}
