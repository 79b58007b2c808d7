// A grammar whose masks grow dearer with each token (an ambiguous regex) fails its own request instead of stalling every other.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {grammarRefOf} from '../src/engine/guided/guided-spec.js'
import {GrammarService} from '../src/engine/guided/grammar-service.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'

/** Each (a*)* may take any share of the a's: the matcher's states multiply with every token it accepts. */
const ambiguous = (groups: number) => '(a*)*'.repeat(groups)

describe('grammars over their mask budget', () => {
  let engine: LLMEngine
  let server: ApiServer
  let baseUrl: string
  before(async () => {
    engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 256, blockSize: 16}))
    server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: 'slow-grammar', log: () => {}})
    baseUrl = (await server.listen()).url
    server.attachEngine(engine)
  })
  after(async () => {
    await server.shutdown(1000)
  })

  const post = async (body: object) => {
    const response = await fetch(`${baseUrl}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({prompt: 'x', ...body})})
    return {status: response.status, json: (await response.json()) as any}
  }

  // Before, each step of the engine (every request's) waited for that mask: minutes by token 60, hours by token 200.
  it('the request whose masks grow too slow gets a 400 naming its field; requests beside it finish', {timeout: 180_000}, async () => {
    const hostile = post({max_tokens: 200, min_tokens: 200, seed: 1, guided_regex: ambiguous(120)})
    const [plain, choice] = await Promise.all([post({max_tokens: 16, seed: 2}), post({max_tokens: 8, seed: 3, guided_choice: ['yes', 'no']})])
    assert.equal(plain.status, 200)
    assert.equal(choice.status, 200)
    assert.ok(['yes', 'no'].includes(choice.json.choices[0].text))
    const slow = await hostile
    assert.equal(slow.status, 400, JSON.stringify(slow.json))
    assert.equal(slow.json.error.code, 'grammar_too_slow')
    assert.equal(slow.json.error.param, 'guided_regex')
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
    // Its matcher's worker is still good for the next request.
    assert.equal((await post({max_tokens: 12, seed: 4, guided_regex: '[a-c]{3}'})).status, 200)
  })

  // One mask of this grammar takes seconds (6 s here at load 6): past stopMs the worker is stopped under it, short of
  // it the step budget catches it after that one mask; either way the request fails alone.
  it('one mask that runs for seconds fails its request; requests beside it finish', {timeout: 180_000}, async () => {
    const hostile = post({max_tokens: 40, min_tokens: 40, seed: 6, guided_regex: ambiguous(1000)})
    const plain = await post({max_tokens: 8, seed: 7})
    assert.equal(plain.status, 200)
    const slow = await hostile
    assert.equal(slow.status, 400, JSON.stringify(slow.json))
    assert.equal(slow.json.error.code, 'grammar_too_slow', JSON.stringify(slow.json))
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })
})

describe('GrammarService mask budget', () => {
  it('a step past stopMs stops its worker, flags the sequence it was on, and the others replay elsewhere', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4], maskBudget: {stepMs: 1e9, totalMs: 1e9, stopMs: 300}})
    try {
      const slow = {kind: 'regex', pattern: ambiguous(1000), param: 'guided_regex'} as const
      const plain = {kind: 'regex', pattern: '[a-c]+', param: 'guided_regex'} as const
      await grammars.compile(slow)
      await grammars.compile(plain)
      await assert.rejects(grammars.step([{matcherId: 2, grammar: grammarRefOf(plain), accept: []}, {matcherId: 1, grammar: grammarRefOf(slow), accept: []}]), /ran past 300 ms/)
      assert.equal(grammars.takeOverBudget(1), true)
      assert.equal(grammars.takeOverBudget(2), false)
      assert.equal(grammars.hasMatcher(2), false)
      const [mask] = await grammars.step([{matcherId: 2, grammar: grammarRefOf(plain), accept: []}])
      assert.ok(mask!.some((word) => word !== 0))
    } finally {
      await grammars.close()
    }
  })

  it('flags only the sequence over its budget, in a worker it shares with others', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4], maskBudget: {stepMs: 1e9, totalMs: 300, stopMs: 60_000}})
    try {
      const a = [...Array(tokenizer.vocabSize).keys()].find((id) => tokenizer.idToToken(id) === 'a')!
      const slow = {kind: 'regex', pattern: ambiguous(30), param: 'guided_regex'} as const
      const plain = {kind: 'regex', pattern: 'a*', param: 'guided_regex'} as const
      await grammars.compile(slow)
      await grammars.compile(plain)
      let flaggedAt = -1
      for (let step = 0; step < 200 && flaggedAt < 0; step++) {
        const accept = step === 0 ? [] : [a]
        await grammars.step([{matcherId: 1, grammar: grammarRefOf(slow), accept}, {matcherId: 2, grammar: grammarRefOf(plain), accept}])
        assert.equal(grammars.takeOverBudget(2), false)
        if (grammars.takeOverBudget(1)) flaggedAt = step
      }
      assert.ok(flaggedAt > 0, 'the ambiguous grammar never went over 300 ms in 200 tokens')
      assert.equal(grammars.takeOverBudget(1), false) // taken once
    } finally {
      await grammars.close()
    }
  })
})
