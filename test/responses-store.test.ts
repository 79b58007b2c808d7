// serve --responses-store: finished /v1/responses kept for previous_response_id, retrieve, delete and input_items
// (the openai client's calls, tiny random model), the store's LRU and byte bounds, and the store off.
import assert from 'node:assert/strict'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import type {LLMEngine} from '../src/engine/llm-engine.js'
import type {ApiServer} from '../src/server/http-server.js'
import {conversationFromTexts, ResponseStore, type StoredResponse} from '../src/server/response-store.js'
import {BackgroundResponses, streamEvents} from '../src/server/responses-background.js'
import {type StoredConversation, translateResponsesRequest} from '../src/server/responses-request.js'
import {storedResponseRoute} from '../src/server/responses-routes.js'
import {inputItemsPageText, storedInputItems} from '../src/server/stored-input-items.js'
import {eventFrame} from '../src/server/sse.js'
import {FakeEngine} from './support/fake-engine.js'
import {post, refusal, start, startTinyEngineServer, waitFor} from './support/server-harness.js'

const greedy = {temperature: 0, max_output_tokens: 8}
/** The openai SDK's Response type has no `store`, which the API sends. */
const storeOf = (response: OpenAI.Responses.Response) => (response as {store?: boolean}).store

/** A stored response of `textLength` characters of output, continuing `previousId`. */
function stored(id: string, previousId: string | null = null, textLength = 10): StoredResponse {
  const output = [{type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'x'.repeat(textLength)}]}]
  return {response: {id, output}, inputItems: storedInputItems([{id: `msg_${id}`, type: 'message', role: 'user', content: 'q'}]), previousId}
}

/** The store as a worker sees it continuing a response: the conversation's texts parsed. */
const conversations = (store: ResponseStore): StoredConversation => ({conversationOf: (id) => conversationFromTexts(store.conversationTextsOf(id))})

describe('ResponseStore', () => {
  it('keeps at most N responses, evicting the least recently used (a get counts as a use)', () => {
    const store = new ResponseStore(2)
    store.put(stored('a'))
    store.put(stored('b'))
    store.get('a')
    store.put(stored('c'))
    assert.deepEqual([store.size, store.get('a').response.id, store.get('c').response.id], [2, 'a', 'c'])
    assert.throws(() => store.get('b'), {httpStatus: 404})
  })

  it("hands a continuation the chain's texts as UTF-8 in shared memory: a worker gets them without a copy", () => {
    const store = new ResponseStore(4)
    store.put(stored('a'))
    store.put(stored('b', 'a', 20))
    const texts = store.conversationTextsOf('b')
    // Before, strings: posting a 38 MB chain's texts held the event loop ~0.5 s per continuation.
    assert.ok(texts.every((text) => text instanceof Uint8Array && text.buffer instanceof SharedArrayBuffer))
    assert.deepEqual(conversationFromTexts(texts), [
      {id: 'msg_a', type: 'message', role: 'user', content: 'q'},
      {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'x'.repeat(10)}]},
      {id: 'msg_b', type: 'message', role: 'user', content: 'q'},
      {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'x'.repeat(20)}]},
    ])
  })

  it('keeps at most its byte budget, and refuses one response larger than all of it', () => {
    const {inputItems, ...rest} = stored('a', null, 1000)
    // The response, its input items' text, and its output's text (what a continuation reads).
    const one = Buffer.byteLength(JSON.stringify(rest.response)) + inputItems.utf8.byteLength + Buffer.byteLength(JSON.stringify(rest.response.output))
    const store = new ResponseStore(100, one * 2 + 10)
    for (const id of ['a', 'b', 'c']) assert.equal(store.put(stored(id, null, 1000)), true)
    assert.deepEqual([store.size, store.bytes], [2, one * 2])
    assert.throws(() => store.get('a'), {httpStatus: 404})
    assert.equal(store.put(stored('big', null, 5000)), false)
    assert.deepEqual([store.size, store.bytes], [2, one * 2])
    assert.equal(store.delete('b'), true)
    assert.deepEqual([store.size, store.bytes], [1, one])
  })

  it('a chain is its responses oldest first, inputs then outputs; a missing link is a 404 on previous_response_id', () => {
    const store = new ResponseStore(10)
    store.put(stored('a'))
    store.put(stored('b', 'a'))
    assert.deepEqual(conversations(store).conversationOf('b').map((item) => item.id ?? item.type), ['msg_a', 'message', 'msg_b', 'message'])
    store.delete('a')
    assert.throws(() => store.conversationTextsOf('b'), {httpStatus: 404, param: 'previous_response_id'})
  })

  it("a chain's output is read without its logprobs, which no template renders (serialized once, when stored)", () => {
    const store = new ResponseStore(10)
    const part = {type: 'output_text', text: 'x', annotations: [], logprobs: [{token: 'x', logprob: -1, bytes: [120], top_logprobs: []}]}
    store.put({response: {id: 'a', output: [{id: 'msg_1', type: 'message', role: 'assistant', content: [part]}]}, inputItems: storedInputItems([{id: 'msg_0', role: 'user', content: 'q'}]), previousId: null})
    const [, reply] = conversations(store).conversationOf('a')
    assert.deepEqual(reply, {id: 'msg_1', type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'x', annotations: []}]})
    assert.deepEqual(store.get('a').response.output, [{id: 'msg_1', type: 'message', role: 'assistant', content: [part]}], 'GET still has them')
  })
})

