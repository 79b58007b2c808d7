// Holds a windowed test model (windows of 8) in a paged engine to the tokens each request gets alone: chunked prefill,
// prefix-cached blocks, copy-on-write forks and preemption (recompute, then swap) in a pool of 30 blocks of 4.
import assert from 'node:assert/strict'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'

// A 30-token prefix the prefix cache hands on, prompts past the window of 8, 20 tokens each.
const prefix = Array.from({length: 30}, (_, i) => 1 + ((i * 53) % 400))
const PROMPTS = [[...prefix, 7, 8, 9], [...prefix, 11], Array.from({length: 45}, (_, i) => 2 + ((i * 29) % 450)), [3, 4, 5]]
const params = (n: number) => makeSamplingParams({temperature: 0, maxTokens: 20, ignoreEos: true, n})

export async function checkPagedMatchesAlone(variant: TestModelVariant): Promise<void> {
  const dir = await ensureTestModel('tiny', {variant})
  const alone = await LLMEngine.create(makeEngineConfig({modelPath: dir, threads: 2, weightDtype: 'f32', kvMemoryBytes: 4 << 20}))
  const expected: number[][] = []
  try {
    for (const prompt of PROMPTS) expected.push((await alone.generate([{prompt, params: params(1)}]))[0]!.outputs[0]!.tokenIds)
  } finally {
    await alone.shutdown()
  }
  for (const preemptionMode of ['recompute', 'swap'] as const) {
    const engine = await LLMEngine.create(makeEngineConfig({
      modelPath: dir, threads: 2, weightDtype: 'f32', blockSize: 4, numBlocks: 30, preemptionMode, enablePrefixCaching: true,
      enableChunkedPrefill: true, maxNumBatchedTokens: 12,
    }))
    try {
      // The first prompt alone fills the prefix cache; then all at once, n = 2 on the second.
      await engine.generate([{prompt: PROMPTS[0]!, params: params(1)}])
      const results = await engine.generate(PROMPTS.map((prompt, i) => ({prompt, params: params(i === 1 ? 2 : 1)})))
      results.forEach((result, i) => {
        for (const output of result.outputs) assert.deepEqual(output.tokenIds, expected[i], `${preemptionMode} prompt ${i}`)
      })
      const stats = engine.stats()
      assert.ok(stats.numPreemptions > 0 && stats.prefixCacheHits > 0, `${preemptionMode}: preempted and prefix-cached`)
      engine.checkKvInvariants()
    } finally {
      await engine.shutdown()
    }
  }
}
