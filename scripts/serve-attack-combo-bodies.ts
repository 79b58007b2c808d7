// The requests of scripts/serve-attack-combos.ts: a valid chat or completions body, then a seeded random combination
// of features (n / best_of, logprobs, stop strings, max_tokens edges, structured outputs, tools, streaming, seeds,
// penalties, logit_bias, echo, token-array prompts, chat edge cases), each set to a valid, edge or hostile value, and
// the way the client sends it (once, in a burst, or leaving early).
import type {Random} from './fuzz-serve-bodies.js'

export type Route = '/v1/completions' | '/v1/chat/completions'

export interface Combo {
  route: Route
  body: Record<string, unknown>
  /** The features applied, for the report. */
  features: string[]
  /**
   * once: one request read whole; burst: `copies` at the same time (with `leaveMs`, every other copy's client leaves
   * then); mix: with other combos at the same time (batched
   * together); abort: the client leaves after `abortMs` (a stream: after its first bytes).
   */
  send: {kind: 'once'} | {kind: 'burst'; copies: number; leaveMs?: number} | {kind: 'mix'; others: Combo[]} | {kind: 'abort'; abortMs: number}
}

/** Picks a valid value, or (at the combo's wild rate) one from `wild`: edge and hostile values that should get a 4xx or an edge case. */
type Choose = <T>(valid: readonly T[], wild: readonly T[]) => T
type Feature = (r: Random, body: Record<string, unknown>, chat: boolean, choose: Choose) => void

const HUGE = 2 ** 31
const SCHEMA = {type: 'object', properties: {a: {type: 'integer'}, b: {type: 'string', maxLength: 5}}, required: ['a']}
const TOOL = {type: 'function', function: {name: 'get_weather', description: 'Weather', parameters: {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}}}
const WORDS = ['hello', 'the', ' ', '\n', 'é', '🙂', '<|im_end|>', '<s>', '</s>', '{"a":', 'x'.repeat(300)]

/** One of the tokens of the tiny models' 4096-token vocabularies, or an id beyond it now and then. */
const tokenId = (r: Random) => (r.chance(0.95) ? r.int(0, 4095) : r.pick([-1, 4096, HUGE, 1.5]))
const tokenList = (r: Random, length: number) => Array.from({length}, () => tokenId(r))

