// The flag and prompt attacks of scripts/cli-attacks.ts: every flag of generate / bench / compare / serve with wrong
// types, extremes and empty or unknown values; conflicting combinations; hostile prompts on argv and stdin.
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Compare from '../src/commands/compare.js'
import Generate from '../src/commands/generate.js'
import Bench from '../src/commands/bench/index.js'
import Serve from '../src/commands/serve.js'
import {engineFlags} from '../src/cli/engine-flags.js'
import type {AttackBase, CliAttack} from './cli-attacks.js'

/** Values no number, size or name flag should take quietly (an empty one included). */
const HOSTILE_VALUES = ['0', '-1', '1e309', 'NaN', '-Infinity', '99999999999999999999', '2147483648', '1.5', 'abc', '', ' ', '0x10', '1e3']
/** The same, fewer, for the engine flags already attacked through generate: the other commands build the engine their own way. */
const ENGINE_VALUES_ELSEWHERE = ['-1', '1e309']
/** The other commands' own flags: the values that found the most (the full list runs on generate). */
const OWN_VALUES_ELSEWHERE = ['0', '-1', '1e309', 'NaN', '99999999999999999999', '', 'abc']

type FlagSpec = {type: string; options?: readonly string[]; allowNo?: boolean}

/** Each command's run with everything small, as flag name -> value (a boolean flag: null). */
function commandBases(base: AttackBase, outDir: () => string): Record<string, {words: string[]; flags: () => Record<string, string | null>; args: string[]}> {
  const trace = {trace: 'synthetic', 'input-len': '8', 'output-len': '4', 'num-prompts': '2', policies: 'paged', 'num-blocks': '64', model: base.tiny, threads: '1'}
  return {
    generate: {words: ['generate'], flags: () => ({model: base.tiny, 'num-blocks': '64', 'max-tokens': '2', threads: '1'}), args: ['hi']},
    bench: {words: ['bench'], flags: () => ({...trace}), args: []},
    compare: {words: ['compare'], flags: () => ({...trace, 'request-rates': 'inf', out: outDir()}), args: []},
    serve: {words: ['serve'], flags: () => ({model: base.tiny, port: '0', 'num-blocks': '64', 'tokenizer-threads': '1', threads: '1'}), args: []},
  }
}

function argsOf(words: string[], flags: Record<string, string | null>, extra: string[], positional: string[]): string[] {
  const out = [...words]
  for (const [name, value] of Object.entries(flags)) out.push(...(value === null ? [`--${name}`] : [`--${name}`, value]))
  return [...out, ...extra, ...positional]
}

export function flagAttacks(base: AttackBase): CliAttack[] {
  let outs = 0
  const outDir = () => join(base.scratch, `compare-out-${outs++}`)
  const bases = commandBases(base, outDir)
  const commands: [string, Record<string, FlagSpec>][] = [['generate', Generate.flags], ['bench', Bench.flags], ['compare', Compare.flags], ['serve', Serve.flags]]
  const attacks: CliAttack[] = []
  for (const [command, flags] of commands) {
    const {words, flags: baseFlags, args} = bases[command]!
    for (const [name, spec] of Object.entries(flags)) {
      const values = spec.type === 'boolean' ? [] : command !== 'generate' && name in engineFlags ? ENGINE_VALUES_ELSEWHERE : [...(command === 'generate' ? HOSTILE_VALUES : OWN_VALUES_ELSEWHERE), ...(spec.options ? ['bogus', spec.options.join(',')] : [])]
      for (const value of values) {
        const rest = baseFlags()
        delete rest[name]
        attacks.push({cls: 'flags', name: `${command} --${name} ${JSON.stringify(value)}`, args: argsOf(words, rest, [`--${name}`, value], args)})
      }
      if (spec.type === 'boolean') {
        attacks.push({cls: 'flags', name: `${command} --${name}=maybe`, args: argsOf(words, baseFlags(), [`--${name}=maybe`], args), expect: 'error'})
        if (!spec.allowNo) attacks.push({cls: 'flags', name: `${command} --no-${name}`, args: argsOf(words, baseFlags(), [`--no-${name}`], args), expect: 'error'})
      }
      // The same flag twice (a non-repeatable flag must say so, not take the last).
      if (spec.type !== 'boolean' && !(name in baseFlags())) attacks.push({cls: 'flags', name: `${command} --${name} twice`, args: argsOf(words, baseFlags(), [`--${name}`, '1', `--${name}`, '2'], args)})
    }
    attacks.push({cls: 'flags', name: `${command} --unknown-flag`, args: argsOf(words, baseFlags(), ['--unknown-flag', '1'], args), expect: 'error'})
    attacks.push({cls: 'flags', name: `${command} --model (missing dir)`, args: argsOf(words, {...baseFlags(), model: join(base.scratch, 'no-such-model')}, [], args), expect: 'error'})
    attacks.push({cls: 'flags', name: `${command} --model a file`, args: argsOf(words, {...baseFlags(), model: join(base.tiny, 'config.json')}, [], args), expect: 'error'})
  }
  return [...attacks, ...combinationAttacks(base, bases)]
}

