// `generate`'s constraint flags (--json-schema, --regex, --choice) and the GuidedSpec they make.
import {Flags} from '@oclif/core'
import {existsSync, readFileSync} from 'node:fs'
import {InvalidRequestError} from '../engine/errors.js'
import type {GuidedSpec} from '../engine/guided/guided-spec.js'

export const guidedFlags = {
  'json-schema': Flags.string({description: 'Constrain the output to this JSON schema (a file, or the schema as JSON text)', exclusive: ['regex', 'choice']}),
  regex: Flags.string({description: 'Constrain the output to match this regular expression', exclusive: ['json-schema', 'choice']}),
  choice: Flags.string({description: 'Constrain the output to one of these strings (repeatable: --choice A --choice B)', multiple: true, multipleNonGreedy: true, exclusive: ['json-schema', 'regex']}),
}

export function guidedSpecFromFlags(flags: {'json-schema'?: string; regex?: string; choice?: string[]}): GuidedSpec | null {
  const schemaArg = flags['json-schema']
  if (schemaArg !== undefined) {
    const text = existsSync(schemaArg) ? readSchemaFile(schemaArg) : schemaArg
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
  return null
}

function readSchemaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new InvalidRequestError(`--json-schema: cannot read ${path}: ${(error as Error).message}`, {param: 'json-schema'})
  }
}