const FEATURES: Record<string, Feature> = {
  n: (_r, b, _chat, choose) => void (b.n = choose([1, 2, 3, 8], [0, -1, 129, 1.5])),
  best_of: (r, b, _chat, choose) => {
    b.best_of = choose([1, 2, 4], [0, 21])
    if (r.chance(0.5)) b.n = choose([1, 2], [4, 5])
  },
  logprobs: (r, b, chat, choose) => {
    if (chat) {
      b.logprobs = choose([true], [false, 5])
      if (r.chance(0.7)) b.top_logprobs = choose([0, 1, 5, 20], [21, -1])
    } else b.logprobs = choose([0, 1, 5, 20], [21, true])
  },
  prompt_logprobs: (_r, b, _chat, choose) => void (b.prompt_logprobs = choose([0, 1, 5, 20], [-1, 21])),
  stop: (r, b, _chat, choose) =>
    void (b.stop = choose<unknown>([r.pick(WORDS), [r.pick(WORDS), r.pick(WORDS)], [], Array.from({length: r.int(1, 8)}, () => r.pick(WORDS)), 'e', ['e', 'o', 'a', 't', ' ']], [[''], '', [1], Array.from({length: 17}, (_, i) => `s${i}`)])),
  stop_token_ids: (r, b, _chat, choose) => void (b.stop_token_ids = choose<unknown>([Array.from({length: r.int(0, 5)}, () => r.int(0, 4095))], [[-1], [HUGE], 'x', [4096]])),
  include_stop_str_in_output: (r, b) => void (b.include_stop_str_in_output = r.chance(0.5)),
  max_tokens: (r, b, chat, choose) => {
    const value = choose<unknown>([1, 2, 8, 64, 2047, null], [0, -1, 2048, HUGE, 1e12, 1.5, '3', -HUGE])
    b[chat && r.chance(0.5) ? 'max_completion_tokens' : 'max_tokens'] = value
  },
  // Long generations: a burst of them outgrows the qwen2 server's small pool, so requests are preempted and resumed.
  pressure: (_r, b, _chat, choose) => {
    b.ignore_eos = true
    b.max_tokens = choose([150, 400], [100_000])
    b.n = choose([1, 2, 4], [16])
  },
  min_tokens: (_r, b, _chat, choose) => void (b.min_tokens = choose([0, 1, 4], [32, -1, HUGE])),
  ignore_eos: (r, b) => void (b.ignore_eos = r.chance(0.8)),
  response_format: (r, b, _chat, choose) =>
    void (b.response_format = choose<unknown>([
      {type: 'json_object'},
      {type: 'json_schema', json_schema: {name: 'x', schema: SCHEMA}},
      {type: 'json_schema', json_schema: {name: 'x', strict: true, schema: {type: 'array', items: {enum: ['a', 'b']}, minItems: r.pick([0, 3, 1000])}}},
      {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'string', pattern: '^[a-z]{2,4}$'}}},
      {type: 'text'},
    ], [
      {type: 'json_schema', json_schema: {name: 'x'}},
      {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'object', properties: {a: {$ref: '#/$defs/nope'}}}}},
      {type: 'json_schema'},
      {type: 'xml'},
    ])),
  guided: (r, b, _chat, choose) => {
    const key = r.pick(['guided_choice', 'guided_regex', 'guided_json', 'structured_outputs'])
    if (key === 'guided_choice') b.guided_choice = choose<unknown>([['yes', 'no'], ['🙂', 'é']], [[''], []])
    else if (key === 'guided_regex') b.guided_regex = choose(['a+b', '[0-9]{3}', '.*'], ['(', 'x{0,100000}'])
    else if (key === 'guided_json') b.guided_json = choose<unknown>([SCHEMA, {}], ['not json', {type: 'integer', minimum: 5, maximum: 1}])
    else b.structured_outputs = choose<unknown>([{choice: ['a', 'b']}, {regex: '[ab]+'}, {json: SCHEMA}, {grammar: 'root ::= "x"'}], [{}, {choice: []}])
  },
  tools: (r, b, chat, choose) => {
    if (!chat) return void (b.tools = [TOOL])
    b.tools = choose<unknown>([[TOOL], [TOOL, {...TOOL, function: {...TOOL.function, name: 'other'}}], [{type: 'function', function: {name: 'bare'}}]], [[], [{type: 'function'}]])
    if (r.chance(0.8))
      b.tool_choice = choose<unknown>(['auto', 'none', 'required', {type: 'function', function: {name: 'get_weather'}}], [{type: 'function', function: {name: 'missing'}}, 'sometimes'])
    if (r.chance(0.3)) b.parallel_tool_calls = r.chance(0.5)
  },
  stream: (r, b, _chat, choose) => {
    b.stream = choose<unknown>([true], ['true', 1])
    if (r.chance(0.7)) b.stream_options = choose<unknown>([{include_usage: true}, {include_usage: false}, {include_usage: true, continuous_usage_stats: true}, {}, null], [{include_usage: 'yes'}, []])
  },
  seed: (_r, b, _chat, choose) => void (b.seed = choose([0, 1, 42, -1], [2 ** 63, -(2 ** 63), 1.5])),
  sampling: (r, b, _chat, choose) => {
    b.temperature = choose([0, 0.3, 1, 2, 1e-30], [-1, 101])
    if (r.chance(0.5)) b.top_p = choose([0.1, 1, 1e-9], [0, 1.5])
    if (r.chance(0.5)) b.top_k = choose([-1, 0, 1, 5, 4096], [HUGE, -2])
    if (r.chance(0.3)) b.min_p = choose([0, 0.5, 1], [1.5])
  },
  penalties: (r, b, _chat, choose) => {
    b.presence_penalty = choose([-2, 0.5, 2], [3])
    b.frequency_penalty = choose([-2, 1, 2], [-3])
    if (r.chance(0.5)) b.repetition_penalty = choose([0.5, 1, 1.3, 2], [0, -1])
  },
  logit_bias: (r, b, _chat, choose) =>
    void (b.logit_bias = choose<unknown>([
      Object.fromEntries(Array.from({length: r.int(1, 5)}, () => [String(r.int(0, 4095)), r.pick([100, -100, 0.5, -0.5])])),
      // Every token banned but one: the sampler must still produce it (or stop).
      Object.fromEntries(Array.from({length: 4096}, (_, id) => [String(id), id === 7 ? 100 : -100])),
      Object.fromEntries(Array.from({length: 4096}, (_, id) => [String(id), -100])),
    ], [{'5': 'x'}, {x: 1}, {'5': 1e9}, {'4096': 1}, {'-1': 1}])),
  echo: (_r, b, _chat, choose) => void (b.echo = choose<unknown>([true], [false, 1])),
  token_prompt: (r, b, chat, choose) => {
    if (chat) return
    const ids = (length: number) => Array.from({length}, () => r.int(0, 4095))
    b.prompt = choose<unknown>([ids(r.int(1, 20)), [ids(3), ids(5)], Array.from({length: r.int(2, 6)}, () => ids(r.int(1, 8))), ids(1500)], [[], [[]], [1, 'x'], tokenList(r, 8), ids(3000)])
  },
  text_prompt: (r, b, chat, choose) => {
    if (chat) return
    b.prompt = choose<unknown>([' ', 'x'.repeat(1000), ['a', 'b', 'c'], '<|im_start|>user\nhi<|im_end|>', '🙂'.repeat(300), '\u0000'], ['', 'x'.repeat(r.pick([10_000, 200_000])), [], ['', ''], '\ud800'])
    if (r.chance(0.3)) b.suffix = r.pick(['end', ''])
  },
  truncate_prompt_tokens: (_r, b, _chat, choose) => void (b.truncate_prompt_tokens = choose([1, 5, 2048], [0, -1, HUGE])),
  detokenize_options: (r, b) => {
    b.skip_special_tokens = r.chance(0.5)
    if (r.chance(0.5)) b.spaces_between_special_tokens = r.chance(0.5)
    if (r.chance(0.3)) b.return_tokens_as_token_ids = true
  },
  beam: (r, b, _chat, choose) => {
    b.use_beam_search = true
    b.n = choose([2, 3], [1])
    if (r.chance(0.5)) b.length_penalty = r.pick([0, 1, -1])
  },
  chat_edges: (r, b, chat, choose) => {
    if (!chat) return
    const user = (content: unknown) => ({role: 'user', content})
    b.messages = choose<unknown>([
      [{role: 'system', content: 'only a system turn'}],
      [user([{type: 'text', text: 'part one'}, {type: 'text', text: 'part two'}])],
      [user([])],
      [user(null)],
      [user('x'.repeat(3000))],
      [user('hi'), {role: 'assistant', content: 'ho'}, user('again'), {role: 'assistant', content: 'yes'}],
      [user('hi'), {role: 'assistant', content: null, tool_calls: [{id: 'c1', type: 'function', function: {name: 'get_weather', arguments: '{"city":"x"}'}}]}, {role: 'tool', tool_call_id: 'c1', content: 'sunny'}],
      [user('hi'), {role: 'assistant', content: r.pick(['', '  ', 'The answer is', '<|im_end|>'])}],
      [user('🙂'.repeat(300) + '\u0000')],
    ], [
      [],
      [{role: 'wizard', content: 'hi'}],
      [user([{type: 'image_url', image_url: {url: 'data:,'}}])],
      [user('x'.repeat(r.pick([10_000, 200_000])))],
      [user('hi'), {role: 'assistant', content: null}],
      [user(1)],
      [{content: 'no role'}],
      'not a list',
    ])
    if (r.chance(0.3)) b.add_generation_prompt = r.chance(0.5)
    if (r.chance(0.4)) b.continue_final_message = r.chance(0.7)
    if (r.chance(0.2)) b.chat_template_kwargs = choose<unknown>([{enable_thinking: false}, {add_generation_prompt: true}], [{messages: []}, 'x'])
  },
}