describe('stored input items (kept as their texts)', () => {
  // Item 2 holds an object with an id of 'c' inside it: no item's start.
  const items = storedInputItems([{id: 'a', n: 1}, {id: 'b', n: 2, inner: [{id: 'c', n: 0}]}, {id: 'a', n: 3}, {id: 'c', n: 4}])
  const page = (query: string) => JSON.parse(inputItemsPageText(items, new URLSearchParams(query)))

  it('page as the items would: desc by default, after the first match in the page\'s order, has_more', () => {
    const b = {id: 'b', n: 2, inner: [{id: 'c', n: 0}]}
    assert.deepEqual(page(''), {object: 'list', data: [{id: 'c', n: 4}, {id: 'a', n: 3}, b, {id: 'a', n: 1}], first_id: 'c', last_id: 'a', has_more: false})
    assert.deepEqual(page('order=asc&after=a&limit=2'), {object: 'list', data: [b, {id: 'a', n: 3}], first_id: 'b', last_id: 'a', has_more: true})
    assert.deepEqual(page('after=a').data, [b, {id: 'a', n: 1}])
    assert.deepEqual(page('order=asc&after=c'), {object: 'list', data: [], first_id: null, last_id: null, has_more: false})
    assert.deepEqual(page('after=c&limit=1'), {object: 'list', data: [{id: 'a', n: 3}], first_id: 'a', last_id: 'a', has_more: true})
    assert.throws(() => page('after=d'), {httpStatus: 400, param: 'after'})
    const text = Buffer.from(items.utf8).toString('utf8')
    assert.deepEqual(JSON.parse(text).map((item: {n: number}) => item.n), [1, 2, 3, 4])
    assert.equal(items.bytes, Buffer.byteLength(text))
    // Offsets are bytes: items of many-byte characters page and are found as any others.
    const wide = storedInputItems([{id: 'é', text: '日本語'}, {id: '🙂', text: 'ü'}, {id: 'x', text: ''}])
    const widePage = (query: string) => JSON.parse(inputItemsPageText(wide, new URLSearchParams(query)))
    assert.deepEqual(widePage('order=asc&after=é'), {object: 'list', data: [{id: '🙂', text: 'ü'}, {id: 'x', text: ''}], first_id: '🙂', last_id: 'x', has_more: false})
    assert.deepEqual(widePage('after=x&limit=1').data, [{id: '🙂', text: 'ü'}])
    // An id with quotes and backslashes is read off its item's text whole.
    const odd = storedInputItems([{id: 'q"\\"x\\', n: 1}, {id: '\ud800', n: 2}])
    assert.deepEqual(JSON.parse(inputItemsPageText(odd, new URLSearchParams(''))), {object: 'list', data: [{id: '\ud800', n: 2}, {id: 'q"\\"x\\', n: 1}], first_id: '\ud800', last_id: 'q"\\"x\\', has_more: false})
  })
})

