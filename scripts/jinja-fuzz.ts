// Renders scripts/jinja-fuzz.py's cases with pagedllm's ChatTemplate and compares with jinja2's (a development tool,
// never run by npm test).
//
//   /work/venv-hf/bin/python scripts/jinja-fuzz.py WORK/cases.json 3000 1
//   npx tsx scripts/jinja-fuzz.ts WORK/cases.json [--all]     mismatches: output differs, or one side refused
import {readFileSync} from 'node:fs'
import {ChatTemplate} from '../src/engine/model/chat-template.js'

interface Case {
  template: string
  output?: string
  error?: string
}

const [path, ...flags] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: npx tsx scripts/jinja-fuzz.ts CASES.json [--all]')
const {variables, cases} = JSON.parse(readFileSync(path, 'utf8')) as {variables: Record<string, unknown>; cases: Case[]}
const counts = {same: 0, bothRefused: 0, differ: 0, weRefused: 0, weRendered: 0}
const shown = new Set<string>()
/** jinja2 printing a generator or a dict view: a template bug of the generator's making, not a real template's. */
const PYTHON_OBJECT = /<generator object|dict_(items|keys|values)\(|range\(\d/
const skipped = cases.filter((c) => PYTHON_OBJECT.test(c.output ?? '')).length
for (const c of cases.filter((c) => !PYTHON_OBJECT.test(c.output ?? ''))) {
  let ours: {output?: string; error?: string}
  try {
    ours = {output: new ChatTemplate(c.template).render([{role: 'user', content: 'hi'}], {}, {variables})}
  } catch (error) {
    ours = {error: (error as Error).message}
  }
  const kind = c.error !== undefined ? (ours.error !== undefined ? 'bothRefused' : 'weRendered') : ours.error !== undefined ? 'weRefused' : ours.output === c.output ? 'same' : 'differ'
  counts[kind]++
  if (kind === 'same' || kind === 'bothRefused') continue
  // One example per template shape and kind unless --all.
  const key = kind + c.template.replace(/[^{}%|]/g, '').slice(0, 40)
  if (!flags.includes('--all') && shown.has(key)) continue
  shown.add(key)
  console.log(`--- ${kind}: ${c.template}\n  jinja2: ${JSON.stringify(c.output ?? c.error)}\n  ours:   ${JSON.stringify(ours.output ?? ours.error)}`)
}
console.log(JSON.stringify({...counts, skipped}))
