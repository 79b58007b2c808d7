// The black-box server tests' shared checks: raw JSON posts and OpenAI's logprob invariants (tokens join into the text; a chat token's bytes spell it).
import assert from 'node:assert/strict'
import {sseEvents} from './server-harness.js'

export {sseEvents}

/** POST a body (an object, or raw text sent as is); the reply's status, text and parsed JSON (null when it is not JSON). */
export async function postJson(url: string, body: unknown): Promise<{status: number; text: string; json: any}> {
  const response = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body: typeof body === 'string' ? body : JSON.stringify(body)})
  const text = await response.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {}
  return {status: response.status, text, json}
}

const PROMPTS = ['Once upon a time', 'The capital of France is', 'emoji 🎉 and 你好']

/**
 * For seeded samples that run to max_tokens with special tokens kept (nothing is dropped from the text):
 * completions' tokens join into the text, streamed or not, and text_offset[i] is where token i starts in it; chat
 * tokens join into the content and each token's bytes are its UTF-8 (where it is whole characters) and decode, all
 * together, to the content.
 */
export async function assertLogprobsSpellReplies(baseUrl: string): Promise<void> {
  for (const [index, prompt] of PROMPTS.entries()) {
    const request = {prompt, max_tokens: 12, temperature: 1, seed: index, ignore_eos: true, skip_special_tokens: false, logprobs: 2}
    const whole = await postJson(`${baseUrl}/v1/completions`, request)
    assert.equal(whole.status, 200, whole.text)
    const {text, logprobs} = whole.json.choices[0]
    assert.equal(logprobs.tokens.join(''), text, `completion tokens ${JSON.stringify(logprobs.tokens)} vs text ${JSON.stringify(text)}`)
    logprobs.tokens.forEach((token: string, i: number) => assert.equal(text.slice(logprobs.text_offset[i], logprobs.text_offset[i] + token.length), token, `text_offset ${i}`))
    logprobs.top_logprobs.forEach((top: Record<string, number>, i: number) => assert.ok(logprobs.tokens[i] in top, `top_logprobs ${i} names the chosen token`))

    const streamed = await postJson(`${baseUrl}/v1/completions`, {...request, stream: true})
    const chunks = sseEvents(streamed.text).filter((event) => event !== '[DONE]' && event.choices.length > 0)
    assert.deepEqual(chunks.flatMap((event) => event.choices[0].logprobs?.tokens ?? []), logprobs.tokens)
    assert.equal(chunks.map((event) => event.choices[0].text).join(''), text)

    const chatReply = await postJson(`${baseUrl}/v1/chat/completions`, {
      messages: [{role: 'user', content: prompt}],
      max_tokens: 12,
      temperature: 1,
      seed: index,
      ignore_eos: true,
      skip_special_tokens: false,
      logprobs: true,
      top_logprobs: 2,
    })
    assert.equal(chatReply.status, 200, chatReply.text)
    const {message, logprobs: chatLogprobs} = chatReply.json.choices[0]
    const entries: {token: string; bytes: number[]; top_logprobs: {token: string; bytes: number[]}[]}[] = chatLogprobs.content
    assert.equal(entries.map((entry) => entry.token).join(''), message.content)
    // Bytes that are not UTF-8 (a random model's) read as U+FFFD in the content, as they decode.
    assert.equal(Buffer.from(entries.flatMap((entry) => entry.bytes)).toString('utf8'), message.content)
    for (const entry of [...entries, ...entries.flatMap((each) => each.top_logprobs)]) {
      if (!entry.token.includes('\uFFFD')) assert.deepEqual(entry.bytes, [...Buffer.from(entry.token, 'utf8')], `bytes of ${JSON.stringify(entry.token)}`)
    }
  }
}