/** Flags that contradict each other or that the run would ignore: each must be refused by name. */
function combinationAttacks(base: AttackBase, bases: ReturnType<typeof commandBases>): CliAttack[] {
  const g = bases.generate
  const combos: [string, string[]][] = [
    ['beam-width with temperature', ['--beam-width', '2', '--temperature', '0.5']],
    ['beam-width with best-of', ['--beam-width', '2', '--best-of', '2']],
    ['n over beam-width', ['--beam-width', '2', '--n', '3']],
    ['n over best-of', ['--best-of', '2', '--n', '3', '--temperature', '1']],
    ['best-of at temperature 0', ['--best-of', '2']],
    ['length-penalty without beams', ['--length-penalty', '2']],
    ['system without chat', ['--system', 'be brief']],
    ['logprobs without json', ['--logprobs', '2']],
    ['regex with choice', ['--regex', 'a+', '--choice', 'a']],
    ['json-schema with grammar', ['--json-schema', '{}', '--grammar', 'root ::= "a"']],
    ['json-schema not JSON', ['--json-schema', '{nope']],
    ['json-schema a list', ['--json-schema', '[1]']],
    ['json-schema a directory', ['--json-schema', base.scratch]],
    ['regex invalid', ['--regex', '(unclosed']],
    ['grammar invalid', ['--grammar', 'root ::= (']],
    ['choice empty string', ['--choice', '']],
    ['logit-bias not JSON', ['--logit-bias', '{2: -100}']],
    ['logit-bias a list', ['--logit-bias', '[1]']],
    ['logit-bias id past the vocab', ['--logit-bias', '{"99999999": 5}']],
    ['logit-bias bias 1e309', ['--logit-bias', '{"2": 1e309}']],
    ['logit-bias bias a string', ['--logit-bias', '{"2": "x"}']],
    ['logit-bias id -1', ['--logit-bias', '{"-1": 5}']],
    ['quantization with dtype', ['--quantization', 'q8_0', '--dtype', 'f16']],
    ['revision with a local model', ['--revision', 'main']],
    ['ngram-max below ngram-min', ['--speculative-method', 'ngram', '--ngram-min', '4', '--ngram-max', '2']],
    ['speculative-model without method', ['--speculative-model', base.tiny]],
    ['speculative-config not JSON', ['--speculative-config', '{']],
    ['speculative-config unknown method', ['--speculative-config', '{"method":"eagle"}']],
    ['speculative-config huge tokens', ['--speculative-config', '{"method":"ngram","num_speculative_tokens":1e9}']],
    ['speculative draft a missing model', ['--speculative-method', 'draft', '--speculative-model', join(base.scratch, 'none')]],
    ['speculative draft is the target', ['--speculative-method', 'draft', '--speculative-model', base.tiny, '--max-tokens', '4']],
    ['max-model-len past the model', ['--max-model-len', '100000']],
    ['max-num-batched-tokens below max-model-len without chunked prefill', ['--max-num-batched-tokens', '4', '--no-chunked-prefill']],
    ['block-size 256 with 1 block', ['--block-size', '256', '--num-blocks', '1']],
    ['kv-memory of 1 byte', ['--kv-memory', '1']],
    ['kv-memory 1 TiB', ['--kv-memory', '1TiB']],
    ['kv-memory 7 PiB', ['--kv-memory', '7000TiB']],
    ['swap-space 1 TiB', ['--swap-space', '1TiB']],
    ['num-blocks 1e9', ['--num-blocks', '1000000000']],
    ['device cuda without CUDA', ['--device', 'cuda']],
    ['gemm with cpu', ['--gemm', 'cublas', '--device', 'cpu']],
    ['policy orca-max', ['--policy', 'orca-max']],
    ['n 100000', ['--n', '100000', '--temperature', '1']],
    ['beam-width 100000', ['--beam-width', '100000']],
    ['top-k past the vocab', ['--top-k', '1000000']],
    ['max-tokens 2^31-1 ignoring EOS', ['--max-tokens', '2147483647', '--ignore-eos']],
    ['stop 1 MB long', ['--stop', 'x'.repeat(100_000)]],
    ['many stop strings', Array.from({length: 2000}, (_, i) => ['--stop', `s${i}`]).flat()],
    ['seed past 2^53', ['--seed', '9007199254740993']],
  ]
  const run = (name: string, extra: string[], over: Record<string, string | null> = {}) => {
    const flags = {...g.flags(), ...over}
    for (const [i, word] of extra.entries()) if (word.startsWith('--') && extra[i + 1] !== undefined && word.slice(2) in flags) delete flags[word.slice(2)]
    return {cls: 'flags', name: `generate ${name}`, args: argsOf(g.words, flags, extra, g.args)}
  }
  const serve = bases.serve
  const bench = bases.bench
  const benchRun = (name: string, extra: string[]) => {
    const flags = bench.flags()
    for (const word of extra) if (word.startsWith('--') && word.slice(2) in flags) delete flags[word.slice(2)]
    return {cls: 'flags', name: `bench ${name}`, args: argsOf(bench.words, flags, extra, [])}
  }
  return [
    ...combos.map(([name, extra]) => run(name, extra)),
    {cls: 'flags', name: 'serve MODEL and a different --model', args: ['serve', base.scratch, ...argsOf([], serve.flags(), [], [])]},
    {cls: 'flags', name: 'serve --port in use twice? (port 1, privileged)', args: argsOf(serve.words, {...serve.flags(), port: '1'}, [], [])},
    {cls: 'flags', name: 'serve --host not an address', args: argsOf(serve.words, {...serve.flags(), host: 'no such host.invalid'}, [], [])},
    {cls: 'flags', name: 'serve --allowed-origins bad JSON', args: argsOf(serve.words, serve.flags(), ['--allowed-origins', '["http://a",'], [])},
    {cls: 'flags', name: 'serve --max-body-size 0', args: argsOf(serve.words, serve.flags(), ['--max-body-size', '0'], [])},
    {cls: 'flags', name: 'serve --max-body-memory below --max-body-size', args: argsOf(serve.words, serve.flags(), ['--max-body-memory', '1KiB', '--max-body-size', '1MiB'], [])},
    {cls: 'flags', name: 'serve --responses-store-bytes without the store', args: argsOf(serve.words, serve.flags(), ['--responses-store-bytes', '1MiB'], [])},
    benchRun('--request-rates empty items', ['--request-rates', ',,']),
    benchRun('--request-rates 0', ['--request-rates', '0']),
    benchRun('--request-rates -1,inf', ['--request-rates', '-1,inf']),
    benchRun('--request-rates 1e309', ['--request-rates', '1e309']),
    benchRun('--request-rate NaN', ['--request-rate', 'NaN']),
    benchRun('--policies paged,paged', ['--policies', 'paged,paged']),
    benchRun('--policies ,', ['--policies', ',']),
    benchRun('--input-len without synthetic', ['--trace', 'sharegpt', '--input-len', '8']),
    benchRun('--input-len past the context', ['--input-len', '100000']),
    benchRun('--output-len past the context', ['--output-len', '100000']),
    benchRun('--range-ratio 2', ['--range-ratio', '2']),
    benchRun('--range-ratio with exponential', ['--range-ratio', '0.3', '--spread', 'exponential']),
    benchRun('--json into a missing directory', ['--json', join(base.scratch, 'no/such/dir/out.json')]),
    benchRun('--json a directory', ['--json', base.scratch]),
    benchRun('--plots a file', ['--plots', join(base.tiny, 'config.json')]),
    benchRun('--num-blocks 1 (nothing fits)', ['--num-blocks', '1']),
    benchRun('--dataset missing', ['--dataset', join(base.scratch, 'none.json')]),
    {cls: 'flags', name: 'compare --endpoint not a URL', args: ['compare', '--endpoint', 'not a url', '--out', join(base.scratch, 'c-bad-url'), '--num-prompts', '2']},
    {cls: 'flags', name: 'compare --endpoint closed port', args: ['compare', '--endpoint', 'http://127.0.0.1:9', '--out', join(base.scratch, 'c-closed'), '--num-prompts', '2', '--endpoint-timeout', '2', '--request-rates', 'inf']},
    {cls: 'flags', name: 'compare --endpoint ftp scheme', args: ['compare', '--endpoint', 'ftp://127.0.0.1:21', '--out', join(base.scratch, 'c-ftp'), '--num-prompts', '2']},
    {cls: 'flags', name: 'compare more labels than endpoints', args: ['compare', '--endpoint', 'http://127.0.0.1:9', '--endpoint-label', 'a', '--endpoint-label', 'b', '--out', join(base.scratch, 'c-labels')]},
    {cls: 'flags', name: 'compare labels without endpoints', args: ['compare', '--endpoint-label', 'a', '--out', join(base.scratch, 'c-label-only'), ...argsOf([], bench.flags(), [], [])]},
    {cls: 'flags', name: 'compare --out a file', args: ['compare', ...argsOf([], bench.flags(), [], []), '--out', join(base.tiny, 'config.json'), '--request-rates', 'inf']},
    {cls: 'flags', name: 'compare --request-rates only inf, endpoint-model without endpoint', args: ['compare', ...argsOf([], bench.flags(), [], []), '--endpoint-model', 'x', '--out', join(base.scratch, 'c-em')]},
  ]
}

