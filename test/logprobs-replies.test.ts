// Replies with logprobs (echo, prompt_logprobs, chat top_logprobs; whole and streamed) keep the exact bytes they had
// when they were built whole on the event loop: each reply's SHA-256 (its id and created time blanked) against the one
// recorded from that build. Long prompts make the logprobs cross several of ReplySlicer's slices; token 0x5f is half a
// UTF-8 character, so its text is U+FFFD and its bytes are the half. RECORD_REPLY_FIXTURES=1 writes the file instead.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {test} from 'node:test'
import {FakeEngine, FakeTokenizer} from './support/fake-engine.js'
import {post, start} from './support/server-harness.js'

const FIXTURE = new URL('./fixtures/logprobs-replies/sha256.json', import.meta.url)
const HALF_A_CHARACTER = 0x5f

class HalfCharacterTokenizer extends FakeTokenizer {
  override tokenBytes(id: number): Uint8Array {
    return id === HALF_A_CHARACTER ? new Uint8Array([0xe2, 0x82]) : super.tokenBytes(id)
  }
}

class HalfCharacterEngine extends FakeEngine {
  override readonly tokenizer = new HalfCharacterTokenizer()
}

const long = 'héllo wörld € _ '.repeat(200)
const chat = (extra: object) => ({model: 'fake-model', messages: [{role: 'user', content: long}], max_tokens: 12, ...extra})
const REQUESTS: Record<string, [route: string, body: object]> = {
  echoLogprobs: ['/v1/completions', {model: 'fake-model', prompt: long, max_tokens: 8, echo: true, logprobs: 2}],
  echoLogprobsStream: ['/v1/completions', {model: 'fake-model', prompt: long, max_tokens: 8, echo: true, logprobs: 2, stream: true}],
  echoPromptList: ['/v1/completions', {model: 'fake-model', prompt: [long, 'ab_€'], max_tokens: 3, n: 2, echo: true, logprobs: 1}],
  promptLogprobs: ['/v1/completions', {model: 'fake-model', prompt: long, max_tokens: 4, logprobs: 0, prompt_logprobs: 1}],
  chatTopLogprobs: ['/v1/chat/completions', chat({logprobs: true, top_logprobs: 2})],
  chatTopLogprobsStream: ['/v1/chat/completions', chat({logprobs: true, top_logprobs: 2, stream: true})],
  chatPromptLogprobs: ['/v1/chat/completions', chat({prompt_logprobs: 2})],
  responsesLogprobs: ['/v1/responses', {model: 'fake-model', input: long, max_output_tokens: 12, top_logprobs: 2}],
  responsesLogprobsStream: ['/v1/responses', {model: 'fake-model', input: long, max_output_tokens: 12, top_logprobs: 2, stream: true}],
}

/** The reply's bytes with what differs between runs blanked. */
const stable = (text: string) => text.replace(/"(id|item_id)":"[^"]*"/g, '"$1":""').replace(/"(created|created_at)":\d+/g, '"$1":0')

test('logprobs replies are byte for byte what the whole build wrote', async () => {
  const {url} = await start({}, new HalfCharacterEngine({maxModelLen: 8192}))
  const digests: Record<string, string> = {}
  for (const [name, [route, body]] of Object.entries(REQUESTS)) {
    const reply = await post(`${url}${route}`, body)
    assert.equal(reply.status, 200, `${name}: ${reply.text.slice(0, 200)}`)
    digests[name] = createHash('sha256').update(stable(reply.text)).digest('hex')
  }
  if (process.env.RECORD_REPLY_FIXTURES === '1') writeFileSync(FIXTURE, `${JSON.stringify(digests, null, 2)}\n`)
  assert.deepEqual(digests, JSON.parse(readFileSync(FIXTURE, 'utf8')))
})
