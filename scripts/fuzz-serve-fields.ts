// The field values of scripts/fuzz-serve.ts: each request field at and past its bounds, in other JSON types, and in-range values that reach the engine.
import type {Random} from './fuzz-serve-bodies.js'

const HOSTILE_STRINGS = ['', ' ', '\u0000', '\uFFFD', '\uD800', '\uDC00x', '🎉🎉', '你好', 'a'.repeat(5000), '<|im_end|>', '<|endoftext|>', '</s>', '<s>', '<think>', '</think>', '<tool_call>', '{"name": "f", "arguments": {}}', '\r\n\r\n', '%s%n', '{{ 7*7 }}', '{% for x in range(10**9) %}x{% endfor %}', 'the the the', 'e']

/** A value of another JSON type (or a numeric edge) to put where a field expects something else. */
export function junk(random: Random): unknown {
  return random.pick<() => unknown>([
    () => null,
    () => true,
    () => false,
    () => random.pick([0, -0, -1, 1, 0.5, -0.5, 1e-320, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64, -(2 ** 63), 1e308, -1e308, 1e21, 3.0000001]),
    () => random.pick(HOSTILE_STRINGS),
    () => [],
    () => {},
    () => [random.pick(HOSTILE_STRINGS)],
    () => ({nested: {deeper: [1, 'x', null]}}),
    () => String(random.int(-3, 3)),
  ])()
}

const numberEdges = (random: Random, edges: readonly number[]) => (random.chance(0.7) ? random.pick(edges) : junk(random))

