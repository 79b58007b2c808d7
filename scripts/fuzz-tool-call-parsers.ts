// Hostile model outputs through every --tool-call-parser, whole and streamed (ToolCallDeltas, and the reasoning
// parsers' ReasoningSplitter, cut every 64 characters): long whitespace runs, repeated and unclosed markers, deep
// nesting, huge literals. A parser must never throw, and its time must grow linearly: each output is timed at N and
// 4N characters, and a ratio past 8 (or any output over 2 s) is a finding. The parsers run on the server's event loop,
// on every delta of a stream and when a choice finishes.
// Usage: npx tsx scripts/fuzz-tool-call-parsers.ts [--chars 10000]
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {ReasoningSplitter} from '../src/server/reasoning-deltas.js'
import {ToolCallDeltas} from '../src/server/tool-call-deltas.js'
import {TOOL_CALL_PARSERS} from '../src/server/tool-call-parsers.js'
import {parseToolOutput, parseToolRequest} from '../src/server/tool-calls.js'

const {values: options} = parseArgs({options: {chars: {type: 'string', default: '10000'}}})
const auto = parseToolRequest({tools: [{type: 'function', function: {name: 'f', parameters: {type: 'object'}}}], tool_choice: 'auto'})!
const DS = '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n'

/** The hostile outputs at about `n` characters; each is also tried behind every family's call marker. */
function outputs(n: number): Record<string, string> {
  const sp = ' '.repeat(n)
  return {
    deepseekSpaces: DS + sp + 'x', deepseekFence: DS + '```json' + sp + '{}' + sp + 'x',
    deepseek31Seps: '<｜tool▁calls▁begin｜>' + '<｜tool▁call▁begin｜>f<｜tool▁sep｜>'.repeat(n / 20), deepseekBegins: '<｜tool▁calls▁begin｜>' + '<｜tool▁call▁begin｜>'.repeat(n / 10),
    hermesOpens: '<tool_call>'.repeat(n / 5), hermesCloses: '<tool_call>' + '</tool_call>'.repeat(n / 5), hermesSpaces: '<tool_call>' + sp + '</tool_call>',
    mistralMarkers: '[TOOL_CALLS]'.repeat(n / 5), mistralArgs: '[TOOL_CALLS]' + '[ARGS]'.repeat(n / 3),
    llama3Opens: '{' + ';{'.repeat(n / 2), llama3Spaces: '{};' + sp + 'x', llama3Tagged: '<|python_tag|>' + '; {'.repeat(n / 2),
    pythonicOpens: '[' + 'f(a=['.repeat(n / 5), pythonicCalls: '[' + 'f(),'.repeat(n / 4) + ']', pythonicString: '[f(a="' + 'x'.repeat(n) + '")]',
    pythonicNumber: '[f(a=' + '1'.repeat(n) + ')]', pythonicSpaces: '[' + sp + ']', pythonicBackslashes: '[f(a="""' + '\\'.repeat(n) + '""")]', pythonicTags: '<|python_start|>'.repeat(n / 16) + '[]',
    graniteOpens: '<|tool_call|>' + '['.repeat(n), graniteSpaces: sp + '<|tool_call|>' + sp + '[' + sp,
    phiMarkers: 'functools['.repeat(n / 10), phiOpens: 'functools[' + '['.repeat(n), phiBackslashes: 'functools["' + '\\'.repeat(n),
    internlmStarts: '<|action_start|>'.repeat(n / 16), internlmSpaces: '<|action_start|>' + sp + '<|plugin|>' + sp, internlmPlugins: '<|action_start|>' + '<|plugin|>'.repeat(n / 10),
    nested: '['.repeat(n) + ']'.repeat(n), nestedArgs: '{"name":"f","arguments":' + '['.repeat(n) + ']'.repeat(n) + '}',
  }
}
const WRAPS = ['', '<tool_call>', 'functools[', '[TOOL_CALLS]', '<|action_start|>', '<|tool_call|>', '<think>']

/** Milliseconds to parse `text` whole and streamed; a throw is a finding. */
function timed(parser: (typeof TOOL_CALL_PARSERS)[number], text: string, findings: string[], label: string): number {
  const started = performance.now()
  try {
    parseToolOutput(text, auto, parser)
    const deltas = new ToolCallDeltas(auto, parser)
    for (let at = 0; at < text.length; at += 64) deltas.next(0, text.slice(at, at + 64), false)
    deltas.next(0, '', true)
    const splitter = new ReasoningSplitter({start: '<think>', end: '</think>'})
    for (let at = 0; at < text.length; at += 64) splitter.push(text.slice(at, at + 64), false)
    splitter.push('', true)
  } catch (error) {
    findings.push(`${label}: threw ${(error as Error).message.slice(0, 120)}`)
  }
  return performance.now() - started
}

const n = Number(options.chars)
const findings: string[] = []
let cases = 0
const startedAt = Date.now()
const [small, large] = [outputs(n), outputs(4 * n)]
for (const parser of TOOL_CALL_PARSERS) {
  let worst = {ms: 0, label: ''}
  for (const name of Object.keys(small))
    for (const wrap of WRAPS) {
      const label = `${parser} ${wrap || '(bare)'} ${name}`
      let [a, b] = [timed(parser, wrap + small[name]!, findings, label), timed(parser, wrap + large[name]!, findings, label)]
      cases += 2
      // A garbage collection or the load can stretch one parse: a suspect pair is timed twice more, the fastest kept.
      for (let again = 0; again < 2 && (b > 2000 || (b > 100 && b / Math.max(a, 1) > 8)); again++, cases += 2)
        [a, b] = [Math.min(a, timed(parser, wrap + small[name]!, [], label)), Math.min(b, timed(parser, wrap + large[name]!, [], label))]
      if (b > 2000 || (b > 100 && b / Math.max(a, 1) > 8)) findings.push(`${label}: ${a.toFixed(0)} ms at ${n} characters, ${b.toFixed(0)} ms at ${4 * n} (superlinear)`)
      if (b > worst.ms) worst = {ms: b, label: `${wrap || '(bare)'} ${name}`}
    }
  console.log(`${parser.padEnd(16)} slowest ${worst.ms.toFixed(0)} ms at ${4 * n} characters (${worst.label})`)
}
for (const finding of findings) console.log(`FINDING ${finding}`)
console.log(`${cases} parses in ${((Date.now() - startedAt) / 1000).toFixed(0)} s (load ${loadavg()[0]!.toFixed(2)}): ${findings.length === 0 ? 'no findings' : `${findings.length} findings`}`)
process.exitCode = findings.length === 0 ? 0 : 1
