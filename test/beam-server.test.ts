// Beam search over HTTP with stop strings, stop tokens, penalties and logprobs: completions and chat, streamed and not,
// each the engine's own result for the same request, and every KV block back afterwards.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import type {ApiServer} from '../src/server/http-server.js'
import {post, sseEvents, startTinyEngineServer} from './support/server-harness.js'

let engine: LLMEngine
let server: ApiServer
let url: string
const PROMPT = 'Once upon a time'
const MESSAGES = [{role: 'user', content: 'Tell me a story.'}]
const BEAMS = {use_beam_search: true, n: 2, best_of: 3, temperature: 0, max_tokens: 6, ignore_eos: true}

async function replyOf(path: string, body: object): Promise<any> {
  const reply = await post(`${url}${path}`, body)
  assert.equal(reply.status, 200, reply.text)
  return reply
}

/** A stop string the first beam's text holds: two characters from its middle. */
function stopIn(text: string): string {
  const stop = text.slice(Math.floor(text.length / 2)).trim().slice(0, 2)
  assert.ok(stop.length > 0, `no text to stop in: ${JSON.stringify(text)}`)
  return stop
}

describe('beam search over HTTP with stops, penalties and logprobs', () => {
  before(async () => {
    ;({server, engine, url} = await startTinyEngineServer({version: 'beams'}))
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('completions: the engine result for the same request, streamed (one JSON reply) or not', async () => {
    const penalized = {prompt: PROMPT, ...BEAMS, repetition_penalty: 1.3, presence_penalty: 0.5, frequency_penalty: 0.2, logprobs: 2}
    const stop = stopIn((await replyOf('/v1/completions', penalized)).json().choices[0].text)
    const body = {...penalized, stop: [stop]}
    const [reply, streamed] = await Promise.all([replyOf('/v1/completions', body), replyOf('/v1/completions', {...body, stream: true})])
    const [expected] = await engine.generate([
      {
        prompt: PROMPT,
        params: makeSamplingParams({useBeamSearch: true, n: 2, bestOf: 3, temperature: 0, maxTokens: 6, ignoreEos: true, stop: [stop], repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.2, logprobs: 2}),
      },
    ])
    const choices = reply.json().choices
    assert.deepEqual(streamed.json().choices, choices)
    assert.deepEqual(
      choices.map((choice: any) => [choice.text, choice.finish_reason, choice.stop_reason]),
      expected!.outputs.map((output) => [output.text, output.finishReason, output.stopReason]),
    )
    assert.ok(choices.some((choice: any) => choice.stop_reason === stop), JSON.stringify(choices))
    choices.forEach((choice: any, i: number) => {
      const output = expected!.outputs[i]!
      assert.deepEqual(choice.logprobs.token_logprobs, output.logprobs!.map((entry, t) => entry.get(output.tokenIds[t]!)))
    })
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })

  it('chat: a stop string cuts each beam, streamed whole once chosen or not, with top_logprobs; stop_token_ids end beams', async () => {
    const penalized = {messages: MESSAGES, ...BEAMS, repetition_penalty: 1.2, min_tokens: 1, logprobs: true, top_logprobs: 2}
    const plain = (await replyOf('/v1/chat/completions', {...penalized, return_token_ids: true})).json()
    const stop = stopIn(plain.choices[0].message.content)
    const body = {...penalized, stop: [stop]}
    const [reply, streamed] = await Promise.all([replyOf('/v1/chat/completions', body), replyOf('/v1/chat/completions', {...body, stream: true})])
    const choices = reply.json().choices
    assert.ok(choices.some((choice: any) => choice.finish_reason === 'stop' && choice.stop_reason === stop), JSON.stringify(choices))
    for (const choice of choices) {
      assert.ok(!choice.message.content.includes(stop), choice.message.content)
      // The tokens that made the stop string keep their logprobs, as a sampled sequence's do; the text is cut before it.
      assert.ok(choice.logprobs.content.map((entry: any) => entry.token).join('').startsWith(choice.message.content))
      for (const entry of choice.logprobs.content) assert.equal(entry.top_logprobs.length, 2)
    }
    const events = sseEvents(streamed.text).filter((event) => event !== '[DONE]')
    choices.forEach((choice: any, index: number) => {
      const mine = events.flatMap((event) => event.choices).filter((c: any) => c.index === index)
      assert.equal(mine.map((c: any) => c.delta.content ?? '').join(''), choice.message.content)
      assert.equal(mine[mine.length - 1].finish_reason, choice.finish_reason)
      assert.deepEqual(mine.flatMap((c: any) => c.logprobs?.content ?? []), choice.logprobs.content)
    })

    // The best beam's last token as a stop token: that beam now ends by it, at the same length.
    const stopTokenIds = [plain.choices[0].token_ids.at(-1)]
    const byToken = (await replyOf('/v1/chat/completions', {...penalized, stop_token_ids: stopTokenIds})).json()
    const [expected] = await engine.generate([
      {
        prompt: plain.prompt_token_ids,
        params: makeSamplingParams({useBeamSearch: true, n: 2, bestOf: 3, temperature: 0, maxTokens: 6, ignoreEos: true, repetitionPenalty: 1.2, minTokens: 1, logprobs: 2, stopTokenIds}),
      },
    ])
    assert.deepEqual(
      byToken.choices.map((choice: any) => [choice.message.content, choice.finish_reason, choice.stop_reason]),
      expected!.outputs.map((output) => [output.text, output.finishReason, output.stopReason]),
    )
    assert.ok(byToken.choices.some((choice: any) => choice.stop_reason === stopTokenIds[0]), JSON.stringify(byToken.choices))
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })

  it('early_stopping takes true, false or "never" (HF\'s and vLLM\'s values); anything else is a 400 naming it', async () => {
    const never = await post(`${url}/v1/completions`, {prompt: PROMPT, ...BEAMS, early_stopping: 'never'})
    assert.equal(never.status, 200, never.text)
    const wrong = await post(`${url}/v1/completions`, {prompt: PROMPT, ...BEAMS, early_stopping: 'sometimes'})
    assert.equal(wrong.status, 400, wrong.text)
    assert.equal(wrong.json().error.param, 'early_stopping')
  })
})