/** Each sampling field with values at and past its bounds. */
export const FIELD_VALUES: Record<string, (random: Random) => unknown> = {
  n: (r) => numberEdges(r, [1, 2, 3, 0, -1, 64, 1000, 2 ** 31]),
  best_of: (r) => numberEdges(r, [1, 2, 4, 0, 5, 100, 2 ** 40]),
  use_beam_search: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  length_penalty: (r) => numberEdges(r, [0, -1, 1, 2, 1e30, -1e30]),
  early_stopping: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  temperature: (r) => numberEdges(r, [0, 1e-12, 1e-6, 1e-5, 0.7, 1, 2, 100, 100.0001, 1e9, -0.0]),
  top_p: (r) => numberEdges(r, [1, 1e-12, 0.5, 0, -0.1, 1.0000001]),
  top_k: (r) => numberEdges(r, [-1, 0, 1, 2, 5, 49, 1000, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 53, -2]),
  min_p: (r) => numberEdges(r, [0, 1, 0.999999, 1e-9, -0.0, 1.0001]),
  presence_penalty: (r) => numberEdges(r, [-2, 2, 0, 2.0001, -2.5]),
  frequency_penalty: (r) => numberEdges(r, [-2, 2, 0, 1e-300]),
  repetition_penalty: (r) => numberEdges(r, [1, 1e-30, 1e30, 1e300, 0, -1, 10, 1e-300]),
  seed: (r) => numberEdges(r, [0, -1, 42, 2 ** 32, 2 ** 53, -(2 ** 53), 2 ** 63 - 1024, -(2 ** 63), 2 ** 64, 1.5, -0]),
  max_tokens: (r) => numberEdges(r, [1, 2, 8, 0, -1, 16, 100, 10_000, 2 ** 31, 2 ** 53]),
  max_completion_tokens: (r) => numberEdges(r, [1, 4, 0, -1, 2 ** 31]),
  min_tokens: (r) => numberEdges(r, [0, 1, 4, 8, 100, -1, 2 ** 31]),
  logprobs: (r) => numberEdges(r, [0, 1, 5, 20, 21, -1, 1000]),
  top_logprobs: (r) => numberEdges(r, [0, 1, 5, 20, 21, -1]),
  prompt_logprobs: (r) => numberEdges(r, [0, 1, 5, 20, 21, -1]),
  echo: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  stop: (r) =>
    r.pick<() => unknown>([
      () => r.pick(HOSTILE_STRINGS),
      () => [],
      () => [''],
      () => Array.from({length: r.int(1, 20)}, () => r.pick(HOSTILE_STRINGS)),
      () => ['a', 'aa', 'aaa', 'ab', 'ba'],
      () => ['x'.repeat(r.pick([100, 10_000, 200_000]))],
      () => Array.from({length: 16}, () => 'y'.repeat(50_000)),
      () => junk(r),
    ])(),
  stop_token_ids: (r) => r.pick([[], [0], [1, 2, 3], [-1], [2 ** 31], Array.from({length: 1025}, (_, i) => i), [1.5], 'x', Array.from({length: 1024}, () => 2 ** 40)]),
  ignore_eos: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  skip_special_tokens: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  spaces_between_special_tokens: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  include_stop_str_in_output: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  add_special_tokens: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  truncate_prompt_tokens: (r) => numberEdges(r, [1, 2, 0, -1, 100_000, 2 ** 53]),
  return_tokens_as_token_ids: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  return_token_ids: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  logit_bias: (r) =>
    r.pick<() => unknown>([
      () => ({'0': 100, '1': -100}),
      () => ({'5': 1e30}),
      () => ({'-1': 1}),
      () => ({'99999999999999999999': 1}),
      () => ({'1e3': 1}),
      () => ({' 7 ': 5, '007': -5, '+3': 2}),
      () => ({abc: 1}),
      () => ({'3': 'x'}),
      () => Object.fromEntries(Array.from({length: r.pick([300, 5000, 50_000])}, (_, i) => [String(i % 400), (i % 200) - 100])),
      () => Object.fromEntries(Array.from({length: 2000}, (_, i) => [String(i), 100])),
      () => junk(r),
    ])(),
  allowed_token_ids: (r) => r.pick([[0], [1, 2], [], [-1], [1e9], Array.from({length: 5000}, (_, i) => i % 300), 'x']),
  bad_words: (r) => r.pick([['the'], [''], [' '], ['a'.repeat(257)], Array.from({length: 257}, () => 'w'), ['🎉', '\uD800'], 'x', [1]]),
  stream: (r) => (r.chance(0.85) ? r.chance(0.5) : junk(r)),
  stream_options: (r) =>
    r.pick([{}, {include_usage: true}, {include_usage: false}, {include_usage: null}, {continuous_usage_stats: true}, {include_usage: true, continuous_usage_stats: true}, {include_usage: 'yes'}, junk(r)]),
  priority: (r) => numberEdges(r, [0, 1, -1]),
  user: (r) => (r.chance(0.7) ? r.pick(HOSTILE_STRINGS) : junk(r)),
  model: (r) => r.pick(['', 'nope', 'x'.repeat(10_000), junk(r)]),
  suffix: (r) => r.pick(['', 'tail', null]),
  logits_processors: (r) => r.pick([[], ['x'], null]),
  chat_template: (r) => r.pick(['{{ 1 }}', '', null]),
  chat_template_kwargs: (r) => r.pick([{}, {enable_thinking: false}, {enable_thinking: true}, {add_generation_prompt: false}, {tools: 'x'}, {messages: []}, {x: 'y'.repeat(100_000)}, junk(r)]),
  add_generation_prompt: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  continue_final_message: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  documents: (r) => r.pick([[], [{title: 't', text: 'x'}], ['x'], junk(r)]),
  reasoning_effort: (r) => r.pick(['low', 'high', 'none', 7, junk(r)]),
  include_reasoning: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  parallel_tool_calls: (r) => (r.chance(0.8) ? r.chance(0.5) : junk(r)),
  response_format: (r) => responseFormat(r),
  guided_json: (r) => r.pick([{type: 'object'}, {type: 'string', maxLength: 3}, '{"type": "integer"}', '{not json', recursiveSchema(), deepSchema(r.int(10, 300)), junk(r)]),
  guided_regex: (r) => r.pick(['[0-9]{1,3}', '(', 'a{99999}', '(a|b)*c', '\\p{L}+', '', '(?=x)y', junk(r)]),
  guided_choice: (r) => r.pick([['yes', 'no'], [], [''], ['a'.repeat(5000)], Array.from({length: 2000}, (_, i) => `c${i}`), [1], junk(r)]),
  guided_grammar: (r) => r.pick(['root ::= "a" | "b"', 'root ::= root', 'start: "x"', 'root ::= [', '', junk(r)]),
  structural_tag: (r) => r.pick(['{"type":"structural_tag"}', '{', {structures: []}, junk(r)]),
  guided_decoding_backend: (r) => r.pick(['xgrammar', 'outlines', junk(r)]),
  tools: (r) => tools(r),
  tool_choice: (r) =>
    r.pick(['auto', 'none', 'required', 'any', {type: 'function', function: {name: 'get_weather'}}, {type: 'function', function: {name: 'nope'}}, {type: 'function'}, {function: {name: 1}}, junk(r)]),
  functions: (r) => r.pick([[{name: 'f', parameters: {}}], junk(r)]),
  unknown_field: (r) => junk(r),
}

