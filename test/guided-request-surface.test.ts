// vLLM's and OpenAI's structured-output request fields over HTTP (tiny random model): spellings, conflicts, n, logprobs, streaming, max_tokens cuts.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {LLMEngine} from '../src/engine/llm-engine.js'
import type {ApiServer} from '../src/server/http-server.js'
import {schemaErrors} from './support/guided-check.js'
import {sseEvents, startTinyEngineServer} from './support/server-harness.js'

let engine: LLMEngine
let server: ApiServer
let baseUrl: string
const messages = [{role: 'user', content: 'Answer.'}]
const schema = {type: 'object', properties: {ok: {type: 'boolean'}, n: {type: 'integer', minimum: 0, maximum: 9}}, required: ['ok', 'n'], additionalProperties: false}

async function post(path: string, body: object): Promise<{status: number; json: any; text: string}> {
  const response = await fetch(`${baseUrl}${path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  const text = await response.text()
  return {status: response.status, text, json: text.startsWith('{') ? JSON.parse(text) : null}
}

describe('structured-output request fields (tiny model)', () => {
  before(async () => {
    ;({server, engine, url: baseUrl} = await startTinyEngineServer({version: 'surface'}))
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('structured_outputs (vLLM >= 0.10) json, regex, choice, grammar and json_object are enforced on both endpoints', async () => {
    // Ignored before: the output was free text.
    const json = await post('/v1/completions', {prompt: 'x', max_tokens: 40, seed: 1, n: 2, structured_outputs: {json: schema, disable_any_whitespace: true}})
    assert.equal(json.status, 200, json.text)
    for (const choice of json.json.choices) assert.equal(schemaErrors(schema, JSON.parse(choice.text)), null, choice.text)
    const regex = await post('/v1/chat/completions', {messages, max_tokens: 12, seed: 2, structured_outputs: {regex: '[A-Z]{2}-[0-9]{2}'}})
    assert.match(regex.json.choices[0].message.content, /^[A-Z]{2}-[0-9]{2}$/)
    const choice = await post('/v1/chat/completions', {messages, max_tokens: 8, seed: 3, n: 3, structured_outputs: {choice: ['left', 'right']}})
    for (const c of choice.json.choices) assert.ok(['left', 'right'].includes(c.message.content), c.message.content)
    const grammar = await post('/v1/completions', {prompt: 'Sum:', max_tokens: 12, seed: 4, structured_outputs: {grammar: 'root ::= [1-9] ("+" [1-9])? "="'}})
    assert.match(grammar.json.choices[0].text, /^[1-9](\+[1-9])?=$/)
    const anyJson = await post('/v1/completions', {prompt: 'x', max_tokens: 60, seed: 5, structured_outputs: {json_object: true, whitespace_pattern: ''}})
    if (anyJson.json.choices[0].finish_reason === 'stop') JSON.parse(anyJson.json.choices[0].text)
    else assert.match(anyJson.json.choices[0].text, /^[[{"0-9tfn-]/)
  })

  it("a regex as Python's re.escape writes it (a backslash before a space, '#', '-' or a newline) is read as vLLM's xgrammar reads it", async () => {
    // JavaScript's u-mode RegExp, which checks the pattern, refused these escapes with a 400.
    const reply = await post('/v1/completions', {prompt: 'x', max_tokens: 12, guided_regex: 'a\\ b\\#c\\-d\\\nz'})
    assert.equal(reply.status, 200, reply.text)
    assert.equal(reply.json.choices[0].text, 'a b#c-d\nz')
  })

  it('two constraints at once, in any spelling, are a 400 naming both; unknown structured_outputs keys are a 400', async () => {
    const cases: Array<[object, RegExp, string]> = [
      [{guided_json: schema, structured_outputs: {regex: 'a'}}, /guided_json and structured_outputs\.regex/, 'structured_outputs.regex'],
      [{structured_outputs: {regex: 'a', choice: ['b']}}, /structured_outputs\.regex and structured_outputs\.choice/, 'structured_outputs.choice'],
      [{response_format: {type: 'json_object'}, structured_outputs: {json: schema}}, /response_format and structured_outputs\.json/, 'structured_outputs.json'],
      [{structured_outputs: {structural_tag: '{}'}}, /structures' must be a list/, 'structured_outputs.structural_tag'],
      [{structured_outputs: {disable_additional_properties: true}}, /not supported/, 'structured_outputs.disable_additional_properties'],
      [{structured_outputs: {regex: '[a-'}}, /not a valid regular expression/, 'structured_outputs.regex'],
      [{structured_outputs: {choice: []}}, /non-empty list/, 'structured_outputs.choice'],
      [{structured_outputs: 'json'}, /must be an object/, 'structured_outputs'],
    ]
    for (const path of ['/v1/completions', '/v1/chat/completions'])
      for (const [fields, message, param] of cases) {
        const reply = await post(path, {...(path === '/v1/completions' ? {prompt: 'x'} : {messages}), max_tokens: 4, ...fields})
        assert.equal(reply.status, 400, JSON.stringify(fields))
        assert.match(reply.json.error.message, message)
        assert.equal(reply.json.error.param, param)
      }
    assert.equal(engine.stats().numWaiting + engine.stats().numRunning, 0)
  })

  it('max_tokens cutting the JSON short: finish_reason "length" and the text is a prefix of the uncut output', async () => {
    const body = {messages, seed: 6, n: 2, response_format: {type: 'json_schema', json_schema: {name: 'flags', schema, strict: true}}, guided_whitespace_pattern: ''}
    const cut = await post('/v1/chat/completions', {...body, max_tokens: 4})
    const whole = await post('/v1/chat/completions', {...body, max_tokens: 60})
    for (const [index, choice] of cut.json.choices.entries()) {
      assert.equal(choice.finish_reason, 'length')
      const full = whole.json.choices[index].message.content
      assert.equal(schemaErrors(schema, JSON.parse(full)), null)
      assert.ok(full.startsWith(choice.message.content) && choice.message.content.length < full.length, `${choice.message.content} vs ${full}`)
    }
  })

  it('streamed with n > 1 and logprobs: each choice validates and carries one logprob per token', async () => {
    const reply = await post('/v1/chat/completions', {messages, max_tokens: 60, seed: 7, n: 2, stream: true, logprobs: true, top_logprobs: 2, guided_json: schema, guided_whitespace_pattern: ''})
    const texts = ['', '']
    const tokens = [0, 0]
    for (const event of sseEvents(reply.text)) {
      if (event === '[DONE]') continue
      for (const choice of event.choices) {
        texts[choice.index] += choice.delta.content ?? ''
        for (const entry of choice.logprobs?.content ?? []) {
          assert.equal(entry.top_logprobs.length, 2)
          tokens[choice.index]++
        }
      }
    }
    for (const text of texts) assert.equal(schemaErrors(schema, JSON.parse(text)), null, text)
    assert.ok(tokens.every((count) => count > 0))
  })
})
