// Mask and compile cost of counted repetitions (counted-runs.ts) on GPT-2's 50k vocabulary: each spec compiled, then its
// matcher fed one character token at a time, timing each mask. Usage: npx tsx scripts/bench-counted-runs.ts [NAME-SUBSTRING]
// (TOKENIZERS=dir of ggml-vocab-gpt-2.gguf, default ../shared/tokenizers as scripts/bench-guided.ts)
import {performance} from 'node:perf_hooks'
import {GrammarCompiler, vocabInfoOf} from '../src/engine/guided/grammar-compiler.js'
import {guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {readGguf} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'
const metadata = readGguf(`${process.env.TOKENIZERS ?? '../shared/tokenizers'}/ggml-vocab-gpt-2.gguf`, {metadataOnly: true}).metadata
const tokenizer = tokenizerFromGguf(metadata)
const tokens = metadata.get('tokenizer.ggml.tokens') as string[]
const compiler = new GrammarCompiler(vocabInfoOf(tokenizer, tokens.length, [50256]))
const id = (c: string) => tokens.indexOf(c)
const J = (schema: object): GuidedSpec => ({kind: 'json', schema: schema as any, anyWhitespace: false, param: 'p'})
const R = (pattern: string): GuidedSpec => ({kind: 'regex', pattern, param: 'p'})
const all: [string, GuidedSpec, string][] = [
  ['maxLength 400', J({type: 'string', maxLength: 400}), '"' + 'a'.repeat(60)],
  ['regex a{300,400}', R('a{300,400}'), 'a'.repeat(60)],
  ['regex [a-z]{300,400}', R('[a-z]{300,400}'), 'a'.repeat(60)],
  ['regex (ab|cd){150,200}', R('(ab|cd){150,200}'), 'ab'.repeat(30)],
  ['pattern [a-z]{300,400}', J({type: 'string', pattern: '^[a-z]{300,400}$'}), '"' + 'a'.repeat(60)],
  ['minLength 300', J({type: 'string', minLength: 300}), '"' + 'a'.repeat(60)],
  ['maxLength 100000', J({type: 'string', maxLength: 100000}), '"' + 'a'.repeat(60)],
  ['maxLength 2^31-1', J({type: 'string', maxLength: 2 ** 31 - 1}), '"' + 'a'.repeat(60)],
  ['minLength 50000', J({type: 'string', minLength: 50000}), '"' + 'a'.repeat(60)],
  ['two long patterns', J({type: 'object', properties: {a: {type: 'string', pattern: '^x{200,300}$'}, b: {type: 'string', pattern: '^y{200,300}$'}}, required: ['a', 'b']}), '{"a":"' + 'x'.repeat(40)],
  ['grammar class run', {kind: 'grammar', ebnf: 'root ::= [a-z]{0,400}', param: 'p'}, 'a'.repeat(60)],
  ['maxItems 400', J({type: 'array', items: {type: 'integer'}, maxItems: 400}), '[' + '1,'.repeat(30)],
]
for (const [name, spec, text] of all.filter(([n]) => !process.argv[2] || n.includes(process.argv[2]))) {
  const t0 = performance.now()
  try {
    await compiler.compile(spec)
    const t1 = performance.now()
    const m = await compiler.newMatcher(guidedKey(spec))
    const times: number[] = []
    for (const c of text) {
      const s = performance.now(); await m.getNextTokenBitmask(); times.push(performance.now() - s)
      if (!m.acceptToken(id(c))) { console.log('  reject', c); break }
    }
    console.log(`${name}: compile ${(t1 - t0).toFixed(0)} ms, mask max ${Math.max(...times).toFixed(1)} last ${times.at(-1)!.toFixed(1)} ms over ${times.length}`)
  } catch (error) {
    console.log(name, 'refused:', (error as Error).message.slice(0, 300))
  }
}