function recursiveSchema() {
  return {$defs: {node: {type: 'object', properties: {next: {$ref: '#/$defs/node'}}, required: ['next']}}, $ref: '#/$defs/node'}
}

function deepSchema(depth: number): unknown {
  let schema: Record<string, unknown> = {type: 'integer'}
  for (let i = 0; i < depth; i++) schema = {type: 'object', properties: {a: schema}, required: ['a']}
  return schema
}

function responseFormat(r: Random): unknown {
  return r.pick<() => unknown>([
    () => ({type: 'text'}),
    () => ({type: 'json_object'}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: recursiveSchema()}}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: deepSchema(r.int(50, 2000))}}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: {type: 'string', pattern: '('}}}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: {enum: Array.from({length: 20_000}, (_, i) => i)}}}),
    () => ({type: 'json_schema', json_schema: {name: 'x', schema: {$ref: '#/nowhere'}}}),
    () => ({type: 'json_schema', json_schema: {schema: {type: 'array', minItems: 2 ** 31}}}),
    () => ({type: 'json_schema'}),
    () => ({type: 'structural_tag', structures: [], triggers: []}),
    () => ({type: 'grammar', grammar: 'root ::= "x"'}),
    () => ({type: 'bogus'}),
    () => junk(r),
  ])()
}

function tools(r: Random): unknown {
  const fn = (name: unknown, parameters: unknown) => ({type: 'function', function: {name, description: 'd', parameters}})
  return r.pick<() => unknown>([
    () => [fn('get_weather', {type: 'object', properties: {city: {type: 'string'}}, required: ['city']})],
    () => [fn('get_weather', deepSchema(r.int(20, 500)))],
    () => [fn('get_weather', recursiveSchema())],
    () => [fn('', {})],
    () => [fn('get_weather', {}), fn('get_weather', {})],
    () => Array.from({length: r.pick([50, 2000])}, (_, i) => fn(`f${i}`, {type: 'object'})),
    () => [fn(7, null)],
    () => [{type: 'retrieval'}],
    () => [{type: 'function'}],
    () => [fn('x'.repeat(100_000), {})],
    () => [],
    () => junk(r),
  ])()
}

const PROMPT_TEXTS = ['Once upon a time', 'The capital of France is', 'emoji 🎉 and 你好', '', ' ', '\u0000\u0001', '\uD800 lone', '<s><s></s>', '<|im_start|>user\nhi<|im_end|>', 'word '.repeat(2000), 'x'.repeat(300_000)]

export function prompt(r: Random): unknown {
  return r.pick<() => unknown>([
    () => r.pick(PROMPT_TEXTS.slice(0, 3)),
    () => r.pick(PROMPT_TEXTS),
    () => Array.from({length: r.int(1, 6)}, () => r.pick(PROMPT_TEXTS.slice(0, 4))),
    () => [],
    () => [[]],
    () => Array.from({length: r.int(1, 20)}, () => r.int(0, 300)),
    () => [0],
    () => [-1],
    () => [2 ** 31],
    () => [1.5],
    () => [1e400],
    () => Array.from({length: r.int(1, 4)}, () => Array.from({length: r.int(1, 8)}, () => r.int(0, 300))),
    () => [[1, 2], 'x'],
    () => Array.from({length: r.pick([100, 3000])}, () => 'hi'),
    () => Array.from({length: 5000}, () => 5),
    () => junk(r),
  ])()
}

function message(r: Random): unknown {
  const role = r.chance(0.8) ? r.pick(['user', 'system', 'assistant', 'developer', 'tool', 'function']) : r.pick(['bot', '', 'USER', null, 7])
  const content = r.pick<() => unknown>([
    () => r.pick(PROMPT_TEXTS.slice(0, 4)),
    () => r.pick(PROMPT_TEXTS),
    () => null,
    () => [{type: 'text', text: 'hello'}, {type: 'text', text: 'world'}],
    () => [{type: 'image_url', image_url: {url: 'data:'}}],
    () => [{type: 'input_audio'}],
    () => [{type: 'mystery', text: 'x'}],
    () => [{type: 'text'}],
    () => [{text: 'no type'}],
    () => ['bare string part'],
    () => [],
    () => junk(r),
  ])()
  const base: Record<string, unknown> = {role, content}
  if (role === 'tool' || r.chance(0.1)) base.tool_call_id = r.chance(0.8) ? 'call_1' : junk(r)
  if (r.chance(0.1)) base.name = r.chance(0.7) ? 'someone' : junk(r)
  if (role === 'assistant' && r.chance(0.3))
    base.tool_calls = r.pick([[{id: 'call_1', type: 'function', function: {name: 'get_weather', arguments: '{"city": "Paris"}'}}], [{function: {name: 'f', arguments: '{bad json'}}], [{function: {name: 'f', arguments: {a: 1}}}], junk(r)])
  if (r.chance(0.05)) base.reasoning_content = 'thinking...'
  return base
}

