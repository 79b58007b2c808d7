// Runs the guided-decoding corpus (62 JSON schemas, greedy + 2 seeded samples each) on any model directory, e.g. the
// shared tinychat checkpoint, and reports finished / cut / invalid outputs. Tests use generated models only.
// Usage: npx tsx scripts/guided-corpus.ts MODEL_DIR [--max-tokens 96] [--chat]
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from '../test/support/guided-check.js'
import {JSON_SCHEMA_CORPUS} from '../test/support/json-schema-corpus.js'

const {positionals, values} = parseArgs({allowPositionals: true, options: {'max-tokens': {type: 'string', default: '96'}, chat: {type: 'boolean', default: false}}})
const modelDir = positionals[0]
if (!modelDir) throw new Error('usage: npx tsx scripts/guided-corpus.ts MODEL_DIR [--max-tokens N] [--chat]')
const maxTokens = Number(values['max-tokens'])

const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 256 << 20}))
const checker = new GuidedChecker(engine)
try {
  const question = 'Reply with a JSON value that fits the schema.'
  const prompt = values.chat ? engine.tokenizer.encodeChat([{role: 'user', content: question}]) : question
  const requests = JSON_SCHEMA_CORPUS.flatMap((schema, i) => {
    const guided: GuidedSpec = {kind: 'json', schema, anyWhitespace: true, param: `corpus[${i}]`}
    return [
      {guided, params: makeSamplingParams({guided, maxTokens, temperature: 0})},
      {guided, params: makeSamplingParams({guided, maxTokens, temperature: 0.8, n: 2, seed: 11})},
    ]
  })
  const results = await engine.generate(requests.map(({params}) => ({prompt, params})))
  const counts = {stop: 0, length: 0, invalid: 0}
  for (const [i, result] of results.entries()) {
    for (const output of result.outputs) {
      const problem = await checker.problem(requests[i]!.guided, output)
      if (problem !== null) {
        counts.invalid++
        console.log(`INVALID ${problem}`)
      }
      counts[output.finishReason === 'stop' ? 'stop' : 'length']++
    }
  }
  console.log(`${JSON_SCHEMA_CORPUS.length} schemas, ${counts.stop + counts.length} outputs on ${modelDir}: ` +
    `${counts.stop} finished (parsed and validated), ${counts.length} cut at ${maxTokens} tokens (valid prefixes), ${counts.invalid} invalid`)
} finally {
  await engine.shutdown()
}