const NAMES = Object.keys(FEATURES)

/** A combo: 1..6 features on a valid body, sent once, as a burst of 2..12, among 1..5 other combos, or abandoned early (`top`: may be more than once). */
export function generateCombo(r: Random, top = true): Combo {
  const chat = r.chance(0.5)
  const route: Route = chat ? '/v1/chat/completions' : '/v1/completions'
  const body: Record<string, unknown> = chat ? {messages: [{role: 'user', content: 'Tell me a story'}], max_tokens: r.int(1, 12)} : {prompt: 'Once upon a time', max_tokens: r.int(1, 12)}
  // A seeded request is deterministic: half the combos get one, so their streamed and unstreamed replies can be compared.
  if (r.chance(0.5)) body.seed = r.int(0, 999)
  const features = [...new Set(Array.from({length: r.int(1, 6)}, () => r.pick(NAMES)))]
  // Most combos stay valid, so their features meet deep in the engine; some go wild on every feature.
  const wildRate = r.pick([0, 0, 0.1, 0.5])
  const choose: Choose = (valid, wild) => (wild.length > 0 && r.chance(wildRate) ? r.pick(wild) : r.pick(valid))
  for (const name of features) FEATURES[name]!(r, body, chat, choose)
  const roll = r.next()
  const send: Combo['send'] =
    roll < 0.6 || !top
      ? {kind: 'once'}
      : roll < 0.75
        ? {kind: 'burst', copies: r.int(2, 12), ...(r.chance(0.3) ? {leaveMs: r.pick([0, 20, 200])} : {})}
        : roll < 0.87
          ? {kind: 'mix', others: Array.from({length: r.int(1, 5)}, () => generateCombo(r, false))}
          : {kind: 'abort', abortMs: r.pick([0, 5, 50, 300])}
  return {route, body, features, send}
}
