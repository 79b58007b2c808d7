// Differential check of our tokenizers against transformers (scripts/tok-parity-hf.py); a development tool, never run by npm test.
//
//   npx tsx scripts/tok-parity.ts export WORK           tokenizers + corpus (hostile texts, ../shared datasets) into WORK
//   /work/venv-hf/bin/python scripts/tok-parity-hf.py WORK   transformers' ids and decodes into WORK/hf/
//   npx tsx scripts/tok-parity.ts compare WORK [--fixtures] [NAME...]  mismatch counts per tokenizer (all, or those named)
//                                and check; --fixtures writes test/fixtures/tokenizer-parity/ from the hostile texts only
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {hostileTexts} from '../test/support/hostile-text.js'
import {CLASS_VARIANTS, FAMILY_TOKENIZERS, parityTokenizerFiles} from '../test/support/parity-tokenizers.js'
import {parityMismatches, type ParityCase, type ParityMismatch} from '../test/support/tokenizer-parity.js'

/** ../shared beside the repository, or SHARED_DIR (a worktree sits elsewhere). */
const SHARED = process.env.SHARED_DIR ?? join(import.meta.dirname, '..', '..', 'shared')
const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'tokenizer-parity')

interface TokenizerEntry {
  name: string
  /** A model directory or a GGUF file. */
  path: string
  kind: 'dir' | 'gguf'
  /** Whether its fixture can be committed (the tokenizer is rebuilt by tests without ../shared). */
  fixture: boolean
}

/**
 * The tokenizers whose fixtures are committed: the class variants that differ from their families only in
 * tokenizer_config.json flags give tokenizer.json's reference the same answers (they show transformers 5's differences
 * here only), and the lstrip/rstrip variants still differ where a U+FEFF or U+0085 borders a stripping token (the JS
 * library trims JS whitespace, Rust Unicode White_Space).
 */
const FIXTURE_TOKENIZERS = ['tinychat', 'llama2-512', 'llama3-512', 'qwen2-512', 'llama2-normalized-added']

/** A committed fixture stays small: texts up to 1,000 characters (the longer runs are checked here only), the first 300. */
function fixtureCases(cases: ParityCase[]): ParityCase[] {
  return cases.filter((c) => c.text.length <= 1000).slice(0, 300)
}

/** The families and class variants (test/support/parity-tokenizers.ts) as model directories transformers can load. */
function writeParityTokenizers(work: string): TokenizerEntry[] {
  return [...FAMILY_TOKENIZERS, ...Object.keys(CLASS_VARIANTS)].map((name) => {
    const dir = join(work, 'tokenizers', name)
    mkdirSync(dir, {recursive: true})
    const {tokenizerJson, tokenizerConfig} = parityTokenizerFiles(name)!
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson))
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig))
    return {name, path: dir, kind: 'dir' as const, fixture: FIXTURE_TOKENIZERS.includes(name)}
  })
}

/** Dataset texts (ShareGPT turns, Alpaca records), read from ../shared, never committed. */
function datasetTexts(limit: number): string[] {
  const sharegpt = JSON.parse(readFileSync(join(SHARED, 'datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json'), 'utf8')) as {conversations: {value: string}[]}[]
  const alpaca = JSON.parse(readFileSync(join(SHARED, 'datasets/alpaca/alpaca_5000_random_subset.json'), 'utf8')) as {instruction: string; input: string; output: string}[]
  const turns = sharegpt.flatMap((c) => c.conversations.slice(0, 2).map((t) => t.value)).filter((t) => t.length <= 20000)
  const records = alpaca.map((r) => [r.instruction, r.input, r.output].filter((s) => s !== '').join('\n'))
  return [...turns.slice(0, limit), ...records.slice(0, limit)]
}