export function promptAttacks(base: AttackBase): CliAttack[] {
  const g = ['generate', '--model', base.tiny, '--num-blocks', '64', '--max-tokens', '2', '--threads', '1']
  const dir = join(base.scratch, 'prompts')
  mkdirSync(dir, {recursive: true})
  const megabyte = 'word '.repeat(200_000)
  const promptFile = (name: string, bytes: Buffer) => {
    const path = join(dir, name)
    writeFileSync(path, bytes)
    return path
  }
  const attacks: [string, string[], (string | Buffer)?][] = [
    ['empty argument', ['']],
    ['whitespace', ['   \t  ']],
    ['a newline only', ['\n']],
    ['emoji and CJK', ['👩‍👩‍👧‍👦 日本語のテキスト 한국어 🇺🇳']],
    ['combining marks', ['e\u0301\u0301\u0301\u0301'.repeat(50)]],
    ['right-to-left and BOM', ['\u202e\ufeffabc\u200d']],
    ['control characters', ['\x01\x02\x1b[31mred\x07']],
    ['lone surrogate on argv', ['a\ud800b']],
    ['100 KiB on argv (over the context)', ['w '.repeat(50_000)]],
    ['prompt longer than the context, --json', ['--json', 'word '.repeat(3000)]],
    ['prompt longer than the context, --chat', ['--chat', 'word '.repeat(3000)]],
    ['many prompts', Array.from({length: 300}, (_, i) => `p${i}`)],
    ['"-" twice', ['-', '-'], 'x'],
    ['"-" with empty stdin', ['-'], ''],
    ['stdin 1 MB', [], megabyte],
    ['stdin 1 MB as "-" with --chat', ['--chat', '-'], megabyte],
    ['stdin invalid UTF-8', [], Buffer.from([0x68, 0xff, 0xfe, 0x69])],
    ['stdin NUL bytes', [], Buffer.from('a\0b\0\0c')],
    ['stdin a lone surrogate (CESU bytes)', [], Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])],
    ['stdin overlong encoding', [], Buffer.from([0xc0, 0xaf])],
    ['stdin UTF-16 with BOM', [], Buffer.from('\ufeffhello', 'utf16le')],
    ['stdin just a newline', [], '\n'],
    ['stdin binary 64 KiB', [], Buffer.from(Array.from({length: 65536}, (_, i) => (i * 7919) & 255))],
    ['--chat with a NUL in the prompt', ['--chat', 'a\u0000b'.replace('\u0000', '')]],
    ['--chat --system empty', ['--chat', '--system', '', 'hi']],
    ['--chat --system 100 KiB', ['--chat', '--system', 's '.repeat(50_000), 'hi']],
    ['--stop matching every char', ['--stop', 'a', '--stop', '', 'hi']],
    ['--json-schema file of invalid UTF-8', ['--json-schema', promptFile('schema.json', Buffer.from([0x7b, 0xff, 0x7d])), 'hi']],
    ['--grammar file empty', ['--grammar', promptFile('empty.gbnf', Buffer.alloc(0)), 'hi']],
    ['--json-schema deeply nested', ['--json-schema', '{"type":"array","items":'.repeat(2000) + '{}' + '}'.repeat(2000), 'hi']],
    ['--regex catastrophic', ['--regex', '(a*)*b', '--max-tokens', '4', 'hi']],
    ['--choice 1000 choices', [...Array.from({length: 1000}, (_, i) => ['--choice', `c${i}`]).flat(), 'hi']],
  ]
  return attacks.map(([name, extra, stdin]) => {
    const positional = extra.length === 0 || extra.every((word) => word.startsWith('--')) ? [] : []
    return {cls: 'prompts', name: `generate ${name}`, args: [...g, ...extra, ...positional], stdin, timeoutMs: 90_000}
  })
}
