// Derives datasets/{sharegpt,alpaca}.jsonl (prompt/output token lengths) from the shared dataset samples.
// Run: node --import tsx scripts/derive-traces.ts   (reads ../shared; prints the figures for datasets/README.md)
import {writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {readDatasetPairs} from '../src/bench/datasets.js'
import {loadGpt2TokenizerFromGguf} from '../src/bench/gguf-vocab.js'
import {builtinTracePath, formatTraceJsonl, traceFromPairs, traceStats, type BuiltinTrace} from '../src/bench/trace.js'

const shared = new URL('../../shared/', import.meta.url)
const sources: Record<BuiltinTrace, string> = {
  sharegpt: 'datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json',
  alpaca: 'datasets/alpaca/alpaca_5000_random_subset.json',
}

// OPT's tokenizer (the vLLM paper's and the dataset README's) = GPT-2 BPE + a BOS token (OPT id 2) per text.
const OPT_BOS_ID = 2
const tokenizer = loadGpt2TokenizerFromGguf(fileURLToPath(new URL('tokenizers/ggml-vocab-gpt-2.gguf', shared)), {prependBosId: OPT_BOS_ID})

for (const [name, source] of Object.entries(sources) as [BuiltinTrace, string][]) {
  const dataset = readDatasetPairs(fileURLToPath(new URL(source, shared)))
  const trace = traceFromPairs(dataset.pairs, tokenizer.encode)
  writeFileSync(builtinTracePath(name), formatTraceJsonl(trace))
  const stats = traceStats(trace)
  const fmt = (s: typeof stats.prompt) => `${s.mean.toFixed(1)} / ${s.median} / ${s.p90.toFixed(1)} (max ${s.max})`
  console.log(`${name}: ${dataset.records} records, ${dataset.pairs.length} pairs, ${stats.count} usable`)
  console.log(`  prompt mean/median/p90: ${fmt(stats.prompt)}`)
  console.log(`  output mean/median/p90: ${fmt(stats.output)}`)
}
