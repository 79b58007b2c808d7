// Admission refuses what the scheduler could never run (naming the limit), the pool bounds the context, and the watchdog ends stuck loops.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig, type KvPolicy} from '../src/engine/config.js'
import {InvalidRequestError, PagedLLMError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'

let modelDir: string
const prompt = Array.from({length: 10}, (_, i) => 1 + i)

async function withEngine<T>(overrides: Partial<EngineConfig>, body: (engine: LLMEngine) => Promise<T>): Promise<T> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 8 << 20, threads: 1, ...overrides}))
  try {
    return await body(engine)
  } finally {
    await engine.shutdown()
  }
}

/** addRequest must throw a 400 at once (no step runs) whose message names `limit`, and leave nothing queued. */
function assertRefused(engine: LLMEngine, params: SamplingParams, limit: RegExp, param: string): void {
  assert.throws(
    () => engine.addRequest({prompt, params}),
    (error: unknown) => {
      assert.ok(error instanceof InvalidRequestError, `expected an InvalidRequestError, got ${String(error)}`)
      assert.equal(error.httpStatus, 400)
      assert.equal(error.param, param)
      assert.match(error.message, limit)
      return true
    },
  )
  const stats = engine.stats()
  assert.equal(stats.numWaiting + stats.numRunning + stats.numSwapped, 0)
  assert.equal(stats.kv.usedBlocks, 0)
}

describe('admission refuses requests the scheduler can never run', () => {
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('n, best_of and beam width above --max-num-seqs', async () => {
    await withEngine({}, async (engine) => {
      assertRefused(engine, makeSamplingParams({n: 257, maxTokens: 4}), /n 257 exceeds --max-num-seqs 256/, 'n')
    })
    await withEngine({maxNumSeqs: 8}, async (engine) => {
      assertRefused(engine, makeSamplingParams({n: 9, maxTokens: 4}), /n 9 exceeds --max-num-seqs 8/, 'n')
      assertRefused(engine, makeSamplingParams({n: 1, bestOf: 9, maxTokens: 4}), /best_of 9 exceeds --max-num-seqs 8/, 'best_of')
      assertRefused(engine, makeSamplingParams({useBeamSearch: true, n: 9, temperature: 0, maxTokens: 4}), /beam width 9 exceeds --max-num-seqs 8/, 'n')
      // At the limit it runs to the end.
      const result = await engine.addRequest({prompt, params: makeSamplingParams({n: 8, maxTokens: 3, ignoreEos: true})}).result()
      assert.equal(result.outputs.length, 8)
    })
  })

  // 8 blocks of 16 tokens = 128 tokens: each request below fits the context but not the pool under its policy.
  const oversized: Array<[KvPolicy, Partial<SamplingParams>, RegExp]> = [
    ['paged', {n: 4, maxTokens: 100}, /needs up to 31 KV blocks .* but the KV cache has 8 blocks of 16 tokens/],
    ['contiguous', {n: 2, maxTokens: 10}, /contiguous policy reserves 2 x 8 KV blocks .* the KV cache has 8 blocks/],
    ['orca-max', {n: 2, maxTokens: 10}, /orca-max policy reserves 2 x 8 KV blocks/],
    ['orca-pow2', {n: 2, maxTokens: 100}, /orca-pow2 policy reserves 2 x 8 KV blocks/],
    ['orca-oracle', {n: 2, maxTokens: 100}, /orca-oracle policy reserves 2 x 7 KV blocks/],
  ]
  for (const [policy, params, limit] of oversized) {
    it(`a reservation larger than the pool under ${policy}`, async () => {
      await withEngine({numBlocks: 8, blockSize: 16, policy}, async (engine) => {
        assertRefused(engine, makeSamplingParams({...params, maxTokens: params.maxTokens}), limit, 'max_tokens')
        // The same request with one sequence fits, and runs.
        const result = await engine.addRequest({prompt, params: makeSamplingParams({maxTokens: 5, ignoreEos: true})}).result()
        assert.equal(result.outputs[0]!.tokenIds.length, 5)
      })
    })
  }

  it('a prompt over --max-num-batched-tokens when chunked prefill is off', async () => {
    await withEngine({enableChunkedPrefill: false, maxNumBatchedTokens: 8}, async (engine) => {
      assertRefused(engine, makeSamplingParams({maxTokens: 2}), /needs 10 tokens in one step but --max-num-batched-tokens is 8 and chunked prefill is off/, 'prompt')
    })
  })
})

