// Holds a test-model variant batch-invariant in the engine: each request alone gives the tokens and logprobs it gives
// batched with the others, with chunked prefill splitting the prompts (greedy and seeded samples alternate).
import assert from 'node:assert/strict'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'

export async function checkBatchInvariant(variant: TestModelVariant, shape: {requests: number; promptStep: number; maxTokens: number}): Promise<void> {
  const {maxTokens} = shape
  const requests = Array.from({length: shape.requests}, (_, i) => ({
    prompt: Array.from({length: 5 + shape.promptStep * i}, (_, t) => 1 + ((t * 37 + i * 101) % 500)),
    params: makeSamplingParams(i % 2 === 0 ? {temperature: 0, maxTokens, ignoreEos: true, logprobs: 2} : {temperature: 0.8, seed: 7 + i, maxTokens, ignoreEos: true, logprobs: 2}),
  }))
  const engine = await LLMEngine.create(makeEngineConfig({
    modelPath: await ensureTestModel('tiny', {variant}), kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32', batchInvariant: true,
    maxNumBatchedTokens: 24, enableChunkedPrefill: true,
  }))
  try {
    await assertBatchedAsAlone(engine, requests)
  } finally {
    await engine.shutdown()
  }
}

/** `requests` generated all at once give the tokens and logprobs each gives alone (run first, one by one). */
export async function assertBatchedAsAlone(engine: LLMEngine, requests: Parameters<LLMEngine['generate']>[0]): Promise<void> {
  const outputs = (results: Awaited<ReturnType<LLMEngine['generate']>>) => results.map((r) => r.outputs.map((o) => ({tokens: o.tokenIds, logprobs: o.logprobs})))
  const alone = []
  for (const request of requests) alone.push(...outputs(await engine.generate([request])))
  assert.deepEqual(outputs(await engine.generate(requests)), alone)
}
