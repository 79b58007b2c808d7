// Requests through a whole LLMEngine on a tiny test model, for the families' engine-level checks (chunked prefill, n,
// preemption): f32 weights, 2 threads and 4 MiB of KV unless the overrides say otherwise.
import assert from 'node:assert/strict'
import {makeEngineConfig, type EngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../../src/engine/sampling-params.js'

/** Greedy sampling of 8 tokens past EOS, `n` of them per request. */
export const greedyParams = (n = 1): SamplingParams => makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true, n})

/**
 * Each prompt's outputs' tokens (outputs[request][output]) and the engine's preemptions, after checking the KV cache's
 * invariants and that every block came back.
 */
export async function tinyEngineRun(variant: TestModelVariant, prompts: number[][], params: SamplingParams, overrides: Partial<EngineConfig> = {}): Promise<{outputs: number[][][]; preemptions: number}> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny', {variant}), kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32', ...overrides}))
  try {
    const results = await engine.generate(prompts.map((prompt) => ({prompt, params})))
    engine.checkKvInvariants()
    assert.equal(engine.stats().kv.usedBlocks, 0)
    return {outputs: results.map((r) => r.outputs.map((o) => o.tokenIds)), preemptions: engine.stats().numPreemptions}
  } finally {
    await engine.shutdown()
  }
}