describe('GET /v1/responses/{id} of a big stored response', () => {
  it('writes it in slices, with turns of the event loop between (it was one JSON.stringify: 2.4 MB held /health 300 ms)', async () => {
    const store = new ResponseStore(4)
    const logprobs = Array.from({length: 20_000}, (_, index) => ({token: `t${index}`, logprob: -1, bytes: [116], top_logprobs: [{token: 'u', logprob: -2, bytes: [117]}]}))
    const output = [{id: 'msg_1', type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'x', annotations: [], logprobs}]}]
    store.put({response: {id: 'resp_big', object: 'response', output}, inputItems: storedInputItems([{id: 'msg_0', role: 'user', content: 'q'}]), previousId: null})
    const route = storedResponseRoute('/v1/responses/resp_big', store, new BackgroundResponses(store, () => {}), 10_000)!
    const pieces: string[] = []
    let otherTurns = 0
    let serving = true
    const count = () => serving && (otherTurns++, setImmediate(count))
    setImmediate(count)
    const reply = {writeHead: () => reply, write: (piece: string) => pieces.push(piece), end: (piece?: string) => piece !== undefined && pieces.push(piece)}
    await route.GET!({url: '/v1/responses/resp_big'} as IncomingMessage, reply as unknown as ServerResponse, new AbortController().signal)
    serving = false
    assert.ok(pieces.length > 10 && otherTurns > 10, `pieces ${pieces.length}, other turns ${otherTurns}`)
    assert.deepEqual(JSON.parse(pieces.join('')), store.get('resp_big').response)
  })

  it('replays a background stream as the frames recorded while it ran: a GET ?stream=true serializes nothing (it serialized 2.4 MB a time)', async () => {
    const store = new ResponseStore(4)
    const background = new BackgroundResponses(store, () => {})
    const queued = {id: 'resp_bg', object: 'response', status: 'queued', output: []}
    const logprobs = Array.from({length: 1000}, (_, index) => ({token: `t${index}`, logprob: -1, bytes: [116], top_logprobs: []}))
    const done = {...queued, status: 'completed', output: [{id: 'msg_1', type: 'message', content: [{type: 'output_text', text: 'x', logprobs}]}]}
    background.start(queued, true, {inputItems: storedInputItems([{id: 'msg_0', role: 'user', content: 'q'}]), previousId: null}, new AbortController().signal, () => {}, async (work) => {
      work.emit({type: 'response.output_text.delta', delta: 'x'})
      return {response: done, lastEvent: 'response.completed'}
    })
    await waitFor(() => !background.isRunning('resp_bg'), 'the run to end')
    const frames = store.get('resp_bg').events!
    assert.deepEqual(frames.map((frame) => typeof frame), ['string', 'string', 'string'])
    assert.deepEqual(JSON.parse(/^data: (.*)$/m.exec(frames[2]!)![1]!), {type: 'response.completed', response: done, sequence_number: 2})
    const written: string[] = []
    const reply = {destroyed: false, writeHead: () => reply, flushHeaders: () => {}, write: (text: string) => written.push(text) > 0, end: (text?: string) => text !== undefined && written.push(text), on: () => reply, off: () => reply}
    await streamEvents(reply as unknown as ServerResponse, 10_000, background.find('resp_bg'), 0, new AbortController().signal)
    assert.deepEqual(written, frames.slice(1))
  })
  it("serializes a background stream's big events a slice at a time, in order (an item's done events carry all its logprobs)", async () => {
    const store = new ResponseStore(4)
    const background = new BackgroundResponses(store, () => {})
    const queued = {id: 'resp_events', object: 'response', status: 'queued', output: []}
    const top = Array.from({length: 20}, (_, index) => ({token: `a${index}`, logprob: -2, bytes: [97]}))
    const logprobs = Array.from({length: 2000}, (_, index) => ({token: `t${index}`, logprob: -1, bytes: [116], top_logprobs: top}))
    const big = {type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text: 'x', logprobs}
    let otherTurns = 0
    let counting = false
    const count = () => counting && (otherTurns++, setImmediate(count))
    background.start(queued, true, {inputItems: storedInputItems([{id: 'msg_0', role: 'user', content: 'q'}]), previousId: null}, new AbortController().signal, () => {}, async (work) => {
      const small = work.emit({type: 'response.in_progress', response: queued})
      counting = true
      setImmediate(count)
      await Promise.all([small, work.emit(big), work.emit({type: 'response.output_text.delta', delta: 'after'})])
      counting = false
      return {response: {...queued, status: 'completed'}, lastEvent: 'response.completed'}
    })
    await waitFor(() => !background.isRunning('resp_events'), 'the run to end')
    // Before, each event was stringified whole as it was emitted: no turn for anyone else.
    assert.ok(otherTurns > 10, `other turns ${otherTurns}`)
    const frames = store.get('resp_events').events!
    assert.deepEqual(frames.map((frame) => /^event: (\S+)/.exec(frame)![1]), ['response.created', 'response.in_progress', 'response.output_text.done', 'response.output_text.delta', 'response.completed'])
    assert.equal(frames[2], eventFrame({...big, sequence_number: 2}, 'response.output_text.done'))
  })

  it("serializes a background run's big end once, a slice at a time: its last frame and the store's count come from it", async () => {
    const store = new ResponseStore(4)
    const background = new BackgroundResponses(store, () => {})
    const queued = {id: 'resp_end', object: 'response', status: 'queued', output: []}
    const top = Array.from({length: 20}, (_, index) => ({token: `a${index}`, logprob: -2, bytes: [97]}))
    const logprobs = Array.from({length: 2000}, (_, index) => ({token: `t${index}`, logprob: -1, bytes: [116], top_logprobs: top}))
    const done = {...queued, status: 'completed', output: [{id: 'msg_1', type: 'message', content: [{type: 'output_text', text: 'é'.repeat(10), logprobs}]}]}
    let otherTurns = 0
    let counting = false
    const count = () => counting && (otherTurns++, setImmediate(count))
    background.start(queued, true, {inputItems: storedInputItems([{id: 'msg_0', role: 'user', content: 'q'}]), previousId: null}, new AbortController().signal, () => {}, async () => {
      // From the run's end on, the turns the event loop gets before the response is stored.
      counting = true
      setImmediate(count)
      return {response: done, lastEvent: 'response.completed'}
    })
    await waitFor(() => !background.isRunning('resp_end'), 'the run to end')
    counting = false
    // Before, the last event, the store's count and its own stringify each serialized the whole response in one go.
    assert.ok(otherTurns > 10, `other turns ${otherTurns}`)
    const frames = store.get('resp_end').events!
    assert.equal(frames.at(-1), eventFrame({type: 'response.completed', response: done, sequence_number: 1}, 'response.completed'))
    // The count is the store's own: the same bytes as a put that stringifies the response itself.
    const bytes = store.bytes
    const again = new ResponseStore(4)
    again.put({...store.get('resp_end')})
    assert.equal(again.bytes, bytes)
  })
})

