// GPU check of prompt logprobs ranked on the device (native/cuda/device_prompt_ranker.h): one CUDA step of two prompts
// (300 + 12 tokens: 309 prompt rows after the 2 sampled rows, so they cross an LM-head chunk of 256) with every prompt
// row asked (top N 0 / 1 / 5 / 20), against the same step ranked on the host by the CPU code
// (PAGEDLLM_PROMPT_RANKING=host: the same device logits), and against the CPU backend's step (fp32, logprob tolerance).
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {loadNativeModel, type NativeModel, type PromptLogprobArrays, type PromptRowsAsked} from '../../src/engine/native.js'
import {encodeSampleRequests} from '../../src/engine/native-sampling.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {TestBlockPool, TestSequence, buildStep} from '../../test/support/paged-batch.js'
import {relError, type Reporter} from './compare-outputs.js'

const BLOCK_SIZE = 16

function promptStep(prompts: number[][], topNs: number[]) {
  const parts = prompts.map((p) => ({sequence: new TestSequence(p), count: p.length, logits: 'last' as const}))
  const {batch} = buildStep(parts, new TestBlockPool(64), BLOCK_SIZE)
  const rows: number[] = [], tokenIds: number[] = [], ns: number[] = []
  let first = 0
  for (const prompt of prompts) {
    for (let k = 0; k + 1 < prompt.length; k++) {
      rows.push(first + k)
      tokenIds.push(prompt[k + 1]!)
      ns.push(topNs[rows.length % topNs.length]!)
    }
    first += prompt.length
  }
  const asked: PromptRowsAsked = {rows: Int32Array.from(rows), tokenIds: Int32Array.from(tokenIds), topNs: Int32Array.from(ns)}
  return {batch, asked}
}

/** Entries whose rank, top ids or top count differ, and the largest logprob difference (token's and top ones). */
function compare(got: PromptLogprobArrays, want: PromptLogprobArrays): {mismatches: number; maxError: number} {
  let mismatches = 0, maxError = 0
  const error = (a: number, b: number) => (Object.is(a, b) ? 0 : Number.isFinite(a) && Number.isFinite(b) ? Math.abs(a - b) : Infinity)
  for (let i = 0; i < want.ranks.length; i++) {
    maxError = Math.max(maxError, error(got.logprobs[i]!, want.logprobs[i]!))
    if (got.ranks[i] !== want.ranks[i] || got.topCounts[i] !== want.topCounts[i]) mismatches += 1
    for (let j = 0; j < want.topCounts[i]!; j++) {
      const at = i * want.topStride + j
      if (got.topIds[i * got.topStride + j] !== want.topIds[at]) mismatches += 1
      maxError = Math.max(maxError, error(got.topLogprobs[i * got.topStride + j]!, want.topLogprobs[at]!))
    }
  }
  return {mismatches, maxError}
}

async function ranked(native: NativeModel, onHost: boolean, prompts: number[][], topNs: number[], greedy: boolean) {
  const {batch, asked} = promptStep(prompts, topNs)
  const request = {row: 1, params: makeSamplingParams({temperature: 0, logprobs: 2}), tokenIds: prompts[1]!, promptLength: prompts[1]!.length,
    seed: 0, stream: 0, suppressTokenIds: []}
  if (onHost) process.env.PAGEDLLM_PROMPT_RANKING = 'host'
  try {
    return await native.stepRanked({}, batch, greedy ? encodeSampleRequests([request], [0]) : null, asked)
  } finally {
    delete process.env.PAGEDLLM_PROMPT_RANKING
  }
}

export async function promptRankingCheck(model: LoadedModel, results: Reporter, logprobTolerance: number): Promise<void> {
  const vocab = model.config.vocabSize
  let state = 7
  const token = () => 1 + ((state = (state * 1103515245 + 12345) % 2 ** 31) % (vocab - 1))
  const prompts = [Array.from({length: 300}, token), Array.from({length: 12}, token)]
  const open = (device: 'cpu' | 'cuda') => loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: BLOCK_SIZE,
    numSwapBlocks: 0, threads: 0, weightFormat: device === 'cuda' ? 'bf16' : 'f32', device})
  const gpu = await open('cuda')
  const cpu = await open('cpu')
  try {
    for (const greedy of [false, true]) {
      const device = await ranked(gpu, false, prompts, [0, 1, 5, 20], greedy)
      const host = await ranked(gpu, true, prompts, [0, 1, 5, 20], greedy)
      const same = compare(device.promptLogprobs, host.promptLogprobs)
      const what = `prompt ranking on the device vs host ranking of the same logits${greedy ? ' (+ a greedy sample)' : ''}`
      results.check(`${what}: rank / top-id mismatches`, same.mismatches, 0)
      results.check(`${what}: max |logprob diff|`, same.maxError, 1e-5)
      // Both paths run the same LM-head rows on the device: the rows handed back are the same bits.
      results.check(`${what}: the step's own logits rows`, relError(device.logits, host.logits), 0)
      results.check(`${what}: sampled token differs`, Number(device.sampled?.tokenIds[0] !== host.sampled?.tokenIds[0]), 0)
      const reference = await ranked(cpu, false, prompts, [0, 1, 5, 20], greedy)
      results.check(`prompt logprobs CUDA (bf16) vs CPU backend (fp32)${greedy ? ' (+ a greedy sample)' : ''}: max |token logprob diff|`,
        Math.max(...device.promptLogprobs.logprobs.map((v, i) => Math.abs(v - reference.promptLogprobs.logprobs[i]!))), logprobTolerance)
    }
    // A top N over the kernel's 64 declines to the host path: the same answers as forcing it.
    const wide = await ranked(gpu, false, [prompts[1]!, prompts[1]!.slice(0, 5)], [100, 3], false)
    const wideHost = await ranked(gpu, true, [prompts[1]!, prompts[1]!.slice(0, 5)], [100, 3], false)
    const widened = compare(wide.promptLogprobs, wideHost.promptLogprobs)
    results.check('prompt ranking with a top N of 100 (host path): mismatches + max |logprob diff|', widened.mismatches + widened.maxError, 0)
  } finally {
    gpu.close()
    cpu.close()
  }
}
