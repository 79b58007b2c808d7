// End-to-end engine behaviour on a tiny seeded model: batching, preemption, sharing, beams, aborts, no leaks.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {ContextLengthError, InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {ReferenceModel} from './support/reference-model.js'
import {referenceBeamSearch} from './support/reference-beam-search.js'

let modelDir: string
let reference: ReferenceModel

function promptOf(length: number, salt: number): number[] {
  return Array.from({length}, (_, i) => 1 + ((i * 37 + salt * 101) % 250))
}

async function withEngine<T>(overrides: Partial<EngineConfig>, body: (engine: LLMEngine) => Promise<T>): Promise<T> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 1, ...overrides}))
  try {
    return await body(engine)
  } finally {
    await engine.shutdown()
  }
}

async function runAll(engine: LLMEngine, prompts: number[][], params: SamplingParams): Promise<number[][][]> {
  const results = await engine.generate(prompts.map((prompt) => ({prompt, params})))
  return results.map((result) => result.outputs.map((output) => output.tokenIds))
}

/** Used blocks with cached-but-free prefix blocks counted as free: what must return to zero after a workload. */
function usedBlocks(engine: LLMEngine): number {
  return engine.stats().kv.usedBlocks
}

function logSoftmax(logits: Float64Array): Float64Array {
  const max = Math.max(...logits)
  const logSum = Math.log(logits.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max
  return logits.map((value) => value - logSum)
}

const greedy = (maxTokens: number) => makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})

