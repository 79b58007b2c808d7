// Prompt logprobs ranked inside the native step (native/cpu/prompt_ranking.cpp, chunks of 64 rows here): the answers
// equal the JS reference over the logits one LM-head call over the same rows gives, bit for bit, across chunk
// boundaries, beside sampled rows and on rows with NaN and infinite logits; through the engine with chunked prefill,
// n / best_of and the prefix cache on, only sampled rows' logits come back.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, openSync, rmSync, writeSync, closeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {readSafetensorsHeader} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel, NativeModel, type PromptLogprobArrays, type PromptRowsAsked} from '../src/engine/native.js'
import {encodeSampleRequests} from '../src/engine/native-sampling.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {promptTokenLogprobs, rankInRow} from './support/prompt-logprobs-reference.js'
import {TestBlockPool, TestSequence, buildStep} from './support/paged-batch.js'

const VOCAB = 512 // the tiny test model's
const BLOCK_SIZE = 4
const chunkRows = process.env.PAGEDLLM_PROMPT_CHUNK_ROWS
before(() => (process.env.PAGEDLLM_PROMPT_CHUNK_ROWS = '64'))
after(() => (chunkRows === undefined ? delete process.env.PAGEDLLM_PROMPT_CHUNK_ROWS : (process.env.PAGEDLLM_PROMPT_CHUNK_ROWS = chunkRows)))

const tokens = (length: number, seed: number) => Array.from({length}, (_, t) => 1 + ((t * 37 + seed * 101) % 500))

/** Where the ranked answers differ from the reference over `logits` (row i: entry i's row); empty when none. */
function differences(ranked: PromptLogprobArrays, logits: Float32Array, asked: PromptRowsAsked): string[] {
  const found: string[] = []
  asked.rows.forEach((row, i) => {
    const tokenId = asked.tokenIds[i]!
    const want = [...promptTokenLogprobs(logits, i, VOCAB, tokenId, asked.topNs[i]!)]
    const base = i * ranked.topStride
    const got = Array.from({length: ranked.topCounts[i]!}, (_, j) => [ranked.topIds[base + j]!, ranked.topLogprobs[base + j]!])
    const where = `entry ${i} (batch row ${row}, token ${tokenId})`
    try {
      assert.deepEqual(got, want)
      assert.equal(ranked.logprobs[i], want.find(([id]) => id === tokenId)![1])
      assert.equal(ranked.ranks[i], rankInRow(logits, i, VOCAB, tokenId))
    } catch (error) {
      found.push(`${where}: ${(error as Error).message.slice(0, 300)}`)
    }
  })
  return found
}

