// Workload pieces: synthetic length traces, sampling a user's dataset, and token-id prompts of the traced lengths.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {buildBenchRequests} from '../src/bench/prompts.js'
import {syntheticTrace} from '../src/bench/synthetic-trace.js'
import {sampleTraceFromPairs} from '../src/bench/trace.js'
import {buildWorkload, loadTrace} from '../src/bench/workload.js'

const words = (text: string) => text.split(/\s+/).filter(Boolean).map((word) => word.length)
const repeat = (n: number) => Array.from({length: n}, () => 'w').join(' ')

describe('synthetic traces', () => {
  const base = {inputLen: 100, outputLen: 50, rangeRatio: 0.2, numPrompts: 2000, seed: 1}

  it('a workload none of whose requests fits the context is refused, not run as zero requests (NaN tables)', () => {
    const options = {trace: 'synthetic' as const, numPrompts: 2, seed: 0, synthetic: {inputLen: 100_000, outputLen: 8, spread: 'fixed' as const, rangeRatio: 0}}
    assert.throws(() => buildWorkload(options, null, 512), /^InvalidRequestError: no synthetic request fits the 512 tokens the engine or servers hold: lower --input-len \/ --output-len$/)
    assert.equal(buildWorkload({...options, synthetic: {...options.synthetic, inputLen: 100}}, null, 512).trace.length, 2)
  })

  it('fixed gives the means exactly', () => {
    assert.ok(syntheticTrace({...base, spread: 'fixed'}).every((r) => r.promptLen === 100 && r.outputLen === 50))
  })

  it('uniform stays within mean*(1 +- ratio) and is seeded', () => {
    const trace = syntheticTrace({...base, spread: 'uniform'})
    assert.ok(trace.every((r) => r.promptLen >= 80 && r.promptLen <= 120 && r.outputLen >= 40 && r.outputLen <= 60))
    assert.deepEqual(trace, syntheticTrace({...base, spread: 'uniform'}))
  })

  it('exponential has about the given mean and a long tail', () => {
    const trace = syntheticTrace({...base, spread: 'exponential'})
    const meanPrompt = trace.reduce((sum, r) => sum + r.promptLen, 0) / trace.length
    assert.ok(Math.abs(meanPrompt / 100 - 1) < 0.08, `mean ${meanPrompt}`)
    assert.ok(Math.max(...trace.map((r) => r.promptLen)) > 300)
  })
})

describe("sampling a user's dataset", () => {
  const pairs = [
    {prompt: repeat(2), completion: repeat(10)}, // too short
    {prompt: repeat(10), completion: repeat(10)},
    {prompt: repeat(20), completion: repeat(30)},
    {prompt: repeat(40), completion: repeat(100)}, // longer than the engine holds below
    {prompt: repeat(5), completion: repeat(6)},
  ]

  it('keeps the prompt tokens and applies the filter and the engine limit', () => {
    const trace = sampleTraceFromPairs(pairs, words, {numPrompts: 3, seed: 0, maxTotalTokens: 100})
    assert.deepEqual(trace.map((r) => r.promptLen).sort((a, b) => a - b), [5, 10, 20])
    assert.ok(trace.every((r) => r.promptTokenIds?.length === r.promptLen))
  })

  it('says so when too few pairs are usable, and by which rule', () => {
    assert.throws(() => sampleTraceFromPairs(pairs, words, {numPrompts: 4, seed: 0, maxTotalTokens: 100}), {
      name: 'InvalidRequestError',
      message: "the dataset has only 3 usable pairs of its 5 for --num-prompts 4 (vLLM's filter: prompt and output of 4+ tokens each, prompt at most 1024, together at most 100)",
    })
  })
})

