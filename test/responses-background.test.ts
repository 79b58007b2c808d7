// Background /v1/responses (`background: true` with --responses-store): queued at once, polled to the end, cancelled
// with the engine's KV freed, bounded by the server's admission limits, resumed streams, shutdown aborting the runs.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import type {ApiServer} from '../src/server/http-server.js'
import {FakeEngine} from './support/fake-engine.js'
import {post, refusal, start, startTinyEngineServer, waitFor} from './support/server-harness.js'

const greedy = {temperature: 0, max_output_tokens: 8}

/** Polls until the response leaves queued / in_progress. */
async function settled(client: OpenAI, id: string): Promise<OpenAI.Responses.Response> {
  for (;;) {
    const response = await client.responses.retrieve(id)
    if (response.status !== 'queued' && response.status !== 'in_progress') return response
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The text of a Response's messages (the SDK adds output_text only to the objects its methods return). */
function textOf(response: OpenAI.Responses.Response): string {
  return response.output.flatMap((item) => (item.type === 'message' ? item.content.map((part) => (part.type === 'output_text' ? part.text : '')) : [])).join('')
}

/** The events of an SSE body of the Responses API (`event:` + `data:` frames, no [DONE]). */
function responseEvents(text: string): {type: string; sequence_number: number; [field: string]: any}[] {
  return text
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => JSON.parse(frame.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length)))
}

describe('background /v1/responses (tiny model, openai client)', () => {
  let engine: LLMEngine
  let server: ApiServer
  let client: OpenAI
  before(async () => {
    let url: string
    ;({server, engine, url} = await startTinyEngineServer({responsesStore: 16}))
    client = new OpenAI({baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0})
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('returns queued at once; polling reaches completed with the text of the same greedy request in the foreground', async () => {
    const created = await client.responses.create({model: engine.modelName, input: 'Hello there', ...greedy, background: true})
    assert.deepEqual([created.status, created.background, created.output, created.usage], ['queued', true, [], null])
    const done = await settled(client, created.id)
    const foreground = await client.responses.create({input: 'Hello there', ...greedy})
    assert.deepEqual([done.status, done.background, done.output_text, done.usage!.output_tokens], [foreground.status, true, foreground.output_text, foreground.usage!.output_tokens])
    assert.equal((await client.responses.inputItems.list(created.id)).data.length, 1)
    // A finished background response cannot be cancelled; a synchronous one keeps OpenAI's message.
    const finished = await refusal(client.responses.cancel(created.id))
    assert.deepEqual([finished.status, /already finished/.test(finished.message)], [400, true])
    const synchronous = await refusal(client.responses.cancel(foreground.id))
    assert.deepEqual([synchronous.status, synchronous.message], [400, '400 Cannot cancel a synchronous response.'])
  })

  it('the client resumes a background stream it dropped (retrieve with stream and starting_after) and gets the foreground text', async () => {
    const seen: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const event of await client.responses.create({input: 'Hello there', ...greedy, background: true, stream: true})) {
      seen.push(event)
      if (seen.length === 3) break
    }
    assert.deepEqual(seen.map((event) => event.sequence_number), [0, 1, 2])
    const id = (seen[0] as OpenAI.Responses.ResponseCreatedEvent).response.id
    const rest: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const event of await client.responses.retrieve(id, {stream: true, starting_after: 2})) rest.push(event)
    assert.deepEqual(rest.map((event) => event.sequence_number), rest.map((_, index) => 3 + index))
    const last = rest[rest.length - 1] as OpenAI.Responses.ResponseCompletedEvent
    const foreground = await client.responses.create({input: 'Hello there', ...greedy})
    assert.deepEqual([last.response.id, last.response.output_text ?? textOf(last.response)], [id, foreground.output_text])
  })

  it('cancel right after create answers cancelled, aborts the engine request and the KV pool drains', async () => {
    // This prompt runs 388 greedy tokens before EOS (hundreds of ms); the cancel comes one round trip after the create.
    // On a machine slow enough to finish first, that cancel is the "already finished" 400 and the next try runs.
    let created: OpenAI.Responses.Response | undefined
    let cancelled: OpenAI.Responses.Response | undefined
    for (let attempt = 0; attempt < 5 && cancelled === undefined; attempt++) {
      created = await client.responses.create({input: 'Tell a long story', temperature: 0, max_output_tokens: 450, background: true})
      try {
        cancelled = await client.responses.cancel(created.id)
      } catch (error) {
        assert.match(String(error), /already finished/)
      }
    }
    assert.ok(created !== undefined && cancelled !== undefined, 'five background responses all finished before their cancel')
    assert.deepEqual([cancelled.status, cancelled.usage], ['cancelled', null])
    // A step in flight finishes before the engine drops the request, so the queues empty a moment after the reply.
    const drained = () => engine.stats().numRunning + engine.stats().numWaiting === 0 && engine.stats().kv.usedBlocks === 0
    await waitFor(drained, 'the engine request to be aborted and the pool to drain')
    engine.checkKvInvariants()
    assert.equal((await client.responses.retrieve(created.id)).status, 'cancelled')
    // Cancelling twice answers the cancelled response again (OpenAI: idempotent).
    assert.equal((await client.responses.cancel(created.id)).status, 'cancelled')
  })
})

