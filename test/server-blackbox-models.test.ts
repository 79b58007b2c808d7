// The black-box logprob and usage invariants on other vocabularies: a Qwen2 byte-level BPE checkpoint and a q4_0 GGUF (SentencePiece from its metadata) written here.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {assertLogprobsSpellReplies, postJson, sseEvents} from './support/blackbox-checks.js'
import {startTinyEngineServer} from './support/server-harness.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('blackbox-models-')

const MODELS: {name: string; path: () => Promise<string>}[] = [
  {name: 'qwen2 (byte-level BPE)', path: () => ensureTestModel('tiny', {variant: 'qwen2'})},
  {
    name: 'llama q4_0 GGUF (SentencePiece)',
    path: async () => {
      const file = join(scratch.dir, 'llama-q4_0.gguf')
      writeGguf(await loadModel(scratch.tinyDir), file, {format: 'q4_0'})
      return file
    },
  },
]

describe('black-box invariants on other vocabularies and weights', () => {
  for (const model of MODELS) {
    it(`${model.name}: logprob tokens spell the reply; streamed and whole agree on text, finish and usage; usage counts the tokens`, async () => {
      const {server, url} = await startTinyEngineServer({}, await model.path())
      try {
        await assertLogprobsSpellReplies(url)
        const request = {prompt: [[1, 300, 301], [1, 400, 401, 402]], n: 2, max_tokens: 8, temperature: 1, seed: 3, stop: [' the', 'e'], return_token_ids: true}
        const whole = await postJson(`${url}/v1/completions`, request)
        assert.equal(whole.status, 200, whole.text)
        const choices: {index: number; text: string; finish_reason: string; token_ids: number[]}[] = whole.json.choices
        assert.deepEqual(choices.map((choice) => choice.index), [0, 1, 2, 3])
        assert.equal(whole.json.usage.completion_tokens, choices.reduce((sum, choice) => sum + choice.token_ids.length, 0))
        const events = sseEvents((await postJson(`${url}/v1/completions`, {...request, stream: true, stream_options: {include_usage: true}})).text)
        const chunks = events.filter((event) => event !== '[DONE]' && event.choices.length > 0)
        for (const choice of choices) {
          const own = chunks.filter((event) => event.choices[0].index === choice.index).map((event) => event.choices[0])
          assert.equal(own.map((delta) => delta.text).join(''), choice.text, `choice ${choice.index} text`)
          assert.deepEqual(own.flatMap((delta) => delta.token_ids ?? []), choice.token_ids, `choice ${choice.index} token ids`)
          assert.deepEqual(own.filter((delta) => delta.finish_reason).map((delta) => delta.finish_reason), [choice.finish_reason])
        }
        assert.deepEqual(events.at(-2).usage, whole.json.usage)
      } finally {
        await server.shutdown(1000)
      }
    })
  }
})