describe("a user's own length trace (--trace FILE)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-trace-file-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }
  const synthetic = {inputLen: 1, outputLen: 1, spread: 'fixed' as const, rangeRatio: 0}
  const workload = (trace: string, numPrompts: number) => buildWorkload({trace, numPrompts, seed: 0, synthetic}, null, 100)

  it('runs its requests as written, leaving out those longer than the engine holds', () => {
    const path = file('mine.jsonl', '{"prompt_len": 3, "output_len": 2}\n\n{"prompt_len": 1000000000, "output_len": 5}\n{"prompt_len": 50, "output_len": 40}\n')
    const built = workload(path, 2)
    assert.equal(built.source, `${path} (3 requests)`)
    assert.equal(built.droppedTooLong, 1)
    assert.deepEqual(built.trace.map((r) => [r.promptLen, r.outputLen]).sort((a, b) => a[0]! - b[0]!), [[3, 2], [50, 40]])
    assert.throws(() => workload(path, 3), {message: `--num-prompts 3: only 2 of the 3 requests of --trace ${path} fit the 100 tokens (prompt + output) the engine or servers hold; give --num-prompts 2 or fewer`})
  })

  it('a file shorter than --num-prompts (the default 30) is named as short, not as too long for the engine', () => {
    const short = file('short.jsonl', '{"prompt_len": 3, "output_len": 2}\n{"prompt_len": 5, "output_len": 4}\n')
    assert.throws(() => workload(short, 30), {message: `--num-prompts 30: --trace ${short} holds only 2 requests; give --num-prompts 2 or fewer`})
    const shortAndLong = file('short-long.jsonl', '{"prompt_len": 3, "output_len": 2}\n{"prompt_len": 500, "output_len": 4}\n')
    assert.throws(() => workload(shortAndLong, 30), {
      message: `--num-prompts 30: --trace ${shortAndLong} holds only 2 requests, 1 of which fits the 100 tokens (prompt + output) the engine or servers hold; give --num-prompts 1 or fewer`,
    })
    const none = file('none-fit.jsonl', '{"prompt_len": 500, "output_len": 4}\n')
    assert.throws(() => workload(none, 1), {message: `--num-prompts 1: only 0 of the 1 requests of --trace ${none} fit the 100 tokens (prompt + output) the engine or servers hold`})
  })

  it('refuses an unknown name, an empty file, a bad line and lengths that are not whole numbers, by name', () => {
    assert.throws(() => loadTrace('sharegtp'), {message: '--trace sharegtp: not a built-in trace (sharegpt, alpaca, synthetic) nor a trace file (JSONL of {"prompt_len", "output_len"})'})
    const empty = file('empty.jsonl', '\n \n')
    assert.throws(() => loadTrace(empty), {message: `--trace ${empty}: no requests; expected one {"prompt_len": N, "output_len": N} object per line`})
    assert.throws(() => loadTrace(dir), {message: new RegExp(`^--trace ${dir}: cannot read it \\(EISDIR`)})
    for (const line of ['{"prompt_len": 3}', 'not json', '[3, 4]', '{"prompt_len": 0, "output_len": 4}', '{"prompt_len": 2.5, "output_len": 4}', '{"prompt_len": 1e300, "output_len": 4}', '{"prompt_len": "3", "output_len": 4}']) {
      const path = file('bad.jsonl', `{"prompt_len": 3, "output_len": 4}\n${line}\n`)
      assert.throws(() => loadTrace(path), {message: `--trace ${path} line 2: expected {"prompt_len": N, "output_len": N} with whole numbers N >= 1, got ${line}`})
    }
  })
})

describe('bench prompts', () => {
  const vocab = {vocabSize: 50, specialTokenIds: new Set([0, 1, 2])}
  const trace = [{promptLen: 30, outputLen: 7}, {promptLen: 3, outputLen: 9, promptTokenIds: [9, 8, 7]}]

  it('draws seeded random ids of the traced length from the vocab, never special tokens', () => {
    const requests = buildBenchRequests(trace, [0, 0.5], vocab, 4)
    assert.equal(requests[0].promptTokenIds.length, 30)
    assert.ok(requests[0].promptTokenIds.every((id) => id >= 3 && id < 50))
    assert.deepEqual(requests[1].promptTokenIds, [9, 8, 7])
    assert.deepEqual(requests.map((r) => [r.outputLen, r.arrivalOffset]), [[7, 0], [9, 0.5]])
    assert.deepEqual(buildBenchRequests(trace, [0, 0.5], vocab, 4), requests)
    assert.notDeepEqual(buildBenchRequests(trace, [0, 0.5], vocab, 5)[0].promptTokenIds, requests[0].promptTokenIds)
  })
})