describe('LLMEngine', () => {
  before(async () => {
    modelDir = await ensureTestModel('tiny')
    reference = await ReferenceModel.load(modelDir)
  })
  after(() => {})

  it('greedy output equals the float64 reference, alone and batched', async () => {
    const prompts = [promptOf(5, 1), promptOf(23, 2), promptOf(40, 3), promptOf(9, 4)]
    const expected = prompts.map((prompt) => reference.greedy(prompt, 12))
    await withEngine({}, async (engine) => {
      const alone = (await runAll(engine, [prompts[1]!], greedy(12)))[0]![0]
      assert.deepEqual(alone, expected[1])
      const batched = await runAll(engine, prompts, greedy(12))
      assert.deepEqual(batched.map((outputs) => outputs[0]), expected)
      assert.equal(usedBlocks(engine), 0, 'all blocks free after the workload')
    })
  })

  it('chunked prefill and a small token budget give the same tokens', async () => {
    const prompts = [promptOf(70, 5), promptOf(33, 6), promptOf(3, 7)]
    const expected = prompts.map((prompt) => reference.greedy(prompt, 8))
    await withEngine({maxNumBatchedTokens: 16}, async (engine) => {
      assert.deepEqual((await runAll(engine, prompts, greedy(8))).map((o) => o[0]), expected)
    })
  })

  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`preempted sequences (${preemptionMode}) produce the tokens they would have produced anyway`, async () => {
      const prompts = Array.from({length: 8}, (_, i) => promptOf(20 + 3 * i, 10 + i))
      const sampled = makeSamplingParams({temperature: 0.9, topP: 0.95, seed: 7, maxTokens: 40, ignoreEos: true})
      const roomy = await withEngine({}, (engine) => runAll(engine, prompts, sampled))
      const greedyRoomy = await withEngine({}, (engine) => runAll(engine, prompts, greedy(40)))
      // 24 blocks of 16 tokens cannot hold 8 sequences of ~90 tokens: the scheduler must preempt.
      await withEngine({numBlocks: 24, preemptionMode, enablePrefixCaching: false}, async (engine) => {
        const preempted = await runAll(engine, prompts, sampled)
        const preemptionsSampled = engine.stats().numPreemptions
        const greedyTight = await runAll(engine, prompts, greedy(40))
        assert.ok(engine.stats().numPreemptions > preemptionsSampled && preemptionsSampled > 0, 'preemption happened')
        assert.deepEqual(preempted, roomy)
        assert.deepEqual(greedyTight, greedyRoomy)
        assert.equal(usedBlocks(engine), 0)
      })
    })
  }

  it('n = 4 parallel samples share the prompt blocks: fewer blocks than 4 separate requests', async () => {
    const prompt = promptOf(100, 20)
    const peak = async (requests: Array<{prompt: number[]; params: SamplingParams}>) =>
      withEngine({enablePrefixCaching: false}, async (engine) => {
        let max = 0
        engine.onStep((stats: StepStats) => (max = Math.max(max, stats.kv.usedBlocks)))
        await engine.generate(requests)
        assert.equal(usedBlocks(engine), 0)
        return max
      })
    const params = {temperature: 1, seed: 3, maxTokens: 20, ignoreEos: true}
    const shared = await peak([{prompt, params: makeSamplingParams({...params, n: 4})}])
    const separate = await peak([0, 1, 2, 3].map((i) => ({prompt, params: makeSamplingParams({...params, seed: i})})))
    assert.ok(shared < separate, `n=4 peak ${shared} blocks vs 4 requests ${separate}`)
  })

  it('n samples with the same seed are reproducible, and best_of returns the n best', async () => {
    const prompt = promptOf(12, 30)
    const params = makeSamplingParams({temperature: 1, seed: 11, n: 2, bestOf: 4, maxTokens: 10, ignoreEos: true})
    await withEngine({}, async (engine) => {
      const [first] = await engine.generate([{prompt, params}])
      const [second] = await engine.generate([{prompt, params}])
      assert.equal(first!.outputs.length, 2)
      assert.deepEqual(first!.outputs.map((o) => o.tokenIds), second!.outputs.map((o) => o.tokenIds))
      assert.ok(first!.outputs[0]!.cumulativeLogprob >= first!.outputs[1]!.cumulativeLogprob)
    })
  })

  it('beam search equals a reference beam search on the reference model', async () => {
    const prompt = promptOf(10, 40)
    for (const lengthPenalty of [1, 0.5]) {
      const expected = referenceBeamSearch((tokens) => logSoftmax(reference.nextLogits(tokens)), prompt, {
        beamWidth: 3,
        n: 3,
        maxTokens: 8,
        lengthPenalty,
        earlyStopping: false,
        eosTokenIds: [],
      })
      await withEngine({}, async (engine) => {
        const params = makeSamplingParams({useBeamSearch: true, bestOf: 3, n: 3, temperature: 0, maxTokens: 8, lengthPenalty, ignoreEos: true})
        const [result] = await engine.generate([{prompt, params}])
        assert.deepEqual(result!.outputs.map((o) => o.tokenIds), expected.map((h) => h.tokenIds))
        assert.equal(usedBlocks(engine), 0)
      })
    }
  })

  it('prefix caching reuses blocks of a repeated prompt and gives the same tokens', async () => {
    const prompt = promptOf(64, 50)
    await withEngine({}, async (engine) => {
      const [first] = await runAll(engine, [prompt], greedy(6))
      const [second] = await runAll(engine, [prompt], greedy(6))
      assert.deepEqual(second, first)
      // 64 tokens = 4 full blocks; the repeat reuses all but the last (it must compute one token): 48 of 128 queried.
      assert.equal(engine.stats().prefixCacheHitRate, 48 / 128)
      assert.equal(usedBlocks(engine), 0)
    })
  })

  it('stop strings, stop tokens, min_tokens and max_tokens end sequences with the right reason', async () => {
    const prompt = promptOf(8, 60)
    await withEngine({}, async (engine) => {
      const [free] = await engine.generate([{prompt, params: greedy(10)}])
      const tokens = free!.outputs[0]!.tokenIds
      assert.equal(free!.outputs[0]!.finishReason, 'length')
      const [stopped] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens: 10, stopTokenIds: [tokens[3]!]})}])
      const firstStop = tokens.indexOf(tokens[3]!)
      assert.equal(stopped!.outputs[0]!.finishReason, 'stop')
      assert.equal(stopped!.outputs[0]!.stopReason, tokens[3])
      assert.deepEqual(stopped!.outputs[0]!.tokenIds, tokens.slice(0, firstStop + 1))
      const [atLeast] = await engine.generate([
        {prompt, params: makeSamplingParams({temperature: 0, maxTokens: 10, minTokens: 10, stopTokenIds: [tokens[3]!]})},
      ])
      assert.equal(atLeast!.outputs[0]!.tokenIds.length, 10)
      const text = free!.outputs[0]!.text
      const stopString = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2)
      if (stopString.trim().length > 0) {
        const [byString] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens: 10, stop: [stopString]})}])
        assert.equal(byString!.outputs[0]!.finishReason, 'stop')
        assert.equal(byString!.outputs[0]!.text, text.slice(0, text.indexOf(stopString)))
      }
    })
  })

  for (const hostOverlap of ['none', 'outputs', 'async'] as const) {
    it(`text is the decode of the returned tokens, streamed as growing prefixes, with and without stop strings (hostOverlap ${hostOverlap})`, async () => {
      // Without stop strings the text is made when the engine publishes (with overlap, while the next step runs); with them, per token.
      await withEngine({hostOverlap}, async (engine) => {
        const sampled = {temperature: 1, maxTokens: 24, ignoreEos: true, skipSpecialTokens: false}
        const requests = [
          {prompt: promptOf(9, 80), params: makeSamplingParams({...sampled, seed: 1})},
          {prompt: promptOf(5, 81), params: makeSamplingParams({...sampled, seed: 2, n: 2, bestOf: 3})},
          {prompt: promptOf(7, 82), params: makeSamplingParams({...sampled, seed: 3, stop: ['\u0000never']})},
        ]
        const handles = requests.map((request) => engine.addRequest(request))
        const finals = await Promise.all(
          handles.map(async (handle) => {
            const seen: string[] = []
            let last
            for await (const output of handle) {
              seen.push(output.outputs[0]!.text)
              last = output
            }
            return {last: last!, seen}
          }),
        )
        // The prompt's text is cut from a decode of prompt + output: SentencePiece keeps the space a token starts with only after other text.
        const decode = (ids: number[]) => engine.tokenizer.decode(ids, {skipSpecialTokens: false})
        finals.forEach(({last, seen}, i) => {
          const prompt = requests[i]!.prompt
          for (const output of last.outputs) assert.equal(output.text, decode([...prompt, ...output.tokenIds]).slice(decode(prompt).length))
          const final = last.outputs[0]!.text
          if (last.outputs.length === 1) for (const text of seen) assert.ok(final.startsWith(text), `streamed ${JSON.stringify(text)} is not a prefix of ${JSON.stringify(final)}`)
        })
        assert.equal(usedBlocks(engine), 0)
      })
    })

    it(`abort frees a running request at once (hostOverlap ${hostOverlap})`, async () => {
      await withEngine({hostOverlap}, async (engine) => {
        const handle = engine.addRequest({prompt: promptOf(30, 70), params: greedy(200)})
        let seen = 0
        for await (const output of handle) {
          if (++seen === 3) handle.abort()
          if (output.finished) {
            assert.equal(output.outputs[0]!.finishReason, 'abort')
          }
        }
        assert.equal(engine.stats().numRunning, 0)
        assert.equal(usedBlocks(engine), 0)
      })
    })
  }

  it('rejects prompts longer than the context, empty prompts and out-of-vocabulary ids', async () => {
    await withEngine({maxModelLen: 64}, async (engine) => {
      assert.throws(() => engine.addRequest({prompt: promptOf(60, 1), params: greedy(10)}), ContextLengthError)
      assert.throws(() => engine.addRequest({prompt: [], params: greedy(10)}), InvalidRequestError)
      assert.throws(() => engine.addRequest({prompt: [1, 2, 999999], params: greedy(10)}), InvalidRequestError)
      assert.throws(() => engine.addRequest({prompt: [1, undefined as unknown as number, 3], params: greedy(10)}), /token id undefined is outside/)
      assert.throws(() => engine.addRequest({prompt: [1, 2.5], params: greedy(10)}), InvalidRequestError)
      assert.equal(usedBlocks(engine), 0)
    })
  })

  it('every policy generates identical tokens', async () => {
    const prompts = [promptOf(17, 80), promptOf(41, 81), promptOf(5, 82)]
    const outputs = []
    for (const policy of ['paged', 'contiguous', 'orca-max', 'orca-pow2', 'orca-oracle'] as const) {
      outputs.push(await withEngine({policy, maxModelLen: 256}, async (engine) => {
        const result = await runAll(engine, prompts, greedy(9))
        assert.equal(usedBlocks(engine), 0, `${policy} leaks no block`)
        return result
      }))
    }
    for (const other of outputs.slice(1)) assert.deepEqual(other, outputs[0])
  })
})
