// Derives datasets/{sharegpt,alpaca}.jsonl (prompt/output token lengths) from the shared dataset samples, or checks them.
// Run: node --import tsx scripts/derive-traces.ts [--check]   (reads ../shared or $PAGEDLLM_SHARED; prints the figures for datasets/README.md;
// --check re-derives both traces and fails if they differ from the committed files instead of writing them)
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {readDatasetPairs} from '../src/bench/datasets.js'
import {loadGpt2TokenizerFromGguf} from '../src/bench/gguf-vocab.js'
import {builtinTracePath, formatTraceJsonl, traceFromPairs, traceStats, type BuiltinTrace} from '../src/bench/trace.js'

const check = process.argv.includes('--check')
// ../shared beside the checkout, or PAGEDLLM_SHARED (e.g. /work/shared) from a worktree elsewhere.
const shared = process.env.PAGEDLLM_SHARED ? pathToFileURL(process.env.PAGEDLLM_SHARED.replace(/\/?$/, '/')) : new URL('../../shared/', import.meta.url)
if (!existsSync(new URL('datasets/', shared))) {
  console.error(`no shared datasets at ${fileURLToPath(shared)}: set PAGEDLLM_SHARED to the folder holding datasets/ and tokenizers/`)
  process.exit(2)
}
const sources: Record<BuiltinTrace, string> = {
  sharegpt: 'datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json',
  alpaca: 'datasets/alpaca/alpaca_5000_random_subset.json',
}

// OPT's tokenizer (the vLLM paper's and the dataset README's) = GPT-2 BPE + a BOS token (OPT id 2) per text.
const OPT_BOS_ID = 2
const gguf = fileURLToPath(new URL('tokenizers/ggml-vocab-gpt-2.gguf', shared))
const tokenizer = loadGpt2TokenizerFromGguf(gguf, {prependBosId: OPT_BOS_ID})
// The real GPT-2 vocab must give GPT-2's published ids (tiktoken / HF tokenizers) before we count with it.
assert.equal(loadGpt2TokenizerFromGguf(gguf).vocabSize, 50257)
assert.deepEqual(loadGpt2TokenizerFromGguf(gguf).encode('Hello world, this is a test.'), [15496, 995, 11, 428, 318, 257, 1332, 13])
assert.deepEqual(loadGpt2TokenizerFromGguf(gguf).encode('<|endoftext|>'), [50256])

let differing = 0
for (const [name, source] of Object.entries(sources) as [BuiltinTrace, string][]) {
  const dataset = readDatasetPairs(fileURLToPath(new URL(source, shared)))
  const trace = traceFromPairs(dataset.pairs, tokenizer.encode)
  const jsonl = formatTraceJsonl(trace)
  const same = check && readFileSync(builtinTracePath(name), 'utf8') === jsonl
  if (!check) writeFileSync(builtinTracePath(name), jsonl)
  else if (!same) differing++
  const stats = traceStats(trace)
  const fmt = (s: typeof stats.prompt) => `${s.mean.toFixed(1)} / ${s.median} / ${s.p90.toFixed(1)} (max ${s.max})`
  console.log(`${name}: ${dataset.records} records, ${dataset.pairs.length} pairs, ${stats.count} usable${check ? (same ? ', same as the committed file' : ' DIFFERS from the committed file') : ''}`)
  console.log(`  prompt mean/median/p90: ${fmt(stats.prompt)}`)
  console.log(`  output mean/median/p90: ${fmt(stats.output)}`)
}
if (differing > 0) process.exit(1)
