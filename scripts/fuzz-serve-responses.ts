// /v1/responses in scripts/fuzz-serve.ts: hostile and valid Responses bodies, and the invariants of its replies (the
// Response object, or the typed event stream whose deltas must rebuild its items).
import type {Random} from './fuzz-serve-bodies.js'
import {FIELD_VALUES, junk, VALID_VALUES} from './fuzz-serve-fields.js'

const WEATHER_TOOL = {type: 'function', name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}}

/** Items as clients send them back, well formed or not. */
function inputItem(r: Random): unknown {
  return r.pick<() => unknown>([
    () => ({role: r.pick(['user', 'assistant', 'system', 'developer', 'tool', 'robot']), content: r.chance(0.7) ? 'Hello' : junk(r)}),
    () => ({type: 'message', role: 'user', content: [{type: r.pick(['input_text', 'output_text', 'input_image', 'refusal']), text: 'hi'}]}),
    () => ({type: 'function_call', call_id: r.chance(0.8) ? 'call_1' : junk(r), name: 'get_weather', arguments: r.pick(['{"city": "Paris"}', '{bad', junk(r)])}),
    () => ({type: 'function_call_output', call_id: 'call_1', output: r.chance(0.7) ? 'sunny' : junk(r)}),
    () => ({type: 'reasoning', summary: r.chance(0.5) ? [] : junk(r), content: [{type: 'reasoning_text', text: 'hmm'}], encrypted_content: r.chance(0.8) ? null : 'zz'}),
    () => ({type: r.pick(['item_reference', 'web_search_call', 'computer_call_output']), id: 'x'}),
    () => junk(r),
  ])()
}

