// A grammar with a reasoning parser holds the answer, not the thinking: free text up to the end tag, the grammar after
// it (vLLM's reasoning-aware structured output). Before, the server refused the two together.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import type {ApiServer} from '../src/server/http-server.js'
import {schemaErrors} from './support/guided-check.js'
import {qwen3WithReasoningTokens} from './support/model-kinds.js'
import {post, sseEvents, startTinyEngineServer} from './support/server-harness.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-reasoning-grammar-'))
let engine: LLMEngine
let server: ApiServer
let url: string
let thinkEnd: number

before(async () => {
  const model = qwen3WithReasoningTokens(await ensureTestModel('tiny', {variant: 'qwen3'}), join(scratch, 'qwen3'))
  ;({engine, server, url} = await startTinyEngineServer({reasoningParser: 'qwen3'}, model))
  thinkEnd = engine.tokenizer.encode('</think>', {addSpecialTokens: false})[0]!
})
after(async () => {
  await server.shutdown(1000)
  await engine.shutdown()
  rmSync(scratch, {recursive: true, force: true})
})

const regex = '[0-9]{3}-[a-z]{2}'

describe('guidedAfterTokenId on the engine', () => {
  it('the output is the free one up to that token, then held to the grammar; never reached, the output is the free one', async () => {
    const prompt = 'Think, then answer:'
    const [free] = await engine.generate([{prompt, params: makeSamplingParams({temperature: 0, maxTokens: 12, ignoreEos: true})}])
    const ids = free!.outputs[0]!.tokenIds
    // The first token that did not come before it stands in for the end tag.
    const at = ids.findIndex((id, i) => i >= 2 && !ids.slice(0, i).includes(id))
    assert.ok(at >= 2, `no fresh token in ${ids}`)
    const guided = {kind: 'regex' as const, pattern: regex, param: 'structured_outputs'}
    await engine.prepareRequest(makeSamplingParams({guided}))
    const [held, never] = await engine.generate([
      {prompt, params: makeSamplingParams({temperature: 0, maxTokens: 24, guided, guidedAfterTokenId: ids[at]!})},
      {prompt, params: makeSamplingParams({temperature: 0, maxTokens: 12, ignoreEos: true, guided, guidedAfterTokenId: engine.tokenizer.vocabSize - 1})},
    ])
    const heldIds = held!.outputs[0]!.tokenIds
    assert.deepEqual(heldIds.slice(0, at + 1), ids.slice(0, at + 1))
    assert.equal(held!.outputs[0]!.finishReason, 'stop')
    assert.match(engine.tokenizer.decode(heldIds.slice(at + 1, -1)), new RegExp(`^${regex}$`))
    if (!ids.includes(engine.tokenizer.vocabSize - 1)) assert.deepEqual(never!.outputs[0]!.tokenIds, ids)
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })
})

describe('serve --reasoning-parser qwen3 with a grammar', () => {
  const city = {type: 'object', properties: {city: {enum: ['Paris', 'Rome']}}, required: ['city'], additionalProperties: false}
  const messages = [{role: 'user', content: 'Where is it warmer?'}]

  it('response_format json_schema: the answer after </think> validates, streamed alike', async () => {
    // The bias writes </think> at once; the schema (enums only) cannot spell it again, so the grammar must be what holds the rest.
    const body = {messages, max_tokens: 40, seed: 1, guided_whitespace_pattern: '', logit_bias: {[thinkEnd]: 100}, response_format: {type: 'json_schema', json_schema: {name: 'city', schema: city}}}
    const reply = await post(`${url}/v1/chat/completions`, body)
    assert.equal(reply.status, 200, reply.text)
    const choice = reply.json().choices[0]
    assert.equal(choice.finish_reason, 'stop', JSON.stringify(choice))
    assert.equal(schemaErrors(city, JSON.parse(choice.message.content)), null)
    const events = sseEvents((await post(`${url}/v1/chat/completions`, {...body, stream: true})).text).filter((event) => event !== '[DONE]')
    const content = events.map((event) => event.choices[0]?.delta?.content ?? '').join('')
    assert.equal(content, choice.message.content)
  })

  it('tool_choice "required" runs with the reasoning parser: the call is read from the answer', async () => {
    const tools = [{type: 'function', function: {name: 'get_weather', parameters: city}}]
    const reply = await post(`${url}/v1/chat/completions`, {messages, tools, tool_choice: 'required', max_tokens: 60, seed: 2, guided_whitespace_pattern: '', logit_bias: {[thinkEnd]: 100}})
    assert.equal(reply.status, 200, reply.text)
    const choice = reply.json().choices[0]
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice))
    assert.equal(choice.message.tool_calls[0].function.name, 'get_weather')
    assert.equal(schemaErrors(city, JSON.parse(choice.message.tool_calls[0].function.arguments)), null)
    assert.equal(engine.stats().kv.usedBlocks, 0)
  })
})
