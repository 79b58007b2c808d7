// Per-token output handling as the output grows: this checkout's code beside another checkout's (--root), in one run.
//
// A token's handling here is what the engine and a stream do for it: append it to the sequence, detokenize it and
// check stop strings (detokenizeAndCheck), snapshot the request (snapshotGroup) and take the stream's delta
// (ChoiceDeltas). Two outputs:
// - text: a paragraph over and over, with two stop strings that never match (its "<EN" is held back and let go);
//   CPU µs per token are measured over a block of tokens ending at each output length;
// - skipped EOS: --eos EOS tokens with ignore_eos and skip_special_tokens, which add no text at all.
// Usage: npx tsx scripts/bench-output-text.ts [--tokens 25000] [--eos 8000] [--root /work/main]
import {parseArgs} from 'node:util'
import {resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig} from '../src/engine/model/tokenizer-families.js'

const {values: args} = parseArgs({options: {
  tokens: {type: 'string', default: '25000'}, eos: {type: 'string', default: '8000'}, root: {type: 'string'},
}})
const TOKENS = Number(args.tokens)
const EOS_TOKENS = Number(args.eos)
// A generated Llama 2 style tokenizer (byte fallback, 512 tokens): the decode the detokenizer's window costs is real.
const tokenizer = new Tokenizer(TOKENIZER_FAMILIES.llama2.buildTokenizerJson(512, 0), buildTokenizerConfig(TOKENIZER_FAMILIES.llama2, 512))
const EOS = 2
// A paragraph with a "<EN" now and then: the start of a stop string, held back until the next word shows it is not one.
const paragraph = tokenizer.encode('The quick brown fox jumps over the lazy dog <EN and then runs on, far away, into the woods; ', {addSpecialTokens: false})

/** One checkout's modules, loaded from its own source tree. */
async function loadCheckout(root: string) {
  const load = (path: string) => import(pathToFileURL(resolve(root, path)).href)
  const [stop, detokenizer, sequence, output, deltas, sampling] = await Promise.all([
    load('src/engine/stop-checker.ts'), load('src/engine/detokenizer.ts'), load('src/engine/sequence.ts'),
    load('src/engine/request-output.ts'), load('src/server/choice-deltas.ts'), load('src/engine/sampling-params.ts'),
  ])
  /** A request whose tokens are handled one at a time; returns the µs of CPU each block of `block` tokens took. */
  return function handle(params: Record<string, unknown>, tokenAt: (i: number) => number, count: number, block: number): {cpuUs: number[]; chars: number} {
    const prompt = tokenizer.encode('Tell me a story:')
    const group = new sequence.SequenceGroup('bench', null, prompt, sampling.makeSamplingParams(params), 0)
    const seq = group.sequences[0]
    seq.status = sequence.SequenceStatus.Running
    const detok = new detokenizer.IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens: true})
    // This checkout keeps the text in the detokenizer's pieces; an older one holds a string on the sequence.
    const pieces = 'output' in detok
    if (pieces) seq.text = detok.output
    const stream = new deltas.ChoiceDeltas()
    const cpuUs: number[] = []
    let streamed = 0
    let since = process.cpuUsage()
    for (let i = 0; i < count; i++) {
      const tokenId = tokenAt(i)
      seq.appendToken(tokenId, 0)
      const verdict = stop.detokenizeAndCheck(group.params, [EOS], detok, tokenId, i + 1)
      if (pieces) seq.shownTextLength = verdict.textLength
      else seq.outputText = verdict.text
      const delta = stream.next(0, output.snapshotGroup(group).outputs[0])
      streamed += delta?.text.length ?? 0
      if ((i + 1) % block === 0) {
        const used = process.cpuUsage(since)
        cpuUs.push((used.user + used.system) / block)
        since = process.cpuUsage()
      }
    }
    return {cpuUs, chars: streamed}
  }
}

const here = await loadCheckout(resolve(import.meta.dirname, '..'))
const other = args.root === undefined ? null : await loadCheckout(args.root)
const fmt = (us: number | undefined) => (us === undefined ? '-' : us < 10 ? us.toFixed(1) : us.toFixed(0)).padStart(9)

// Text: the per-token cost at several output lengths, measured over a block of tokens ending there.
const BLOCK = 500
const textParams = {stop: ['<END>', '\n\nUser:'], maxTokens: TOKENS + 1, ignoreEos: true}
const textToken = (i: number) => paragraph[i % paragraph.length]!
const textRuns = [other === null ? null : other(textParams, textToken, TOKENS, BLOCK), here(textParams, textToken, TOKENS, BLOCK)]
console.log(`text output, ${TOKENS} tokens (${textRuns[1]!.chars} chars), CPU µs per token over ${BLOCK} tokens ending at:`)
console.log(`${'tokens'.padStart(8)} ${'chars'.padStart(8)} ${'before'.padStart(9)} ${'after'.padStart(9)}`)
const blocks = textRuns[1]!.cpuUs.length
for (const at of new Set([1, Math.round(blocks / 8), Math.round(blocks / 4), Math.round(blocks / 2), blocks].filter((b) => b >= 1))) {
  console.log(`${String(at * BLOCK).padStart(8)} ${String(Math.round((at * BLOCK * textRuns[1]!.chars) / TOKENS)).padStart(8)} ${fmt(textRuns[0]?.cpuUs[at - 1])} ${fmt(textRuns[1]!.cpuUs[at - 1])}`)
}

// Skipped EOS: text stays empty, so any growth is the detokenizer's window.
const eosParams = {maxTokens: EOS_TOKENS + 1, ignoreEos: true, skipSpecialTokens: true}
const eosBlock = Math.max(1, Math.floor(EOS_TOKENS / 4))
const eosRuns = [other === null ? null : other(eosParams, () => EOS, EOS_TOKENS, eosBlock), here(eosParams, () => EOS, EOS_TOKENS, eosBlock)]
const total = (run: {cpuUs: number[]} | null) => (run === null ? undefined : (run.cpuUs.reduce((sum, us) => sum + us, 0) * eosBlock) / 1e6)
console.log(`\n${EOS_TOKENS} skipped EOS tokens (ignore_eos): CPU µs per token by quarter, and CPU seconds in all`)
console.log(`${'quarter'.padStart(8)} ${'before'.padStart(9)} ${'after'.padStart(9)}`)
eosRuns[1]!.cpuUs.forEach((us, i) => console.log(`${String(i + 1).padStart(8)} ${fmt(eosRuns[0]?.cpuUs[i])} ${fmt(us)}`))
console.log(`${'total s'.padStart(8)} ${(total(eosRuns[0])?.toFixed(2) ?? '-').padStart(9)} ${total(eosRuns[1])!.toFixed(2).padStart(9)}`)
if (other === null) console.log('(no --root: only this checkout was measured)')