export function messages(r: Random): unknown {
  return r.pick<() => unknown>([
    () => [{role: 'user', content: r.pick(PROMPT_TEXTS.slice(0, 3))}],
    () => Array.from({length: r.int(1, 5)}, () => message(r)),
    () => [],
    () => Array.from({length: r.pick([500, 20_000])}, () => ({role: 'user', content: 'hi'})),
    () => [{role: 'assistant', content: 'Sure, '}],
    () => junk(r),
  ])()
}

/** In-range values only, combined freely: these reach the engine (n x best_of x logprobs x echo x stop x stream x prompt lists). */
export const VALID_VALUES: Record<string, (random: Random) => unknown> = {
  n: (r) => r.int(1, 3),
  best_of: (r) => r.int(1, 4),
  use_beam_search: (r) => r.chance(0.5),
  temperature: (r) => r.pick([0, 1e-6, 0.3, 1, 2, 100]),
  top_p: (r) => r.pick([1, 1e-9, 0.5]),
  top_k: (r) => r.pick([-1, 0, 1, 3, 50, 511, 512, 513, 100_000, 2 ** 31 - 1, 2 ** 31, 2 ** 53]),
  min_p: (r) => r.pick([0, 0.5, 1]),
  presence_penalty: (r) => r.pick([-2, 2]),
  frequency_penalty: (r) => r.pick([-2, 2]),
  repetition_penalty: (r) => r.pick([1e-30, 0.5, 2, 1e30]),
  seed: (r) => r.pick([0, -1, 2 ** 53, -(2 ** 63), 2 ** 63 - 1024]),
  max_tokens: (r) => r.int(1, 12),
  min_tokens: (r) => r.int(0, 4),
  ignore_eos: (r) => r.chance(0.5),
  logprobs: (r) => r.int(0, 20),
  prompt_logprobs: (r) => r.int(0, 20),
  echo: (r) => r.chance(0.5),
  stop: (r) => r.pick(['e', [' ', 'a'], ['a', 'aa', 'ab'], '\uFFFD', ['🎉', '<|im_end|>', '</s>'], 'x'.repeat(3000)]),
  stop_token_ids: (r) => r.pick([[0], [2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Array.from({length: 1024}, (_, i) => i)]),
  include_stop_str_in_output: (r) => r.chance(0.5),
  skip_special_tokens: (r) => r.chance(0.5),
  logit_bias: (r) => r.pick([{'0': 100}, {'2': 100, '1': 100}, Object.fromEntries(Array.from({length: 300}, (_, i) => [String(i), -100]))]),
  allowed_token_ids: (r) => r.pick([[0], [2], [5, 6], [0, 1, 2]]),
  bad_words: (r) => r.pick([['the'], ['a', 'e', ' ']]),
  truncate_prompt_tokens: (r) => r.int(1, 5),
  return_token_ids: (r) => r.chance(0.5),
  return_tokens_as_token_ids: (r) => r.chance(0.5),
  add_special_tokens: (r) => r.chance(0.5),
  stream: (r) => r.chance(0.5),
  stream_options: (r) => r.pick([{include_usage: true}, {include_usage: true, continuous_usage_stats: true}]),
  top_logprobs: (r) => r.int(0, 20),
  guided_choice: (r) => r.pick([['yes', 'no'], ['a', 'ab', 'abc']]),
  guided_regex: (r) => r.pick(['[0-9]{1,3}', '(ab|c)+']),
  response_format: (r) => r.pick([{type: 'json_object'}, {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}]),
  tools: (r) => r.pick([[{type: 'function', function: {name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}}}]]),
  tool_choice: (r) => r.pick(['auto', 'none', 'required', {type: 'function', function: {name: 'get_weather'}}]),
}

