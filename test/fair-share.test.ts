// Fair share (fair-share.ts): a request holding every sequence slot gives some up, so one that arrives after it gets
// its first token within a few engine steps; both finish with the tokens they get alone, and no KV block leaks.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {RequestHandle, RequestOutput} from '../src/engine/request-output.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {comparable, fuzzEngineConfig} from './support/engine-fuzz-run.js'
import {post, sseEvents, startTinyEngineServer, waitFor} from './support/server-harness.js'

const MAX_NUM_SEQS = 8
/** Steps from the small request's arrival to its first token: admission, prefill, and the step in flight around them. */
const FIRST_TOKEN_STEPS = 4
const bigPrompt = Array.from({length: 20}, (_, i) => 3 + i)
const smallPrompt = [7, 8, 9, 10, 11]

let modelDir: string
/**
 * 4 MiB of swap: 2,048 host blocks, more than every sequence here holds at once, so a swap never finds it full; the
 * default 1 GiB was 524,288 blocks to build per engine and walk at each invariant check.
 */
const SWAP = {swapSpaceBytes: 4 << 20}

/**
 * How many engine steps the small request waited for its first token, and both results: the small one arrives once
 * the big one has `arriveAfter` tokens in a sample (by then its samples are forked and decoding, holding their slots).
 */
async function contend(config: Partial<EngineConfig>, big: Partial<SamplingParams>, small: Partial<SamplingParams>, arriveAfter = 1, prompt = smallPrompt) {
  const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {...SWAP, maxNumSeqs: MAX_NUM_SEQS, numBlocks: 128, blockSize: 4, ...config}))
  try {
    let steps = 0
    engine.onStep(() => steps++)
    const bigHandle = engine.addRequest({prompt: bigPrompt, params: makeSamplingParams(big)})
    const bigDone = bigHandle.result()
    await firstTokens(bigHandle, arriveAfter)
    const arrival = steps
    const smallHandle = engine.addRequest({prompt, params: makeSamplingParams(small)})
    await firstTokens(smallHandle, 1)
    const waited = steps - arrival
    const [bigOut, smallOut] = await Promise.all([bigDone, smallHandle.result()])
    assert.equal(engine.stats().kv.usedBlocks, 0, 'every block is back')
    engine.checkKvInvariants()
    return {waited, big: bigOut, small: smallOut, preemptions: engine.stats().numPreemptions}
  } finally {
    await engine.shutdown()
  }
}

async function firstTokens(handle: RequestHandle, count: number): Promise<void> {
  for await (const output of handle) if (output.outputs.some((o) => o.tokenIds.length >= count)) return
}

async function alone(params: Partial<SamplingParams>, prompt: number[]): Promise<RequestOutput> {
  const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {...SWAP, numBlocks: 256, blockSize: 4}))
  try {
    return await engine.addRequest({prompt, params: makeSamplingParams(params)}).result()
  } finally {
    await engine.shutdown()
  }
}

describe('fair share of the sequence slots', () => {
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  const cases: Array<[string, Partial<SamplingParams>]> = [
    ['n = --max-num-seqs, seeded', {n: MAX_NUM_SEQS, temperature: 1, seed: 11}],
    ['best_of = --max-num-seqs, greedy n = 2', {n: 2, bestOf: MAX_NUM_SEQS, temperature: 0}],
  ]
  for (const [name, parallel] of cases) {
    it(`${name}: a later request starts within ${FIRST_TOKEN_STEPS} steps, both give their tokens alone`, async () => {
      const big = {...parallel, maxTokens: 40, ignoreEos: true}
      const small = {maxTokens: 6, temperature: 1, seed: 5, ignoreEos: true}
      const run = await contend({}, big, small)
      assert.ok(run.waited <= FIRST_TOKEN_STEPS, `the small request waited ${run.waited} steps`)
      assert.ok(run.preemptions > 0)
      assert.equal(run.small.outputs[0]!.tokenIds.length, 6)
      for (const output of run.big.outputs) assert.equal(output.tokenIds.length, 40)
      assert.deepEqual(comparable(run.big), comparable(await alone(big, bigPrompt)))
      assert.deepEqual(comparable(run.small), comparable(await alone(small, smallPrompt)))
    })
  }

  it('without it (--no-fair-share) the later request waits for the big one to end', async () => {
    const run = await contend({fairShare: false}, {n: MAX_NUM_SEQS, maxTokens: 40, ignoreEos: true}, {maxTokens: 6, ignoreEos: true})
    assert.ok(run.waited > 30, `the small request waited only ${run.waited} steps`)
  })

  it('a beam search as wide as --max-num-seqs yields whole and still finishes as alone', async () => {
    const beams = {n: MAX_NUM_SEQS, useBeamSearch: true, temperature: 0, maxTokens: 30, ignoreEos: true}
    const small = {maxTokens: 4, temperature: 0, ignoreEos: true}
    const run = await contend({}, beams, small)
    // A beam search runs BEAM_STEPS_BETWEEN_YIELDS steps after admission before it yields.
    assert.ok(run.waited <= 16 + FIRST_TOKEN_STEPS, `the small request waited ${run.waited} steps`)
    assert.deepEqual(comparable(run.big), comparable(await alone(beams, bigPrompt)))
    assert.deepEqual(comparable(run.small), comparable(await alone(small, smallPrompt)))
  })

  it('KV blocks: a request over its share gives samples up for a prompt the pool cannot hold beside it', async () => {
    // Slots are free (8 of 12 taken, share 6) but the 60-block pool is not: at 20 tokens the big request's samples hold
    // 5 + 8 x 5 blocks, and the 32-token prompt needs 8 of the 15 left plus room for the samples' next blocks.
    const big = {n: MAX_NUM_SEQS, temperature: 1, seed: 3, maxTokens: 24, ignoreEos: true}
    const small = {maxTokens: 8, temperature: 1, seed: 4, ignoreEos: true}
    const longPrompt = Array.from({length: 32}, (_, i) => 40 + i)
    const run = await contend({maxNumSeqs: 12, numBlocks: 60}, big, small, 20, longPrompt)
    assert.ok(run.waited <= FIRST_TOKEN_STEPS, `the small request waited ${run.waited} steps`)
    assert.ok(run.preemptions > 0)
    assert.deepEqual(comparable(run.big), comparable(await alone(big, bigPrompt)))
    assert.deepEqual(comparable(run.small), comparable(await alone(small, longPrompt)))
  })
})