async function loadTiny(dir: string): Promise<NativeModel> {
  const {config, tensors} = await loadModel(dir)
  return loadNativeModel({config, tensors, numBlocks: 128, blockSize: BLOCK_SIZE, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu'})
}

/** One step of the prompts (all their tokens, the last row of each sampled), and every prompt row asked with a top N of `topNs` in turn. */
function promptStep(prompts: number[][], topNs: number[]) {
  const {batch} = buildStep(prompts.map((p) => ({sequence: new TestSequence(p), count: p.length, logits: 'last' as const})), new TestBlockPool(128), BLOCK_SIZE)
  const asked = {rows: [] as number[], tokenIds: [] as number[], topNs: [] as number[]}
  let first = 0
  for (const prompt of prompts) {
    for (let k = 0; k + 1 < prompt.length; k++) {
      asked.rows.push(first + k)
      asked.tokenIds.push(prompt[k + 1]!)
      asked.topNs.push(topNs[asked.rows.length % topNs.length]!)
    }
    first += prompt.length
  }
  return {batch, asked: {rows: Int32Array.from(asked.rows), tokenIds: Int32Array.from(asked.tokenIds), topNs: Int32Array.from(asked.topNs)}}
}

/**
 * Ranks the step's prompt rows in the step, and checks them against a plain step's logits of the same rows; the
 * sampled rows come back, and only they (with a sampling plan: its host row and samples), as a plain step gives them
 * (not on the host path: there they share the LM-head call, and so maybe its kernel, with the prompt rows).
 */
async function checkRankedStep(native: NativeModel, prompts: number[][], topNs: number[], onHost = false): Promise<void> {
  const {batch, asked} = promptStep(prompts, topNs)
  // Every run writes the same K/V to the same slots, so they all see the same cache.
  const reference = await native.step({}, {...batch, logitsIndices: asked.rows})
  const sampledRows = await native.step({}, batch)
  const ranked = await native.stepRanked({}, batch, null, asked)
  assert.deepEqual(differences(ranked.promptLogprobs, reference, asked), [])
  assert.equal(ranked.logits.length, sampledRows.length)
  if (!onHost) assert.deepEqual(ranked.logits, sampledRows)
  assert.equal(ranked.sampled, null)
  // The last sampled row greedily in the backend, the first one's logits back to JS.
  const last = batch.logitsIndices.length - 1
  const request = {row: last, params: makeSamplingParams({temperature: 0, logprobs: 2}), tokenIds: prompts.at(-1)!, promptLength: prompts.at(-1)!.length, seed: 0, stream: 0, suppressTokenIds: []}
  const sampling = encodeSampleRequests([request], [0])
  const plain = await native.stepAndSample({}, batch, sampling)
  const both = await native.stepRanked({}, batch, sampling, asked)
  assert.deepEqual(differences(both.promptLogprobs, reference, asked), [])
  assert.equal(both.logits.length, VOCAB)
  assert.equal(both.sampled!.tokenIds.length, 1)
  if (onHost) return
  assert.deepEqual(both.logits, plain.logits)
  assert.deepEqual(both.logits, sampledRows.subarray(0, VOCAB))
  assert.deepEqual(both.sampled, plain.sampled)
}

let tinyDir: string
before(async () => {
  tinyDir = await ensureTestModel('tiny')
})

// The host path (native/src/ranked_step.cpp: extra logits rows ranked on the host; CUDA's for a top N over 64), on the CPU backend.
describe('prompt logprobs ranked from extra logits rows (PAGEDLLM_PROMPT_RANKING=host)', () => {
  before(() => (process.env.PAGEDLLM_PROMPT_RANKING = 'host'))
  after(() => delete process.env.PAGEDLLM_PROMPT_RANKING)

  it('equal the reference, beside sampled rows', async () => {
    const native = await loadTiny(tinyDir)
    try {
      await checkRankedStep(native, [tokens(150, 1), tokens(12, 2)], [0, 1, 5, 20], true)
      await checkRankedStep(native, [tokens(9, 3)], [3], true)
    } finally {
      native.close()
    }
  })
})

describe('prompt logprobs ranked in the step', () => {
  it('equal the reference across chunk boundaries (149 rows: 64, 64, the last 64) and in one short chunk, beside sampled rows', async () => {
    const native = await loadTiny(tinyDir)
    try {
      await checkRankedStep(native, [tokens(150, 1), tokens(12, 2)], [0, 1, 5, 20])
      await checkRankedStep(native, [tokens(9, 3)], [3])
    } finally {
      native.close()
    }
  })

  it('equal it on rows with NaN and infinite logits', async () => {
    // lm_head row 3 all NaN (NaN in every row), row 7 +inf in one column (+inf or -inf with that hidden unit's sign).
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-prompt-ranking-'))
    try {
      cpSync(tinyDir, dir, {recursive: true})
      const head = readSafetensorsHeader(join(dir, 'model.safetensors')).find((t) => t.name === 'lm_head.weight')!
      assert.equal(head.dtype, 'F32')
      const hidden = head.shape[1]!
      const fd = openSync(head.path, 'r+')
      writeSync(fd, new Uint8Array(new Float32Array(hidden).fill(NaN).buffer), 0, hidden * 4, head.offset + 3 * hidden * 4)
      const infinite = new Float32Array(hidden)
      infinite[0] = Infinity
      writeSync(fd, new Uint8Array(infinite.buffer), 0, hidden * 4, head.offset + 7 * hidden * 4)
      closeSync(fd)
      const native = await loadTiny(dir)
      try {
        const prompt = tokens(70, 4).map((t, i) => (i % 5 === 1 ? 3 : i % 5 === 2 ? 7 : t)) // the NaN and the infinite tokens come next often
        await checkRankedStep(native, [prompt], [0, 20])
      } finally {
        native.close()
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('refuses rows outside the batch and tokens outside the vocabulary, naming them', async () => {
    const native = await loadTiny(tinyDir)
    try {
      const {batch} = promptStep([tokens(5, 5)], [0])
      const ask = (row: number, tokenId: number) => native.stepRanked({}, batch, null, {rows: Int32Array.of(row), tokenIds: Int32Array.of(tokenId), topNs: Int32Array.of(1)})
      await assert.rejects(ask(5, 1), /promptLogprobs: row 5 is outside the 5 tokens of the batch/)
      await assert.rejects(ask(0, VOCAB), /promptLogprobs: token id 512 is outside the vocabulary of 512/)
    } finally {
      native.close()
    }
  })

  describe('through the engine', () => {
    const original = NativeModel.prototype.stepRanked
    const mismatches: string[] = []
    const seen = {steps: 0, entries: 0, withSampling: 0}
    before(() => {
      // Each ranked step is checked against a plain step of its prompt rows run just before it (same K/V written).
      NativeModel.prototype.stepRanked = async function (moves, batch, sampling, asked) {
        const reference = await this.step(moves, {...batch, logitsIndices: asked.rows})
        const result = await original.call(this, {}, batch, sampling, asked)
        mismatches.push(...differences(result.promptLogprobs, reference, asked))
        const rowsBack = sampling ? sampling.hostRows.length : batch.logitsIndices.length
        if (result.logits.length !== rowsBack * VOCAB || batch.logitsIndices.length >= batch.queryStartLoc.length) mismatches.push('prompt rows came back as logits')
        seen.steps++
        seen.entries += asked.rows.length
        if (sampling) seen.withSampling++
        return result
      }
    })
    after(() => {
      NativeModel.prototype.stepRanked = original
    })

    it('chunked prefill, n / best_of and the prefix cache: every prompt position ranked once, as the reference', async () => {
      const engine = await LLMEngine.create(makeEngineConfig({
        modelPath: tinyDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 2, maxNumBatchedTokens: 64, enablePrefixCaching: true, hostOverlap: 'outputs',
      }))
      try {
        const long = tokens(150, 6)
        const params = (extra: object) => makeSamplingParams({maxTokens: 3, ignoreEos: true, ...extra})
        const results = await engine.generate([
          {prompt: long, params: params({temperature: 0, promptLogprobs: 5})},
          {prompt: tokens(40, 7), params: params({temperature: 0.8, seed: 1, n: 2, bestOf: 3, promptLogprobs: 2})},
          {prompt: long, params: params({temperature: 0})}, // shares the prefix, samples in the backend
          {prompt: [9], params: params({temperature: 0, promptLogprobs: 1})}, // nothing to rank
        ])
        // Again, once the prefix is cached: a prompt-logprobs request still computes (and ranks) every row.
        const [again] = await engine.generate([{prompt: long, params: params({temperature: 0, promptLogprobs: 5})}])
        assert.deepEqual(mismatches, [])
        assert.ok(seen.steps >= 4 && seen.withSampling > 0, JSON.stringify(seen))
        assert.equal(seen.entries, 2 * 149 + 39)
        for (const [result, prompt] of [[results[0]!, long], [results[1]!, tokens(40, 7)], [again!, long]] as const) {
          assert.equal(result.promptLogprobs!.length, prompt.length)
          assert.equal(result.promptLogprobs![0], null)
          result.promptLogprobs!.slice(1).forEach((entry, p) => assert.ok(entry!.has(prompt[p + 1]!), `position ${p + 1}`))
        }
        // Its steps hold other rows than the first run's, so the logits may move in the last bits, no more.
        again!.promptLogprobs!.slice(1).forEach((entry, p) => {
          const token = long[p + 1]!
          assert.ok(Math.abs(entry!.get(token)! - results[0]!.promptLogprobs![p + 1]!.get(token)!) < 1e-4, `position ${p + 1}`)
        })
        assert.deepEqual(results[3]!.promptLogprobs, [null])
        assert.equal(results[2]!.promptLogprobs, null)
      } finally {
        await engine.shutdown()
      }
    })
  })
})
