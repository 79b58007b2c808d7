// Times encoding long prompts (100k characters of prose, 1M of one character, 1M of random text) per tokenizer, to show no quadratic path.
//
//   npx tsx scripts/bench-tokenizer.ts [GGUF...]     the built-in model's and the test families' tokenizers, plus any GGUF files named
import {performance} from 'node:perf_hooks'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {TRAINING_TEXT} from '../src/engine/model/byte-level-bpe.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {parityTokenizerFiles} from '../test/support/parity-tokenizers.js'

/** Random text: words of random letters (Latin, Cyrillic, CJK), digits, punctuation and emoji, spaced and broken into lines. */
function randomText(length: number, seed: number): string {
  const random = new SeededRandom(seed)
  const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'абвгдежзийклмноп', '日本語中文字漢', '0123456789', '.,;:!?()"\'-', '😀🚀👍🏽']
  let text = ''
  while (text.length < length) {
    const letters = [...alphabets[random.nextInt(alphabets.length)]!]
    const size = 1 + random.nextInt(10)
    for (let i = 0; i < size; i++) text += letters[random.nextInt(letters.length)]
    text += random.nextInt(12) === 0 ? '\n' : ' '
  }
  return text.slice(0, length)
}

const inputs: [string, string][] = [
  ['prose 10k', TRAINING_TEXT.repeat(Math.ceil(10_000 / TRAINING_TEXT.length)).slice(0, 10_000)],
  ['prose 100k', TRAINING_TEXT.repeat(Math.ceil(100_000 / TRAINING_TEXT.length)).slice(0, 100_000)],
  ['"a" x 100k', 'a'.repeat(100_000)],
  ['"a" x 1M', 'a'.repeat(1_000_000)],
  ['" " x 1M', ' '.repeat(1_000_000)],
  ['random 100k', randomText(100_000, 1)],
  ['random 1M', randomText(1_000_000, 2)],
]

const tokenizers: [string, Tokenizer][] = [['tinychat', Tokenizer.load(BUILTIN_MODEL_DIR)]]
for (const name of ['llama2-8192', 'llama3-8192', 'qwen2-8192']) {
  const {tokenizerJson, tokenizerConfig} = parityTokenizerFiles(name)!
  tokenizers.push([name, new Tokenizer(tokenizerJson, tokenizerConfig)])
}
for (const path of process.argv.slice(2)) tokenizers.push([path.split('/').pop()!, Tokenizer.load(path)])

console.log(`tokenizer        ${inputs.map(([name]) => name.padStart(16)).join('')}   (ms to encode; tokens in brackets for 1M runs)`)
for (const [name, tokenizer] of tokenizers) {
  const cells = inputs.map(([label, text]) => {
    const start = performance.now()
    const ids = tokenizer.encode(text)
    const ms = performance.now() - start
    return (label.includes('1M') ? `${ms.toFixed(0)} [${ids.length}]` : ms.toFixed(0)).padStart(16)
  })
  console.log(`${name.padEnd(16)} ${cells.join('')}`)
}