function exportCorpus(work: string): void {
  const tokenizers: TokenizerEntry[] = [
    {name: 'tinychat', path: BUILTIN_MODEL_DIR, kind: 'dir', fixture: true},
    ...writeParityTokenizers(work),
    ...['gpt-2', 'gpt-neox', 'llama-spm'].map((name) => ({name: `gguf-${name}`, path: join(SHARED, `tokenizers/ggml-vocab-${name}.gguf`), kind: 'gguf' as const, fixture: false})),
  ]
  const hostile = hostileTexts({mixes: 600, long: 10000})
  const fixtureTexts = hostileTexts({mixes: 200, long: 2000})
  writeFileSync(join(work, 'manifest.json'), JSON.stringify({tokenizers}, null, 1))
  // JSON keeps lone surrogates as \ud800 escapes, which Python reads back as the same code units.
  writeFileSync(join(work, 'corpus.json'), JSON.stringify({hostile, fixture: fixtureTexts, datasets: datasetTexts(800)}))
  console.log(`wrote ${tokenizers.length} tokenizers, ${hostile.length} hostile texts, ${fixtureTexts.length} fixture texts to ${work}`)
}

function compare(work: string, writeFixtures: boolean, only: string[]): void {
  const {tokenizers} = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8')) as {tokenizers: TokenizerEntry[]}
  const rows: string[] = []
  for (const entry of tokenizers.filter((t) => only.length === 0 || only.includes(t.name))) {
    let tokenizer: Tokenizer
    try {
      tokenizer = Tokenizer.load(entry.path)
    } catch (error) {
      // A pipeline we refuse (a ModelLoadError naming it) is a row, not the end of the run.
      rows.push(`${entry.name}: not loaded: ${(error as Error).message}`)
      continue
    }
    // hf: tokenizer.json as written (the fixtures' reference); hf-auto: transformers 5's AutoTokenizer, for the record.
    for (const reference of ['hf', 'hf-auto']) {
      const hfPath = join(work, reference, `${entry.name}.json`)
      if (!existsSync(hfPath)) {
        rows.push(`${entry.name}: no transformers output (${hfPath})`)
        continue
      }
      const hf = JSON.parse(readFileSync(hfPath, 'utf8')) as Record<'hostile' | 'fixture' | 'datasets', ParityCase[]>
      for (const set of ['hostile', 'datasets', 'fixture'] as const) {
        const counts = new Map<string, number>()
        const examples: ParityMismatch[] = []
        let texts = 0
        for (const c of hf[set]) {
          const found = parityMismatches(tokenizer, c)
          if (found.length > 0) texts++
          for (const m of found) {
            counts.set(m.check, (counts.get(m.check) ?? 0) + 1)
            if (examples.length < 4 && !examples.some((e) => e.check === m.check)) examples.push(m)
          }
        }
        rows.push(`${entry.name.padEnd(24)} ${reference.padEnd(7)} ${set.padEnd(8)} ${String(hf[set].length).padStart(5)} texts, ${String(texts).padStart(4)} differ  ${[...counts].map(([k, n]) => `${k}:${n}`).join(' ')}`)
        for (const e of examples) rows.push(`    ${e.check}: ${JSON.stringify(e.text).slice(0, 120)}\n      expected ${JSON.stringify(e.expected).slice(0, 200)}\n      actual   ${JSON.stringify(e.actual).slice(0, 200)}`)
      }
      if (writeFixtures && entry.fixture && reference === 'hf') {
        mkdirSync(FIXTURES, {recursive: true})
        writeFileSync(join(FIXTURES, `${entry.name}.json`), JSON.stringify({tokenizer: entry.name, source: 'scripts/tok-parity.ts (the tokenizers library via scripts/tok-parity-hf.py)', cases: fixtureCases(hf.fixture)}) + '\n')
      }
    }
  }
  console.log(rows.join('\n'))
}

const [command, work, ...flags] = process.argv.slice(2)
if (work === undefined || (command !== 'export' && command !== 'compare')) throw new Error('usage: npx tsx scripts/tok-parity.ts export|compare WORK [--fixtures] [NAME...]')
mkdirSync(work, {recursive: true})
if (command === 'export') exportCorpus(work)
else compare(work, flags.includes('--fixtures'), flags.filter((f) => !f.startsWith('--')))