describe('/v1/responses with --responses-store (tiny model, openai client)', () => {
  let engine: LLMEngine
  let server: ApiServer
  let client: OpenAI
  let baseUrl: string
  before(async () => {
    ;({server, engine, url: baseUrl} = await startTinyEngineServer({responsesStore: 16}))
    client = new OpenAI({baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0})
  })
  after(async () => {
    await server.shutdown(1000)
  })

  it('previous_response_id continues the stored conversation: the same prompt and greedy text as the whole list, without the old instructions', async () => {
    const first = await client.responses.create({model: engine.modelName, input: 'Hello there', instructions: 'Be brief.', ...greedy})
    assert.deepEqual([storeOf(first), first.previous_response_id], [true, null])
    const second = await client.responses.create({previous_response_id: first.id, input: 'And now?', ...greedy})
    assert.deepEqual([storeOf(second), second.previous_response_id, second.instructions], [true, first.id, null])
    const whole = await client.responses.create({input: [{role: 'user', content: 'Hello there'}, ...(first.output as OpenAI.Responses.ResponseInputItem[]), {role: 'user', content: 'And now?'}], ...greedy})
    assert.equal(second.usage!.input_tokens, whole.usage!.input_tokens)
    assert.equal(second.output_text, whole.output_text)
    // A third turn walks the whole chain.
    const third = await client.responses.create({previous_response_id: second.id, input: 'Bye', ...greedy, stream: false})
    const all = [{role: 'user', content: 'Hello there'}, ...first.output, {role: 'user', content: 'And now?'}, ...second.output, {role: 'user', content: 'Bye'}]
    const wholeThree = await client.responses.create({input: all as OpenAI.Responses.ResponseInputItem[], ...greedy})
    assert.equal(third.usage!.input_tokens, wholeThree.usage!.input_tokens)
    assert.equal(third.output_text, wholeThree.output_text)
  })

  it('retrieve gives the stored object, streamed responses are stored at their end, store: false keeps nothing', async () => {
    const created = await client.responses.create({input: 'Hi', ...greedy, metadata: {k: 'v'}})
    assert.deepEqual(await client.responses.retrieve(created.id), created)
    assert.equal((await fetch(`${baseUrl}/v1/responses/${created.id}?stream=true`)).status, 400)
    let completed: OpenAI.Responses.Response | null = null
    for await (const event of await client.responses.create({input: 'Hi', ...greedy, stream: true})) {
      if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = event.response
    }
    assert.ok(completed !== null)
    const retrieved = await client.responses.retrieve(completed.id)
    assert.deepEqual([retrieved.output, retrieved.usage, storeOf(retrieved)], [completed.output, completed.usage, true])
    const unstored = await client.responses.create({input: 'Hi', ...greedy, store: false})
    assert.equal(storeOf(unstored), false)
    assert.equal((await refusal(client.responses.retrieve(unstored.id))).status, 404)
    const missing = await refusal(client.responses.create({previous_response_id: unstored.id, input: 'x', ...greedy}))
    assert.deepEqual([missing.status, missing.param], [404, 'previous_response_id'])
    // An unknown id is quoted cut short, not echoed whole (it was: a 3 MB id made a 3 MB error).
    const huge = await post(`${baseUrl}/v1/responses`, {previous_response_id: `resp_${'9'.repeat(100_000)}`, input: 'x', ...greedy})
    assert.deepEqual([huge.status, huge.json().error.param], [404, 'previous_response_id'])
    assert.ok(huge.text.length < 500, huge.text.slice(0, 200))
  })

  it('delete removes it (OpenAI\'s deletion object), after which retrieve, input_items, delete and chaining are 404s', async () => {
    const created = await client.responses.create({input: 'Hi', ...greedy})
    const deleted = await fetch(`${baseUrl}/v1/responses/${created.id}`, {method: 'DELETE'})
    assert.deepEqual([deleted.status, await deleted.json()], [200, {id: created.id, object: 'response', deleted: true}])
    assert.equal((await refusal(client.responses.retrieve(created.id))).status, 404)
    assert.equal((await refusal(client.responses.delete(created.id))).status, 404)
    assert.equal((await refusal(client.responses.inputItems.list(created.id))).status, 404)
    const again = await client.responses.create({input: 'Hi', ...greedy})
    await client.responses.delete(again.id)
    assert.equal((await refusal(client.responses.retrieve(again.id))).status, 404)
  })

  it('input_items lists the input with ids, newest first by default, paged by limit and after', async () => {
    const input: OpenAI.Responses.ResponseInputItem[] = [
      {role: 'user', content: 'one'},
      {type: 'message', id: 'msg_kept', status: 'completed', role: 'assistant', content: [{type: 'output_text', text: 'two', annotations: []}]},
      {role: 'user', content: 'three'},
    ]
    const {id} = await client.responses.create({input, ...greedy})
    const page = await client.responses.inputItems.list(id)
    assert.deepEqual(page.data.map((item) => (item as {content: unknown}).content), ['three', [{type: 'output_text', text: 'two', annotations: []}], 'one'])
    assert.equal(page.data[1]!.id, 'msg_kept')
    assert.ok(page.data.every((item) => /^msg_/.test(item.id)))
    const walked: string[] = []
    for await (const item of client.responses.inputItems.list(id, {limit: 1, order: 'asc'})) walked.push(item.id)
    assert.deepEqual(walked, [...page.data.map((item) => item.id)].reverse())
    const raw = await fetch(`${baseUrl}/v1/responses/${id}/input_items?limit=2&order=asc&after=${page.data[2]!.id}`)
    const body = (await raw.json()) as {object: string; data: unknown[]; first_id: string; last_id: string; has_more: boolean}
    assert.deepEqual([body.object, body.data.length, body.first_id, body.last_id, body.has_more], ['list', 2, 'msg_kept', page.data[0]!.id, false])
    for (const query of ['limit=0', 'limit=101', 'order=up', 'after=msg_none']) assert.equal((await fetch(`${baseUrl}/v1/responses/${id}/input_items?${query}`)).status, 400, query)
    // An item's id is a string (it names the item in pages): another type is a 400 naming it, not stored as sent.
    const badId = await post(`${baseUrl}/v1/responses`, {input: [{role: 'user', content: 'x'}, {role: 'user', content: 'y', id: {nested: [1]}}], ...greedy})
    assert.deepEqual([badId.status, badId.json().error.param], [400, 'input[1].id'])
    // A string input is one user message of input_text.
    const short = await client.responses.create({input: 'Hi', ...greedy})
    const [item] = (await client.responses.inputItems.list(short.id)).data
    assert.deepEqual([item!.type, (item as {role: string}).role, (item as {content: unknown}).content], ['message', 'user', [{type: 'input_text', text: 'Hi'}]])
  })

  it('a tool round trip via previous_response_id and function_call_output equals the whole conversation sent at once', async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [{type: 'function', name: 'get_time', description: 'Time now', parameters: {type: 'object', properties: {}}, strict: false}]
    const first = await client.responses.create({input: 'Time?', tools, tool_choice: {type: 'function', name: 'get_time'}, temperature: 0, max_output_tokens: 20})
    const [call] = first.output as OpenAI.Responses.ResponseFunctionToolCall[]
    assert.equal(call!.type, 'function_call')
    const output: OpenAI.Responses.ResponseInputItem = {type: 'function_call_output', call_id: call!.call_id, output: '12:00'}
    const second = await client.responses.create({previous_response_id: first.id, input: [output], tools, ...greedy})
    const whole = await client.responses.create({input: [{role: 'user', content: 'Time?'}, call!, output], tools, ...greedy})
    assert.equal(second.usage!.input_tokens, whole.usage!.input_tokens)
    assert.deepEqual(second.output.map((item) => item.type), whole.output.map((item) => item.type))
    assert.equal(second.output_text, whole.output_text)
  })

  it('cancel of a finished response is OpenAI\'s 400; unknown ids 404; wrong methods 405', async () => {
    const {id} = await client.responses.create({input: 'Hi', ...greedy})
    const cancel = await refusal(client.responses.cancel(id))
    assert.deepEqual([cancel.status, cancel.message], [400, '400 Cannot cancel a synchronous response.'])
    assert.equal((await refusal(client.responses.cancel('resp_unknown'))).status, 404)
    assert.equal((await fetch(`${baseUrl}/v1/responses/${id}`, {method: 'POST'})).status, 405)
    assert.equal((await fetch(`${baseUrl}/v1/responses/${id}/input_items`, {method: 'DELETE'})).status, 405)
    assert.equal((await fetch(`${baseUrl}/v1/responses/${id}/other`)).status, 404)
  })
})

