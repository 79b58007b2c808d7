// Holds a windowed test model (windows of 8) to the float64 reference's greedy tokens in a paged engine that crosses the
// window's edge every way: chunked prefill, prefix-cached blocks, copy-on-write forks and preemption (swap or recompute).
import assert from 'node:assert/strict'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {ReferenceModel} from './reference-model.js'

// Three prompts share a 30-token prefix (7 whole blocks of 4 the prefix cache hands on); n = 2 forks share their last block.
const prefix = Array.from({length: 30}, (_, i) => 1 + ((i * 53) % 400))
const PROMPTS = [[...prefix, 7, 8, 9], [...prefix, 11], [...prefix, 13, 14, 15, 16, 17], Array.from({length: 45}, (_, i) => 2 + ((i * 29) % 450)), [3, 4, 5]]
const MAX_TOKENS = 20

/** `expected`: each prompt's greedy tokens from elsewhere (transformers: scripts/transformers-fixture.py --windowed, which
 * copies these prompts); by default the float64 reference's. */
export async function checkWindowedEngine(variant: TestModelVariant, preemptionMode: 'recompute' | 'swap', expectedTokens?: number[][]): Promise<void> {
  const dir = await ensureTestModel('tiny', {variant})
  const reference = expectedTokens ? null : await ReferenceModel.load(dir)
  const expected = expectedTokens ?? PROMPTS.map((prompt) => reference!.greedy(prompt, MAX_TOKENS))
  const engine = await LLMEngine.create(makeEngineConfig({
    modelPath: dir, threads: 2, weightDtype: 'f32', blockSize: 4, numBlocks: 40, preemptionMode, enablePrefixCaching: true,
    enableChunkedPrefill: true, maxNumBatchedTokens: 12,
  }))
  try {
    const params = (n: number) => makeSamplingParams({temperature: 0, maxTokens: MAX_TOKENS, ignoreEos: true, n})
    // The first prompt alone fills the prefix cache; then all at once, more than 40 blocks of 4 hold.
    await engine.generate([{prompt: PROMPTS[0]!, params: params(1)}])
    const results = await engine.generate(PROMPTS.map((prompt, i) => ({prompt, params: params(i === 1 ? 2 : 1)})))
    results.forEach((result, i) => {
      for (const output of result.outputs) assert.deepEqual(output.tokenIds, expected[i], `${variant} prompt ${i}`)
    })
    const stats = engine.stats()
    assert.ok(stats.numPreemptions > 0, 'preemption happened')
    assert.ok(stats.prefixCacheHits > 0, 'the prefix cache was hit')
    engine.checkKvInvariants()
  } finally {
    await engine.shutdown()
  }
}