describe('background /v1/responses (fake engine)', () => {
  it('needs the store (400 naming --responses-store) and store not false', async () => {
    const without = await start()
    const refused = await post(`${without.url}/v1/responses`, {input: 'x', background: true})
    assert.deepEqual([refused.status, refused.json().error.param], [400, 'background'])
    assert.match(refused.json().error.message, /--responses-store N/)
    const withStore = await start({responsesStore: 4})
    const unstored = await post(`${withStore.url}/v1/responses`, {input: 'x', background: true, store: false})
    assert.deepEqual([unstored.status, unstored.json().error.param], [400, 'background'])
  })

  it('polling shows the output so far; cancel mid-generation keeps it, and the engine request is aborted', async () => {
    const fake = new FakeEngine({stepMs: 5, script: 'slow and steady '})
    const {url} = await start({responsesStore: 4}, fake)
    const {id} = (await post(`${url}/v1/responses`, {input: 'Go', background: true, max_output_tokens: 200})).json()
    type Polled = {status: string; output: {status: string; content: {text: string}[]}[]}
    let polled: Polled
    do polled = (await (await fetch(`${url}/v1/responses/${id}`)).json()) as Polled
    while ((polled.output[0]?.content[0]?.text.length ?? 0) < 6)
    assert.deepEqual([polled.status, polled.output.length, polled.output[0].status], ['in_progress', 1, 'in_progress'])
    assert.ok(polled.output[0].content[0].text.startsWith('slow a'), polled.output[0].content[0].text)
    assert.equal((await fetch(`${url}/v1/responses/${id}`, {method: 'DELETE'})).status, 400)
    const continued = await post(`${url}/v1/responses`, {input: 'More', previous_response_id: id})
    assert.deepEqual([continued.status, continued.json().error.param], [400, 'previous_response_id'])
    const cancelled = (await post(`${url}/v1/responses/${id}/cancel`, {})).json()
    assert.equal(cancelled.status, 'cancelled')
    assert.ok(cancelled.output[0].content[0].text.length >= polled.output[0].content[0].text.length)
    assert.deepEqual([fake.abortedRequestIds, fake.stats().numRunning, fake.stats().kv.usedBlocks], [[id], 0, 0])
    // A running response cannot be deleted (above); a cancelled one can.
    assert.equal((await fetch(`${url}/v1/responses/${id}`, {method: 'DELETE'})).status, 200)
  })

  it('a flood is bounded by the admission limits: a queued POST waits for a slot, past the queue a 503, and every admitted one completes', async () => {
    // Each run takes 100 steps of 3 ms: far longer than the ten POSTs take to arrive.
    const fake = new FakeEngine({stepMs: 3})
    const {url} = await start({responsesStore: 32, maxConcurrentRequests: 2, maxQueuedRequests: 2}, fake)
    const replies = await Promise.all(Array.from({length: 10}, () => post(`${url}/v1/responses`, {input: 'Go', background: true, max_output_tokens: 100})))
    const statuses = replies.map((reply) => reply.status)
    assert.ok(statuses.every((status) => status === 200 || status === 503), statuses.join())
    const admitted = replies.filter((reply) => reply.status === 200)
    assert.ok(admitted.length >= 2 && admitted.length < 10, statuses.join())
    for (const reply of admitted) {
      const id = reply.json().id as string
      let status = 'queued'
      while (status === 'queued' || status === 'in_progress') {
        await new Promise((resolve) => setTimeout(resolve, 10))
        status = ((await (await fetch(`${url}/v1/responses/${id}`)).json()) as {status: string}).status
      }
      assert.equal(status, 'incomplete')
    }
    await waitFor(() => fake.stats().numRunning === 0 && fake.stats().kv.usedBlocks === 0, 'the engine to drain')
  })

  it('stream: true streams the events; a client that drops resumes with starting_after and gets the rest, numbered on', async () => {
    const fake = new FakeEngine({stepMs: 3, script: 'steady words '})
    const {url} = await start({responsesStore: 4}, fake)
    const controller = new AbortController()
    const response = await fetch(`${url}/v1/responses`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({input: 'Go', stream: true, background: true, max_output_tokens: 30}), signal: controller.signal})
    const reader = response.body!.getReader()
    let head = ''
    while (!head.includes('response.output_text.delta')) head += new TextDecoder().decode((await reader.read()).value)
    controller.abort()
    const seen = responseEvents(head.slice(0, head.lastIndexOf('\n\n') + 2))
    assert.deepEqual([seen[0]!.type, seen[0]!.response.status, seen[0]!.response.background], ['response.created', 'queued', true])
    const id = seen[0]!.response.id as string
    const last = seen[seen.length - 1]!.sequence_number
    // The client left: generation went on.
    const resumed = await fetch(`${url}/v1/responses/${id}?stream=true&starting_after=${last}`)
    const rest = responseEvents(await resumed.text())
    assert.deepEqual(rest.map((event) => event.sequence_number), rest.map((_, index) => last + 1 + index))
    const final = rest[rest.length - 1]!
    assert.deepEqual([final.type, final.response.status], ['response.incomplete', 'incomplete'])
    const deltas = [...seen, ...rest].filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta as string)
    assert.equal(deltas.join(''), final.response.output[0].content[0].text)
    // Stored now: the whole stream replays, and a bad starting_after or a non-streamed response is a 400.
    assert.equal(responseEvents(await (await fetch(`${url}/v1/responses/${id}?stream=true`)).text()).length, last + 1 + rest.length)
    assert.equal((await fetch(`${url}/v1/responses/${id}?stream=true&starting_after=-1`)).status, 400)
    const plain = await post(`${url}/v1/responses`, {input: 'Go', background: true, max_output_tokens: 2})
    assert.equal((await fetch(`${url}/v1/responses/${plain.json().id}?stream=true`)).status, 400)
  })

  it('shutdown aborts a running background response: the engine request is aborted and the server closes', async () => {
    const fake = new FakeEngine({stepMs: 20})
    const {url, server} = await start({responsesStore: 4}, fake)
    const created = await post(`${url}/v1/responses`, {input: 'Go', background: true, max_output_tokens: 200})
    assert.equal(created.json().status, 'queued')
    await waitFor(() => fake.stats().numRunning === 1, 'the response to run')
    await server.shutdown(0)
    assert.deepEqual(fake.abortedRequestIds, [created.json().id])
    assert.equal(fake.shutdownCalled, true)
  })
})