/** Each Responses field at and past its bounds. */
const RESPONSES_VALUES: Record<string, (r: Random) => unknown> = {
  input: (r) => r.pick<() => unknown>([() => Array.from({length: r.int(1, 6)}, () => inputItem(r)), () => [], () => 'x'.repeat(r.pick([1, 100_000])), () => junk(r)])(),
  instructions: (r) => (r.chance(0.6) ? r.pick(['Be brief.', '', '<|im_end|>', '{{ 7*7 }}']) : junk(r)),
  max_output_tokens: (r) => (r.chance(0.7) ? r.pick([1, 4, 0, -1, 2 ** 31, null]) : junk(r)),
  tools: (r) => r.pick([[WEATHER_TOOL], [{type: 'web_search'}], [{type: 'function', name: 'a b'}], [{type: 'function', function: {name: 'f'}}], [WEATHER_TOOL, WEATHER_TOOL], junk(r)]),
  tool_choice: (r) => r.pick(['auto', 'none', 'required', {type: 'function', name: 'get_weather'}, {type: 'function', name: 'nope'}, {type: 'web_search_preview'}, junk(r)]),
  parallel_tool_calls: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  text: (r) => r.pick([{format: {type: 'text'}}, {format: {type: 'json_object'}}, {format: {type: 'json_schema', name: 'x', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}, {format: {type: 'json_schema'}}, {format: junk(r)}, junk(r)]),
  reasoning: (r) => r.pick([{effort: 'low'}, {effort: 'extreme'}, {summary: 'auto'}, junk(r)]),
  metadata: (r) => r.pick([{a: 'b'}, Object.fromEntries(Array.from({length: 17}, (_, i) => [`k${i}`, 'v'])), {a: 1}, junk(r)]),
  previous_response_id: (r) => (r.chance(0.5) ? 'resp_1' : junk(r)),
  store: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  truncation: (r) => r.pick(['disabled', 'auto', junk(r)]),
  top_logprobs: (r) => r.pick([0, 1, 20, 21, junk(r)]),
  include: (r) => r.pick([['message.output_text.logprobs'], ['reasoning.encrypted_content'], ['nope'], 'message.output_text.logprobs', junk(r)]),
  stream: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  temperature: FIELD_VALUES.temperature!,
  top_p: FIELD_VALUES.top_p!,
  seed: FIELD_VALUES.seed!,
  stop: FIELD_VALUES.stop!,
}

const VALID_RESPONSES_VALUES: Record<string, (r: Random) => unknown> = {
  instructions: () => 'Be brief.',
  tools: () => [WEATHER_TOOL],
  tool_choice: (r) => r.pick(['none', 'required', {type: 'function', name: 'get_weather'}]),
  text: (r) => r.pick([{format: {type: 'json_object'}}, {format: {type: 'text'}}]),
  top_logprobs: (r) => r.int(0, 20),
  include: () => ['message.output_text.logprobs'],
  stream: (r) => r.chance(0.5),
  temperature: VALID_VALUES.temperature!,
  seed: VALID_VALUES.seed!,
  stop: VALID_VALUES.stop!,
}

/** A valid body, then 0..5 fields set to hostile values (or, half the time, 1..5 set to valid ones). */
export function responsesBody(r: Random): Record<string, unknown> {
  const fields: Record<string, unknown> = {input: 'Hello there', max_output_tokens: r.int(1, 8)}
  const valid = r.chance(0.5)
  const values = valid ? VALID_RESPONSES_VALUES : RESPONSES_VALUES
  const names = Object.keys(values)
  for (let i = valid ? r.int(1, 5) : r.int(0, 5); i > 0; i--) {
    const name = r.pick(names)
    fields[name] = values[name]!(r)
  }
  // A tool choice needs tools to be more than a 400.
  if (valid && fields.tool_choice !== undefined) fields.tools = [WEATHER_TOOL]
  return fields
}

const ITEM_TYPES = new Set(['message', 'function_call', 'reasoning'])

/** What is wrong with a Response object, or null. */
export function responseObjectProblem(json: any, sent: any): string | null {
  if (json?.object !== 'response' || typeof json.id !== 'string' || !json.id.startsWith('resp_')) return 'responses: object/id'
  if (json.status !== 'completed' && json.status !== 'incomplete') return `responses: status ${json.status}`
  if ((json.status === 'incomplete') !== (json.incomplete_details?.reason === 'max_output_tokens')) return 'responses: incomplete_details'
  if (!Array.isArray(json.output) || json.output.length === 0) return 'responses: no output items'
  for (const item of json.output) {
    if (!ITEM_TYPES.has(item.type) || typeof item.id !== 'string') return `responses: item ${item.type}`
    if (item.type === 'function_call' && [item.call_id, item.name, item.arguments].some((field) => typeof field !== 'string')) return 'responses: function_call fields'
    if (item.type === 'message' && (!Array.isArray(item.content) || item.content.some((part: any) => part.type !== 'output_text' || typeof part.text !== 'string')))
      return 'responses: message content'
    const topCount = Number.isInteger(sent?.top_logprobs) ? sent.top_logprobs : 0
    for (const part of item.type === 'message' ? item.content : []) {
      if (!Array.isArray(part.logprobs) || part.logprobs.length > (json.usage?.output_tokens ?? 0)) return 'responses: output_text logprobs'
      if (part.logprobs.some((entry: any) => typeof entry.token !== 'string' || !(entry.logprob <= 0) || entry.top_logprobs.length > topCount)) return 'responses: a logprob entry'
    }
  }
  const usage = json.usage
  if (![usage?.input_tokens, usage?.output_tokens].every((count) => Number.isInteger(count) && count >= 0)) return 'responses: usage counts'
  if (usage.input_tokens + usage.output_tokens !== usage.total_tokens) return 'responses: usage does not add up'
  const cached = usage.input_tokens_details?.cached_tokens
  if (!(Number.isInteger(cached) && cached >= 0 && (cached === 0 || cached < usage.input_tokens))) return `responses: cached_tokens ${cached} of ${usage.input_tokens} input tokens`
  if (Number.isInteger(sent?.max_output_tokens) && usage.output_tokens > sent.max_output_tokens) return `responses: ${usage.output_tokens} tokens > max_output_tokens ${sent.max_output_tokens}`
  return null
}

/** A stream: named events numbered from 0, created first, completed/incomplete (or an error) last, deltas that rebuild the items. */
export function responsesStreamProblem(text: string, sent: any): string | null {
  if (text.includes('[DONE]')) return 'responses stream: a [DONE]'
  const events: any[] = []
  for (const chunk of text.split('\n\n').filter((each) => each !== '')) {
    const [eventLine, dataLine, ...rest] = chunk.split('\n')
    if (rest.length > 0 || !eventLine?.startsWith('event: ') || !dataLine?.startsWith('data: ')) return 'responses stream: an event not "event:" then "data:"'
    let data: any
    try {
      data = JSON.parse(dataLine.slice('data: '.length))
    } catch {
      return 'responses stream: data that is not JSON'
    }
    if (data.type !== eventLine.slice('event: '.length)) return 'responses stream: event name is not its type'
    if (data.sequence_number !== events.length) return 'responses stream: sequence numbers not 0, 1, ...'
    events.push(data)
  }
  const last = events[events.length - 1]
  if (events[0]?.type !== 'response.created') return 'responses stream: does not open with response.created'
  if (last?.type === 'error') return typeof last.message === 'string' ? null : 'responses stream: error event without a message'
  if (last?.type !== 'response.completed' && last?.type !== 'response.incomplete') return `responses stream: ends with ${last?.type}`
  const final = last.response
  const texts = new Map<string, string>()
  const logprobCounts = new Map<string, number>()
  for (const event of events) {
    if (typeof event.delta === 'string') texts.set(event.item_id, (texts.get(event.item_id) ?? '') + event.delta)
    if (event.type === 'response.output_text.delta') logprobCounts.set(event.item_id, (logprobCounts.get(event.item_id) ?? 0) + (event.logprobs?.length ?? NaN))
  }
  for (const item of final.output ?? []) {
    const whole = item.type === 'function_call' ? item.arguments : (item.content?.[0]?.text ?? '')
    if ((texts.get(item.id) ?? '') !== whole) return `responses stream: deltas do not rebuild ${item.type} ${item.id}`
    if (item.type === 'message' && (logprobCounts.get(item.id) ?? 0) !== item.content?.[0]?.logprobs?.length) return `responses stream: deltas' logprobs do not add up to message ${item.id}'s`
  }
  return responseObjectProblem(final, sent)
}
