// Trace derivation: vLLM's pairing and filter rules, the GPT-2 GGUF tokenizer, and the committed traces' figures.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {detectDatasetFormat, pairsFromRecords, readDatasetPairs} from '../src/bench/datasets.js'
import {loadGpt2TokenizerFromGguf} from '../src/bench/gguf-vocab.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {
  builtinTracePath, fitTrace, formatTraceJsonl, loadBuiltinTrace, parseTraceJsonl, passesFilter, sampleTrace, traceFromPairs, traceStats,
} from '../src/bench/trace.js'

const shared = new URL('../../shared/', import.meta.url)
const gguf = fileURLToPath(new URL('tokenizers/ggml-vocab-gpt-2.gguf', shared))
const words = (text: string) => text.split(/\s+/).filter(Boolean).map((_, i) => i)
const repeat = (n: number) => Array.from({length: n}, () => 'w').join(' ')

describe('pairing and filter rules', () => {
  it('pairs ShareGPT turn 0 with turn 1 and drops single-turn conversations', () => {
    const records = [
      {id: 'a', conversations: [{from: 'human', value: 'hi there you'}, {from: 'gpt', value: 'hello'}, {from: 'human', value: 'x'}]},
      {id: 'b', conversations: [{from: 'human', value: 'alone'}]},
    ]
    assert.equal(detectDatasetFormat(records, 'test'), 'sharegpt')
    assert.deepEqual(pairsFromRecords(records, 'sharegpt'), [{prompt: 'hi there you', completion: 'hello'}])
  })

  it('joins Alpaca instruction and input with a newline', () => {
    const records = [{instruction: 'Do it', input: 'on this', output: 'done'}, {instruction: 'Just this', input: '', output: 'ok'}]
    assert.equal(detectDatasetFormat(records, 'test'), 'alpaca')
    assert.deepEqual(pairsFromRecords(records, 'alpaca'), [
      {prompt: 'Do it\non this', completion: 'done'},
      {prompt: 'Just this', completion: 'ok'},
    ])
  })

  it('rejects an unknown format with a readable error', () => {
    assert.throws(() => detectDatasetFormat([{text: 'x'}], 'mine.json'), InvalidRequestError)
  })

  it('keeps only pairs with prompt and output >= 4, prompt <= 1024 and total <= 2048', () => {
    assert.equal(passesFilter(4, 4), true)
    assert.equal(passesFilter(3, 100), false)
    assert.equal(passesFilter(100, 3), false)
    assert.equal(passesFilter(1024, 1024), true)
    assert.equal(passesFilter(1025, 10), false)
    assert.equal(passesFilter(1000, 1049), false)
    const pairs = [
      {prompt: repeat(3), completion: repeat(50)}, // prompt too short
      {prompt: repeat(10), completion: repeat(3)}, // output too short
      {prompt: repeat(1025), completion: repeat(10)}, // prompt too long
      {prompt: repeat(1000), completion: repeat(1049)}, // total too long
      {prompt: repeat(4), completion: repeat(4)},
      {prompt: repeat(1024), completion: repeat(1024)},
    ]
    assert.deepEqual(traceFromPairs(pairs, words), [{promptLen: 4, outputLen: 4}, {promptLen: 1024, outputLen: 1024}])
  })

  it('reads a dataset file and auto-detects its format', () => {
    mkdirSync(new URL('../.cache/', import.meta.url), {recursive: true})
    const path = fileURLToPath(new URL('../.cache/trace-test-alpaca.json', import.meta.url))
    writeFileSync(path, JSON.stringify([{instruction: 'a b c d', input: '', output: 'e f g h'}]))
    const dataset = readDatasetPairs(path)
    assert.equal(dataset.format, 'alpaca')
    assert.equal(dataset.records, 1)
  })
})

describe('GPT-2 tokenizer from GGUF', () => {
  it('encodes as GPT-2 does', () => {
    const tokenizer = loadGpt2TokenizerFromGguf(gguf)
    assert.equal(tokenizer.vocabSize, 50257)
    // GPT-2's ids for this sentence, as published by tiktoken / HF tokenizers.
    assert.deepEqual(tokenizer.encode('Hello world, this is a test.'), [15496, 995, 11, 428, 318, 257, 1332, 13])
    assert.deepEqual(tokenizer.encode('<|endoftext|>'), [50256])
    assert.deepEqual(loadGpt2TokenizerFromGguf(gguf, {prependBosId: 2}).encode('Hello'), [2, 15496])
  })
})

describe('committed traces', () => {
  it('ShareGPT trace has the reference figures (873 usable, prompt 219.8/83/664, output 233.6/167/557)', () => {
    const stats = traceStats(loadBuiltinTrace('sharegpt'))
    assert.equal(stats.count, 873)
    assert.equal(stats.prompt.mean.toFixed(1), '219.8')
    assert.equal(stats.prompt.median, 83)
    assert.equal(Math.round(stats.prompt.p90), 664)
    assert.equal(stats.output.mean.toFixed(1), '233.6')
    assert.equal(stats.output.median, 167)
    assert.equal(Math.round(stats.output.p90), 557)
    assert.ok(loadBuiltinTrace('sharegpt').every((r) => passesFilter(r.promptLen, r.outputLen)))
  })

  it('Alpaca trace has the reference figures (4856 usable, prompt 18.8/15/31, output ~61.3/47/129)', () => {
    const stats = traceStats(loadBuiltinTrace('alpaca'))
    assert.equal(stats.count, 4856)
    assert.equal(stats.prompt.mean.toFixed(1), '18.8')
    assert.equal(stats.prompt.median, 15)
    assert.equal(stats.prompt.p90, 31)
    assert.ok(Math.abs(stats.output.mean - 61.3) < 0.1)
    assert.equal(stats.output.median, 47)
    assert.equal(stats.output.p90, 129)
  })

  it('re-deriving ShareGPT from the shared sample reproduces the committed file (first 150 conversations)', () => {
    // The trace keeps file order, so the first pairs derive to a prefix of it; all 992 take seconds more.
    const tokenizer = loadGpt2TokenizerFromGguf(gguf, {prependBosId: 2})
    const dataset = readDatasetPairs(fileURLToPath(new URL('datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json', shared)))
    assert.equal(dataset.pairs.length, 992)
    const derived = formatTraceJsonl(traceFromPairs(dataset.pairs.slice(0, 150), tokenizer.encode))
    const committed = readFileSync(builtinTracePath('sharegpt'), 'utf8')
    assert.ok(derived.length > 1000)
    assert.equal(committed.slice(0, derived.length), derived)
  })
})

describe('sampling', () => {
  const trace = parseTraceJsonl(Array.from({length: 20}, (_, i) => JSON.stringify({prompt_len: i + 4, output_len: 100 + i})).join('\n'))

  it('is seeded: same seed same sample, another seed another order', () => {
    assert.deepEqual(sampleTrace(trace, 5, 1), sampleTrace(trace, 5, 1))
    assert.notDeepEqual(sampleTrace(trace, 5, 1), sampleTrace(trace, 5, 2))
    assert.equal(new Set(sampleTrace(trace, 20, 3).map((r) => r.promptLen)).size, 20)
  })

  it('refuses more prompts than the trace holds', () => {
    assert.throws(() => sampleTrace(trace, 21, 0), InvalidRequestError)
  })

  it('drops requests longer than the model or pool can hold', () => {
    const {kept, dropped} = fitTrace(trace, 110)
    assert.equal(dropped, 16)
    assert.ok(kept.every((r) => r.promptLen + r.outputLen <= 110))
  })
})