describe('fair share under a mix of requests', () => {
  const requests: Array<{prompt: number[]; params: Partial<SamplingParams>}> = [
    {prompt: bigPrompt, params: {n: 8, temperature: 1, seed: 1, maxTokens: 30, ignoreEos: true}},
    {prompt: [30, 31, 32, 33, 34, 35, 36, 37, 38], params: {n: 2, bestOf: 8, temperature: 0.8, seed: 2, maxTokens: 25, ignoreEos: true}},
    {prompt: [5, 6, 7], params: {maxTokens: 10, seed: 3, temperature: 1, ignoreEos: true}},
    {prompt: Array.from({length: 12}, (_, i) => 50 + i), params: {n: 4, useBeamSearch: true, temperature: 0, maxTokens: 12, ignoreEos: true}},
    {prompt: [9, 9, 9, 9], params: {n: 3, maxTokens: 15, seed: 4, temperature: 1, ignoreEos: true}},
  ]

  /** Every request's result, arriving 3 steps apart when `staggered`; checks that every block is back. */
  async function runAll(config: Partial<EngineConfig>, staggered: boolean) {
    const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {...SWAP, blockSize: 4, ...config}))
    try {
      let steps = 0
      engine.onStep(() => steps++)
      const results: Promise<RequestOutput>[] = []
      for (const request of requests) {
        results.push(engine.addRequest({prompt: request.prompt, params: makeSamplingParams(request.params)}).result())
        const arrival = steps
        while (staggered && steps < arrival + 3) await new Promise((resolve) => setTimeout(resolve, 1))
      }
      const outputs = (await Promise.all(results)).map(comparable)
      assert.equal(engine.stats().kv.usedBlocks, 0)
      engine.checkKvInvariants()
      return outputs
    } finally {
      await engine.shutdown()
    }
  }

  it('parallel sampling, best_of, beams and n = 1 in 8 slots and a tight pool give what a roomy engine gives', async () => {
    const roomy = await runAll({numBlocks: 512, hostOverlap: 'none'}, false)
    for (const config of [{numBlocks: 80, preemptionMode: 'swap' as const}, {maxNumSeqs: 10, numBlocks: 80, enablePrefixCaching: false}]) {
      for (const staggered of [false, true]) assert.deepEqual(await runAll({maxNumSeqs: MAX_NUM_SEQS, ...config}, staggered), roomy)
    }
  })
})

describe('fair share through the server', () => {
  let server: Awaited<ReturnType<typeof startTinyEngineServer>>
  before(async () => {
    server = await startTinyEngineServer({}, undefined, {maxNumSeqs: MAX_NUM_SEQS})
  })
  after(async () => {
    await server.server.shutdown(0)
  })

  it('/v1/completions with n = --max-num-seqs does not hold back a second request streaming', async () => {
    let bigDone = false
    const big = post(`${server.url}/v1/completions`, {prompt: 'Once upon a time', n: MAX_NUM_SEQS, max_tokens: 300, ignore_eos: true}).then((reply) => {
      bigDone = true
      return reply
    })
    // The big request is decoding before the second arrives.
    await waitFor(() => server.engine.stats().numSteps >= 4, 'the big request to decode')
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({prompt: 'Hello', max_tokens: 5, ignore_eos: true, stream: true}),
    })
    const reader = response.body!.getReader()
    // The first chunk with text: the second request's first token.
    let rest = ''
    while (!/"text":"[^"]/.test(rest)) {
      const chunk = await reader.read()
      assert.ok(!chunk.done, 'the stream ended before any text')
      rest += new TextDecoder().decode(chunk.value)
    }
    assert.equal(bigDone, false, 'the second request streamed its first token before the first one finished')
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value)
    const events = sseEvents(rest).filter((event) => event !== '[DONE]')
    assert.equal(events.at(-1).choices[0].finish_reason, 'length')
    const reply = (await big).json()
    assert.equal(reply.choices.length, MAX_NUM_SEQS)
    assert.equal(reply.usage.completion_tokens, MAX_NUM_SEQS * 300)
    assert.equal(server.engine.stats().kv.usedBlocks, 0)
  })
})
