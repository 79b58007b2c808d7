// Runs a guided-decoding corpus (JSON schemas; or regexes, choices and grammars: --corpus specs) on any model directory (the built-in tinychat by default): greedy plus
// --seeds samples at temperature 1 per schema, every output checked token by token and, when finished, validated
// (ajv). Schemas the engine refuses must be refused with a 400 naming the expected keyword (audit corpus), and no
// other. --dump writes one JSON line per output ({name, schema, text, finish}) for scripts/guided-corpus-validate.py
// (Python jsonschema, an independent validator). Tests use generated models only.
// Usage: npx tsx scripts/guided-corpus.ts [MODEL_DIR] [--corpus audit|specs|tests] [--seeds 3] [--max-tokens 96] [--chat] [--dump out.jsonl]
import {writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import type {JsonSchema} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from '../test/support/guided-check.js'
import {GUIDED_AUDIT_SPECS, type AuditSpec} from '../test/support/guided-audit-specs.js'
import {JSON_SCHEMA_AUDIT_CORPUS, type AuditSchema} from '../test/support/json-schema-audit-corpus.js'
import {JSON_SCHEMA_CORPUS} from '../test/support/json-schema-corpus.js'

const {positionals, values} = parseArgs({
  allowPositionals: true,
  options: {
    corpus: {type: 'string', default: 'audit'},
    seeds: {type: 'string', default: '3'},
    'max-tokens': {type: 'string', default: '96'},
    'timeout-s': {type: 'string', default: '600'},
    chat: {type: 'boolean', default: false},
    dump: {type: 'string'},
  },
})
const modelDir = positionals[0] ?? BUILTIN_MODEL_DIR
const maxTokens = Number(values['max-tokens'])
const seeds = Number(values.seeds)
const jsonEntry = ({name, schema, refused}: AuditSchema): AuditSpec & {schema: unknown} => ({
  name,
  schema,
  refused,
  spec: {kind: 'json', schema: schema as JsonSchema, anyWhitespace: true, param: name},
})
const corpora: Record<string, Array<AuditSpec & {schema?: unknown}>> = {
  tests: JSON_SCHEMA_CORPUS.map((schema, i) => jsonEntry({name: `tests[${i}]`, schema})),
  audit: JSON_SCHEMA_AUDIT_CORPUS.map(jsonEntry),
  specs: GUIDED_AUDIT_SPECS,
}
const corpus = corpora[values.corpus!]
if (corpus === undefined) throw new Error(`--corpus must be one of ${Object.keys(corpora).join(', ')}, got ${values.corpus}`)

const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 256 << 20}))
const checker = new GuidedChecker(engine)
const bugs: string[] = []
const refusals: string[] = []
try {
  // Compile first, one schema at a time, so a refusal names its schema (the engine compiles the same way for a request).
  const runnable: typeof corpus = []
  for (const entry of corpus) {
    try {
      await engine.prepareRequest(makeSamplingParams({guided: entry.spec}))
      if (entry.refused) bugs.push(`${entry.name}: compiled, but should be refused (${entry.refused} is not enforced)`)
      else runnable.push(entry)
    } catch (error) {
      if (!(error instanceof InvalidRequestError)) bugs.push(`${entry.name}: compile failed with a non-400 error: ${String(error)}`)
      else if (!entry.refused || !error.message.includes(entry.refused)) bugs.push(`${entry.name}: unexpected refusal: ${error.message}`)
      else refusals.push(`${entry.name}: ${error.message}`)
    }
  }
  const question = 'Reply with a JSON value that fits the schema.'
  const prompt = values.chat ? engine.tokenizer.encodeChat([{role: 'user', content: question}]) : question
  const requests = runnable.flatMap((entry) => [
    {entry, params: makeSamplingParams({guided: entry.spec, maxTokens, temperature: 0})},
    ...Array.from({length: seeds}, (_, seed) => ({entry, params: makeSamplingParams({guided: entry.spec, maxTokens, temperature: 1, seed})})),
  ])
  const timeoutMs = Number(values['timeout-s']) * 1000
  const results = await Promise.race([
    engine.generate(requests.map(({params}) => ({prompt, params}))),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`generation hung: no result within ${timeoutMs / 1000} s`)), timeoutMs).unref()),
  ])
  const counts = {stop: 0, length: 0, invalid: 0}
  const lines: string[] = []
  for (const [i, result] of results.entries()) {
    const {entry} = requests[i]!
    for (const output of result.outputs) {
      const problem =
        (await checker.problem(entry.spec, output)) ??
        (output.finishReason === 'stop' && entry.matches && !entry.matches.test(output.text) ? `${entry.name}: ${JSON.stringify(output.text)} does not match ${entry.matches}` : null)
      if (problem !== null) {
        counts.invalid++
        bugs.push(`INVALID ${problem}`)
      }
      counts[output.finishReason === 'stop' ? 'stop' : 'length']++
      if (entry.schema !== undefined) lines.push(JSON.stringify({name: entry.name, schema: entry.schema, text: output.text, finish: output.finishReason}))
    }
  }
  if (values.dump) writeFileSync(values.dump, lines.map((line) => `${line}\n`).join(''))
  for (const line of refusals) console.log(`refused ${line}`)
  for (const line of bugs) console.log(`BUG ${line}`)
  console.log(
    `${corpus.length} specs (${refusals.length} refused as expected), ${counts.stop + counts.length} outputs on ${modelDir}: ` +
      `${counts.stop} finished (parsed and validated), ${counts.length} cut at ${maxTokens} tokens (valid prefixes), ${counts.invalid} invalid; ${bugs.length} bugs`,
  )
  process.exitCode = bugs.length === 0 ? 0 : 1
} finally {
  await engine.shutdown()
}
