import {makeEngineConfig} from './src/engine/config.js'
import {LLMEngine} from './src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from './src/engine/model/builtin-model.js'
import {makeSamplingParams} from './src/engine/sampling-params.js'
const engine = await LLMEngine.create(makeEngineConfig({modelPath: BUILTIN_MODEL_DIR, threads: 1, device: 'cpu'}))
const cases: Array<[string, any]> = [
  ['regex nested counts', {kind: 'regex', pattern: '((a|b){1,50}c){1,50}', param: 'r'}],
  ['regex big count', {kind: 'regex', pattern: '[a-z]{1000,2000}', param: 'r'}],
  ['string maxLength 100000', {kind: 'json', schema: {type: 'string', maxLength: 100000}, anyWhitespace: false, param: 's'}],
  ['array minItems 5000', {kind: 'json', schema: {type: 'array', items: {type: 'integer'}, minItems: 5000, maxItems: 6000}, anyWhitespace: false, param: 's'}],
  ['pattern huge', {kind: 'json', schema: {type: 'string', pattern: '^(x{1,30}y){1,30}$'}, anyWhitespace: false, param: 's'}],
  ['enum 20000', {kind: 'json', schema: {enum: Array.from({length: 20000}, (_, i) => 'value' + i)}, anyWhitespace: false, param: 's'}],
  ['grammar deep', {kind: 'grammar', ebnf: 'root ::= ' + '"(" '.repeat(500) + '"x"' + ' ")"'.repeat(500), param: 'g'}],
]
for (const [name, spec] of cases) {
  const t0 = performance.now()
  try { await engine.prepareRequest(makeSamplingParams({guided: spec, maxTokens: 4})); console.log(name, 'ok', (performance.now() - t0).toFixed(0), 'ms') }
  catch (e) { console.log(name, 'ERR', (performance.now() - t0).toFixed(0), 'ms', (e as Error).message.slice(0, 120)) }
}
await engine.shutdown()