describe('over HTTP', () => {
  it('answers 400 at once for {"prompt":"hi","n":257}, and keeps serving', async () => {
    await withEngine({}, async (engine) => {
      const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: '0', log: () => {}})
      const {url} = await server.listen()
      server.attachEngine(engine)
      try {
        const post = (body: unknown) => fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
        const response = await post({prompt: 'hi', n: 257, max_tokens: 2})
        assert.equal(response.status, 400)
        const {error} = (await response.json()) as {error: {message: string; param: string; type: string}}
        assert.equal(error.type, 'invalid_request_error')
        assert.equal(error.param, 'n')
        assert.match(error.message, /--max-num-seqs 256/)
        assert.equal((await post({prompt: 'hi', max_tokens: 2})).status, 200)
        assert.equal((await fetch(`${url}/health`)).status, 200)
      } finally {
        await server.shutdown(0)
      }
    })
  })
})

describe('the KV pool bounds the context', () => {
  it('lowers the model default to the pool and says so', async () => {
    await withEngine({numBlocks: 8, blockSize: 16}, async (engine) => {
      assert.equal(engine.maxModelLen, 128)
      assert.match(engine.notes.join('\n'), /max-model-len lowered from the model's 512 to 128: the KV cache holds 8 blocks x 16 tokens = 128 tokens/)
    })
  })

  it('refuses an explicit --max-model-len the pool cannot hold, naming both', async () => {
    await assert.rejects(
      LLMEngine.create(makeEngineConfig({modelPath: modelDir, numBlocks: 8, blockSize: 16, maxModelLen: 512, threads: 1})),
      (error: unknown) =>
        error instanceof InvalidRequestError && error.param === 'max-model-len' && /--max-model-len 512 does not fit the KV cache: .* 128 tokens\. Raise --num-blocks/.test(error.message),
    )
  })

  it('lowers a --max-model-len past the model\'s positions to them and says so', async () => {
    await withEngine({maxModelLen: 100_000}, async (engine) => {
      assert.equal(engine.maxModelLen, 512)
      assert.match(engine.notes.join('\n'), /max-model-len lowered from the requested 100000 to the model's 512 \(max_position_embeddings\)/)
      assert.throws(() => engine.addRequest({prompt: 'hi', params: makeSamplingParams({maxTokens: 600})}), /maximum context length is 512 tokens/)
    })
  })
})

describe('engine watchdog', () => {
  it('fails queued work and reports unhealthy when steps schedule nothing, then recovers', async () => {
    await withEngine({}, async (engine) => {
      const scheduler = (engine as unknown as {scheduler: {schedule: (now: number) => unknown; waiting: unknown[]; running: unknown[]}}).scheduler
      const realSchedule = scheduler.schedule.bind(scheduler)
      // A stuck scheduler, as with a group wider than --max-num-seqs: it runs, yet no step schedules it.
      scheduler.schedule = () => {
        scheduler.running.push(...scheduler.waiting.splice(0))
        return {scheduled: [], blockCopies: [], swapOut: [], swapIn: [], swappedOut: [], rejected: [], numPreempted: 0}
      }
      const stuck = engine.addRequest({prompt, params: makeSamplingParams({maxTokens: 4})})
      await assert.rejects(stuck.result(), (error: unknown) => error instanceof PagedLLMError && error.code === 'engine_stalled' && error.httpStatus === 500)
      const health = engine.health()
      assert.equal(health.healthy, false)
      assert.match(health.healthy ? '' : health.reason, /100 steps in a row that scheduled nothing while 0 waiting, 1 running/)
      assert.equal(engine.stats().numRunning, 0)
      assert.equal(engine.stats().kv.usedBlocks, 0)
      scheduler.schedule = realSchedule
      const result = await engine.addRequest({prompt, params: makeSamplingParams({maxTokens: 2, ignoreEos: true})}).result()
      assert.equal(result.outputs[0]!.tokenIds.length, 2)
      assert.deepEqual(engine.health(), {healthy: true})
    })
  })
})