describe('/v1/responses with the store (scripted engine)', () => {
  it("a stored reply's reasoning, message and call become the chat turns they were, before the new input", () => {
    const store = new ResponseStore(4)
    const output = [
      {id: 'rs_1', type: 'reasoning', status: 'completed', summary: [], content: [{type: 'reasoning_text', text: 'think'}], encrypted_content: null},
      {id: 'msg_2', type: 'message', status: 'completed', role: 'assistant', content: [{type: 'output_text', text: 'Checking.', annotations: [], logprobs: []}]},
      {id: 'fc_3', type: 'function_call', status: 'completed', call_id: 'call_1', name: 'f', arguments: '{}'},
    ]
    store.put({response: {id: 'resp_a', output}, inputItems: storedInputItems([{id: 'msg_1', type: 'message', role: 'user', content: [{type: 'input_text', text: 'Hi'}]}]), previousId: null})
    const {chat, settings, inputItems} = translateResponsesRequest({previous_response_id: 'resp_a', input: [{type: 'function_call_output', call_id: 'call_1', output: 'sun'}], instructions: 'New.'}, conversations(store))
    assert.deepEqual(chat.messages, [
      {role: 'system', content: 'New.'},
      {role: 'user', content: [{type: 'input_text', text: 'Hi'}]},
      {role: 'assistant', content: [{type: 'output_text', text: 'Checking.', annotations: []}], reasoning: 'think', tool_calls: [{id: 'call_1', type: 'function', function: {name: 'f', arguments: '{}'}}]},
      {role: 'tool', tool_call_id: 'call_1', content: 'sun'},
    ])
    assert.deepEqual([settings.store, settings.previousResponseId], [true, 'resp_a'])
    assert.match(inputItems[0]!.id as string, /^fco_[0-9a-f]{24}$/)
    assert.equal(translateResponsesRequest({input: 'x', store: false}, conversations(store)).settings.store, false)
  })

  it('a client that leaves mid-stream stores nothing', async () => {
    const fake = new FakeEngine({script: 'slow and steady ', stepMs: 5})
    const {url} = await start({responsesStore: 4}, fake)
    const controller = new AbortController()
    const response = await fetch(`${url}/v1/responses`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({input: 'Go', stream: true}), signal: controller.signal})
    const reader = response.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    const id = /"id":"(resp_[0-9a-f]+)"/.exec(first)![1]!
    controller.abort()
    await waitFor(() => fake.stats().numRunning === 0 && fake.stats().numWaiting === 0, 'the aborted response to leave the engine')
    assert.equal(fake.abortedRequestIds.length, 1)
    assert.equal((await fetch(`${url}/v1/responses/${id}`)).status, 404)
    // The same stream read to its end is stored.
    const whole = await post(`${url}/v1/responses`, {input: 'Go', stream: true, max_output_tokens: 4})
    const done = /"id":"(resp_[0-9a-f]+)"/.exec(whole.text)![1]!
    assert.equal((await fetch(`${url}/v1/responses/${done}`)).status, 200)
  })
})

describe('/v1/responses without the store (fake engine)', () => {
  it('previous_response_id is a 400 saying how to turn the store on; GET, DELETE, input_items and cancel are 404s saying the same', async () => {
    const {url} = await start()
    const reply = await post(`${url}/v1/responses`, {input: 'x', previous_response_id: 'resp_1'})
    assert.equal(reply.status, 400)
    assert.equal(reply.json().error.param, 'previous_response_id')
    assert.match(reply.json().error.message, /--responses-store N/)
    for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/input_items'], ['POST', '/cancel']]) {
      const reply = await fetch(`${url}/v1/responses/resp_1${path}`, {method})
      assert.equal(reply.status, 404, `${method} ${path}`)
      assert.match(((await reply.json()) as {error: {message: string}}).error.message, /--responses-store N/)
    }
  })

  it('the API key guards the stored responses\' routes as the rest of /v1', async () => {
    const {url} = await start({apiKey: 'secret', responsesStore: 2})
    assert.equal((await fetch(`${url}/v1/responses/resp_1`)).status, 401)
    assert.equal((await fetch(`${url}/v1/responses/resp_1`, {headers: {authorization: 'Bearer secret'}})).status, 404)
  })
})
