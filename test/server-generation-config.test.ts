// The model's generation_config.json as the server's sampling defaults (vLLM's --generation-config auto): it fills the
// fields a request leaves out, caps max_tokens by max_new_tokens, never touches beam search, and is checked at load.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {loadModel} from '../src/engine/model/load-model.js'
import {post, startTinyEngineServer} from './support/server-harness.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-generation-config-')

/** A copy of the tiny model whose generation_config.json also holds `fields`. */
function modelWith(name: string, fields: Record<string, unknown>): string {
  const dir = scratch.copy(name)
  const path = join(dir, 'generation_config.json')
  writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), ...fields}))
  return dir
}

describe("the model's generation_config.json as sampling defaults", () => {
  it('fills the fields a request leaves out and caps max_tokens; --generation-config vllm ignores it', async () => {
    // top_k 1 makes the model's default greedy, so two unseeded requests agree; temperature 0.5 would be a 400 for beams.
    const dir = modelWith('recommended', {temperature: 0.5, top_k: 1, max_new_tokens: 5})
    const {server, url} = await startTinyEngineServer({version: 'generation-config'}, dir)
    try {
      const complete = async (body: object) => {
        const reply = await post(`${url}/v1/completions`, {prompt: 'Once upon a time', ignore_eos: true, ...body})
        assert.equal(reply.status, 200, reply.text)
        return reply.json().choices as {text: string}[]
      }
      const [first] = await complete({})
      const [second] = await complete({})
      assert.equal(first!.text, second!.text, 'top_k 1 from the model: greedy')
      const [greedy] = await complete({temperature: 0, top_k: -1, max_tokens: 5})
      assert.equal(first!.text, greedy!.text)
      const usage = (await post(`${url}/v1/completions`, {prompt: 'Once upon a time', ignore_eos: true, max_tokens: 12})).json().usage
      assert.equal(usage.completion_tokens, 5, 'max_new_tokens caps max_tokens, as in vLLM')
      const chat = await post(`${url}/v1/chat/completions`, {messages: [{role: 'user', content: 'hi'}], ignore_eos: true})
      assert.equal(chat.json().usage.completion_tokens, 5)
      const beams = await complete({use_beam_search: true, n: 2, max_tokens: 3})
      assert.equal(beams.length, 2, 'beam search takes no sampling defaults')
    } finally {
      await server.shutdown(0)
    }
    const {server: plain, url: plainUrl} = await startTinyEngineServer({version: 'generation-config-vllm', generationConfig: 'vllm'}, dir)
    try {
      const reply = await post(`${plainUrl}/v1/completions`, {prompt: 'Once upon a time', ignore_eos: true, max_tokens: 12})
      assert.equal(reply.json().usage.completion_tokens, 12)
    } finally {
      await plain.shutdown(0)
    }
  })

  it('a value no request could send is left out with a start-up note; the valid ones stay', async () => {
    const model = await loadModel(modelWith('bad-values', {top_p: 5, temperature: 'warm', max_new_tokens: 0, min_p: 0.05}))
    assert.deepEqual(model.generationConfig.sampling, {minP: 0.05})
    const notes = (model.config.notes ?? []).join('\n')
    assert.match(notes, /top_p 5 is not used as a sampling default \(top_p must be in \(0, 1\]/)
    assert.match(notes, /temperature "warm" is not used/)
    assert.match(notes, /max_new_tokens 0 is not used as a sampling default \(max_new_tokens must be an integer >= 1/)
  })
})
