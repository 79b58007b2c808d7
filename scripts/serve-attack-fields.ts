// The request-field attacks of scripts/serve-attacks.ts: every field of every POST route set to wrong types, extremes,
// nulls and odd combinations; each reply must keep the fuzzer's invariants (a shaped 200 or an OpenAI 4xx).
import type {Attack} from './serve-attack-http.js'
import {gist, problemOf, request} from './serve-attack-wire.js'

/** Values every field gets. */
const ANY: unknown[] = [null, true, false, 'x', '', -1, 0, 1, 0.5, -0.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 64, [], {}, [null], [[]], {a: null}, 'x'.repeat(100_000)]

const SAMPLING: Record<string, unknown[]> = {
  max_tokens: [2 ** 31, 2 ** 31 - 1, 1e9, -(2 ** 31)],
  n: [0, 2, 64, 1000, 2 ** 31],
  best_of: [0, 1, 3, 64, 1000],
  temperature: [0, 2, 100, 1e-30, 5e-324],
  top_p: [0, 1, 1.5, 5e-324],
  top_k: [-1, 0, 1, 2 ** 31, 1e9, 4096, 4097],
  min_p: [0, 1, 1.5],
  presence_penalty: [-2, 2, 3, -1e300],
  frequency_penalty: [-2, 2, 1e300],
  repetition_penalty: [0, 1e-30, 1e300],
  seed: [-1, 2 ** 63, -(2 ** 63), 2 ** 64, 1e300],
  logprobs: [0, 5, 20, 21, 4096, 1e9],
  top_logprobs: [0, 20, 21, 4096],
  prompt_logprobs: [0, 5, 20, 21, -1, 4096],
  stop: [[], [''], Array.from({length: 17}, (_, i) => `s${i}`), ['x'.repeat(100_000)], [1], [[]], '\ud800'],
  stop_token_ids: [[-1], [2 ** 31], [4096], [1e300], Array.from({length: 2000}, (_, i) => i)],
  logit_bias: [{'-1': 1}, {'4096': 1}, {'1e3': 5}, {'0x10': 5}, {' 5': 5}, {'5': 1e300}, {'5': 'x'}, Object.fromEntries(Array.from({length: 5000}, (_, i) => [String(i), 1])), {'99999999999999999999': 1}],
  min_tokens: [-1, 2 ** 31, 100],
  ignore_eos: ['yes'],
  echo: [1],
  stream: ['true', 1],
  stream_options: [{include_usage: 'yes'}, {continuous_usage_stats: true}, {include_usage: true, extra: 1}],
  bad_words: [['', 'x'], Array.from({length: 300}, () => 'x'), ['x'.repeat(50_000)]],
  allowed_token_ids: [[], [-1], [4096], Array.from({length: 5000}, (_, i) => i)],
  guided_json: ['{', {type: 'object', properties: {a: {type: 'string', pattern: '(a+)+$'}}}, {$ref: '#'}, {type: 'array', minItems: 1e9}],
  guided_regex: ['(', '(a{1,1000}){1,1000}', '\\'],
  guided_choice: [[], [''], ['a', 'a'], Array.from({length: 5000}, (_, i) => `c${i}`)],
  guided_grammar: ['root ::=', 'root ::= root', 'x'.repeat(1000)],
  response_format: [{type: 'json_object'}, {type: 'json_schema'}, {type: 'json_schema', json_schema: {name: 'x', schema: true}}, {type: 'text', extra: 1}, {type: 'bogus'}],
  truncate_prompt_tokens: [-1, 0, 1, 2 ** 31],
  user: [{}],
  suffix: ['x'],
  add_special_tokens: ['no'],
  skip_special_tokens: [null],
  model: ['nope', 'tinychat ', 'x'.repeat(10000)],
  priority: [-1e9, 1e9],
  request_id: ['x'.repeat(10000)],
}

const CHAT_ONLY: Record<string, unknown[]> = {
  messages: [
    [],
    [{}],
    [{role: 'user'}],
    [{role: 'wizard', content: 'x'}],
    [{role: 'user', content: [{type: 'image_url', image_url: {url: 'data:image/png;base64,AAAA'}}]}],
    [{role: 'user', content: [{type: 'input_audio', input_audio: {data: 'AAAA', format: 'wav'}}]}],
    [{role: 'user', content: [{type: 'video_url', video_url: {url: 'x'}}]}],
    [{role: 'user', content: [{type: 'file', file: {file_id: 'x'}}]}],
    [{role: 'user', content: [{type: 'refusal', refusal: 'no'}]}],
    [{role: 'user', content: [{type: 'text'}]}],
    [{role: 'user', content: [{type: 'text', text: 5}]}],
    [{role: 'user', content: [null]}],
    [{role: 'user', content: [{type: 'text', text: 'a'}, 'b']}],
    [{role: 'assistant', content: null, tool_calls: [{id: 'c', type: 'function', function: {name: 'f', arguments: '{'}}]}],
    [{role: 'assistant', tool_calls: [{id: 'c', type: 'function', function: {name: 'f', arguments: {a: 1}}}]}],
    [{role: 'tool', content: 'x'}],
    [{role: 'tool', content: 'x', tool_call_id: 5}],
    [{role: 'function', name: 'f', content: 'x'}],
    [{role: 'system', content: 'x'}, {role: 'system', content: 'y'}],
    [{role: 'assistant', content: 'x'}],
    [{role: 'user', content: 'x', name: 5}],
    Array.from({length: 20000}, () => ({role: 'user', content: 'x'})),
    [{role: 'user', content: 'x'.repeat(3_000_000)}],
  ],
  tools: [[], [{}], [{type: 'function'}], [{type: 'function', function: {name: ''}}], [{type: 'function', function: {name: 'f', parameters: {type: 'object', properties: {a: {$ref: '#'}}}}}], [{type: 'code_interpreter'}], Array.from({length: 500}, (_, i) => ({type: 'function', function: {name: `f${i}`}}))],
  tool_choice: ['auto', 'required', 'none', 'bogus', {type: 'function'}, {type: 'function', function: {name: 'missing'}}],
  parallel_tool_calls: ['no'],
  max_completion_tokens: [0, -1, 2 ** 31],
  chat_template: ['{{ 1 }}'],
  chat_template_kwargs: [{enable_thinking: true}, {messages: 5}, {tools: 'x'}, {add_generation_prompt: 'x'}],
  continue_final_message: [true],
  add_generation_prompt: ['x'],
  documents: [[{}], ['x'], [{text: 'x'.repeat(1000)}]],
  reasoning_effort: ['extreme', 5],
}

