// `generate`'s constraint flags (--json-schema, --regex, --choice, --grammar) and the GuidedSpec they make.
import {Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {readRegularFile} from '../engine/model/regular-file.js'
import {InvalidRequestError} from '../engine/errors.js'
import type {GuidedSpec} from '../engine/guided/guided-spec.js'

const CONSTRAINTS = ['json-schema', 'regex', 'choice', 'grammar']
const others = (flag: string) => CONSTRAINTS.filter((other) => other !== flag)

export const guidedFlags = {
  'json-schema': Flags.string({description: 'Constrain the output to this JSON schema (a file, or the schema as JSON text)', exclusive: others('json-schema')}),
  regex: Flags.string({description: 'Constrain the output to match this regular expression', exclusive: others('regex')}),
  choice: Flags.string({description: 'Constrain the output to one of these strings (repeatable: --choice A --choice B)', multiple: true, multipleNonGreedy: true, exclusive: others('choice')}),
  grammar: Flags.string({description: 'Constrain the output to this grammar, EBNF (root ::= ...) or Lark (start: ...) (a file, or the grammar text)', exclusive: others('grammar')}),
}

export function guidedSpecFromFlags(flags: {'json-schema'?: string; regex?: string; choice?: string[]; grammar?: string}): GuidedSpec | null {
  const schemaArg = flags['json-schema']
  if (schemaArg !== undefined) {
    const text = existsSync(schemaArg) ? readFlagFile(schemaArg, 'json-schema') : schemaArg
    let schema: unknown
    try {
      schema = JSON.parse(text)
    } catch {
      throw new InvalidRequestError('--json-schema is neither a file nor JSON text', {param: 'json-schema'})
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
      throw new InvalidRequestError('--json-schema must be a JSON schema object', {param: 'json-schema'})
    return {kind: 'json', schema: schema as Record<string, unknown>, anyWhitespace: true, param: 'json-schema'}
  }
  if (flags.regex !== undefined) return {kind: 'regex', pattern: flags.regex, param: 'regex'}
  if (flags.choice !== undefined) return {kind: 'choice', choices: flags.choice, param: 'choice'}
  if (flags.grammar !== undefined) {
    const ebnf = existsSync(flags.grammar) ? readFlagFile(flags.grammar, 'grammar') : flags.grammar
    return {kind: 'grammar', ebnf, param: 'grammar'}
  }
  return null
}

function readFlagFile(path: string, flag: string): string {
  try {
    return readRegularFile(path).toString('utf8')
  } catch (error) {
    throw new InvalidRequestError(`--${flag}: cannot read ${path}: ${(error as Error).message}`, {param: flag})
  }
}
