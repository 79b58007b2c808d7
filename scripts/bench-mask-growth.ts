// How a grammar's per-token mask cost grows with the tokens it has taken: an ambiguous regex ((a*)* repeated) beside
// a plain one, on the tiny test model's vocabulary, with the step where the first passes the mask budget.
// Usage: npx tsx scripts/bench-mask-growth.ts [--groups 30,120] [--tokens 60]
import {performance} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {GrammarCompiler, vocabInfoOf} from '../src/engine/guided/grammar-compiler.js'
import {DEFAULT_MASK_BUDGET} from '../src/engine/guided/grammar-service.js'
import {guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'

const {values} = parseArgs({options: {groups: {type: 'string', default: '30,120'}, tokens: {type: 'string', default: '60'}}})
const tokens = Number(values.tokens)
const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
const compiler = new GrammarCompiler(vocabInfoOf(tokenizer, tokenizer.vocabSize, [4]))
const a = [...Array(tokenizer.vocabSize).keys()].find((id) => tokenizer.idToToken(id) === 'a')!

/** Milliseconds of each step (accept one 'a', then the next mask), stopping early once a step passes 5 s. */
async function stepCosts(spec: GuidedSpec): Promise<number[]> {
  await compiler.compile(spec)
  const matcher = await compiler.newMatcher(guidedKey(spec))
  const costs: number[] = []
  for (let step = 0; step < tokens; step++) {
    const started = performance.now()
    if (step > 0 && !matcher.acceptToken(a)) break
    await matcher.getNextTokenBitmask()
    costs.push(performance.now() - started)
    if (costs.at(-1)! > 5000) break
  }
  return costs
}

const specs: Array<[string, GuidedSpec]> = [
  ['a*', {kind: 'regex', pattern: 'a*', param: 'guided_regex'}],
  ...values.groups.split(',').map((n): [string, GuidedSpec] => [`(a*)* x${n}`, {kind: 'regex', pattern: '(a*)*'.repeat(Number(n)), param: 'guided_regex'}]),
]
// One grammar at a time: they would compete for the CPU otherwise.
const columns: Array<readonly [string, number[]]> = []
for (const [name, spec] of specs) columns.push([name, await stepCosts(spec)])
console.log(`vocabulary ${tokenizer.vocabSize} tokens; ms per step (accept one token + next mask); budget ${DEFAULT_MASK_BUDGET.stepMs} ms per step, ${DEFAULT_MASK_BUDGET.totalMs / 1000} s in all`)
console.log(['step', ...columns.map(([name]) => name)].map((cell) => cell.padStart(14)).join(''))
for (let step = 0; step < tokens; step += Math.max(1, Math.floor(tokens / 12)))
  console.log([String(step), ...columns.map(([, costs]) => (costs[step] === undefined ? '-' : costs[step]!.toFixed(2)))].map((cell) => cell.padStart(14)).join(''))
for (const [name, costs] of columns) {
  let total = 0
  const over = costs.findIndex((cost) => (total += cost) > DEFAULT_MASK_BUDGET.totalMs || cost > DEFAULT_MASK_BUDGET.stepMs)
  const before = costs.slice(0, over < 0 ? costs.length : over + 1).reduce((sum, cost) => sum + cost, 0)
  console.log(`${name}: ${over < 0 ? `within budget for ${costs.length} steps` : `over budget at step ${over}`}, ${(before / 1000).toFixed(2)} s of worker time until then`)
}
process.exit(0)