const RESPONSES: Record<string, unknown[]> = {
  input: [[], [{}], [{type: 'message'}], [{type: 'message', role: 'user', content: [{type: 'input_image', image_url: 'x'}]}], [{type: 'item_reference', id: 'x'}], [{type: 'function_call_output', call_id: 'x', output: 'y'}], [{type: 'reasoning', summary: [], encrypted_content: 'x'}], 'x'.repeat(3_000_000)],
  instructions: [5, 'x'.repeat(100)],
  background: [true],
  store: [true, false],
  previous_response_id: ['resp_missing', '', 'x'.repeat(10000)],
  max_output_tokens: [0, 1, 2 ** 31],
  text: [{format: {type: 'json_schema'}}, {format: {type: 'json_schema', name: 'x', schema: {type: 'object'}}}, {verbosity: 'x'}],
  include: [['bogus'], ['message.output_text.logprobs']],
  truncation: ['auto', 'disabled', 'x'],
  metadata: [Object.fromEntries(Array.from({length: 20}, (_, i) => [`k${i}`, 'v'])), {k: 5}, {['x'.repeat(100)]: 'v'}],
  reasoning: [{effort: 'high'}, {effort: 5}],
  conversation: ['c'],
}

const TOKENIZE: Record<string, unknown[]> = {
  prompt: [[1, 2], [-1], [4096], ['a'], [[1]]],
  messages: [[{role: 'user', content: 'x'}], [{role: 'nope', content: 'x'}]],
  add_special_tokens: ['x'],
  return_token_strs: [1],
  tokens: [[1, 2], [-1], [4096], [2 ** 31], [1.5], 'x', Array.from({length: 200_000}, () => 1)],
}

const PROMPTS: unknown[] = [[], [[]], [''], [[-1]], [[4096]], [[1, 2], 'a'], [1, 'a'], Array.from({length: 300}, () => 'a'), [[1.5]], [null], [[2 ** 53]], 'x'.repeat(3_000_000)]

function fieldAttacks(path: string, base: Record<string, unknown>, fields: Record<string, unknown[]>, withAny: boolean): Attack[] {
  const attacks: Attack[] = []
  for (const [field, specific] of Object.entries(fields))
    for (const [index, value] of [...specific, ...(withAny ? ANY : [])].entries()) {
      const body = {...base, [field]: value}
      attacks.push({cls: `fields ${path}`, name: `${field}[${index}] = ${JSON.stringify(value)?.slice(0, 50)}`, run: async (t) => {
        const reply = await request(t, 'POST', path, body)
        // A background response starts as 'queued' (its JSON, or its stream's first event), which the fuzzer's checks do not expect.
        if (body.background === true && reply.status === 200 && /"status":"queued"/.test(reply.text.slice(0, 2000))) return null
        const problem = problemOf(path, reply, body)
        return problem && `${problem}: ${gist(reply)}`
      }})
    }
  return attacks
}

export function fieldAttackList(): Attack[] {
  const completion = {prompt: 'hi', max_tokens: 2}
  const chat = {messages: [{role: 'user', content: 'hi'}], max_tokens: 2}
  const streamed = {...completion, stream: true}
  return [
    ...fieldAttacks('/v1/completions', completion, {...SAMPLING, prompt: PROMPTS}, true),
    ...fieldAttacks('/v1/completions', streamed, SAMPLING, false),
    ...fieldAttacks('/v1/chat/completions', chat, {...SAMPLING, ...CHAT_ONLY}, true),
    ...fieldAttacks('/v1/chat/completions', {...chat, stream: true}, CHAT_ONLY, false),
    ...fieldAttacks('/v1/responses', {input: 'hi', max_output_tokens: 2}, {...RESPONSES, temperature: SAMPLING.temperature!, top_p: SAMPLING.top_p!, tools: CHAT_ONLY.tools!, tool_choice: CHAT_ONLY.tool_choice!}, true),
    ...fieldAttacks('/v1/responses', {input: 'hi', max_output_tokens: 2, stream: true}, RESPONSES, false),
    ...fieldAttacks('/tokenize', {prompt: 'hi'}, TOKENIZE, true),
    ...fieldAttacks('/detokenize', {tokens: [1, 2]}, TOKENIZE, true),
  ]
}
