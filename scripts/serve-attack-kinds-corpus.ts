// The requests of scripts/serve-attack-model-kinds.ts, built for one model kind's limits: every sampling feature at
// and past its limit (n and best_of at --max-num-seqs, beams, logprobs 20), prompts empty, out of the vocabulary and
// past --max-model-len, guided decoding and tools, seeds, penalties with a logit_bias on every token, max_tokens
// edges, streams; each with what the server must answer: a 200, a 4xx, or either (always well-shaped).

export type Expect = 'ok' | '4xx' | 'any'

export interface KindAttack {
  path: string
  body: Record<string, unknown>
  expect: Expect
}

export interface KindLimits {
  vocabSize: number
  maxModelLen: number
  maxNumSeqs: number
  /** The model has a chat template (models without one answer chat requests with a 400). */
  chat: boolean
  /** The server speculates: beam search is refused with a 400. */
  speculative: boolean
}

const SCHEMA = {type: 'object', properties: {k: {type: 'string', maxLength: 4}, n: {type: 'integer'}}, required: ['k']}
const TOOLS = [{type: 'function', function: {name: 'f', parameters: {type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}}}]
const GRAMMAR = 'root ::= "yes" | "no" | digits\ndigits ::= [0-9]+'

export function kindCorpus(limits: KindLimits): KindAttack[] {
  const {vocabSize: v, maxModelLen: len, maxNumSeqs: seqs} = limits
  const attacks: KindAttack[] = []
  const c = (expect: Expect, extra: Record<string, unknown>) => attacks.push({path: '/v1/completions', body: {prompt: 'hello there', max_tokens: 6, ...extra}, expect})
  // A chat request needs a template; without one it must be a clear 4xx.
  const chat = (expect: Expect, extra: Record<string, unknown>) =>
    attacks.push({path: '/v1/chat/completions', body: {messages: [{role: 'user', content: 'hi'}], max_tokens: 6, ...extra}, expect: limits.chat ? expect : expect === 'ok' ? '4xx' : expect})
  const beams: Expect = limits.speculative ? '4xx' : 'ok'
  const ids = (count: number, from = 5) => Array.from({length: count}, (_, i) => from + (i % 40))
  const everyToken = (bias: number) => Object.fromEntries(Array.from({length: v}, (_, id) => [String(id), bias]))

  // n, best_of and beams at and past --max-num-seqs.
  c('ok', {n: seqs, temperature: 1})
  c('4xx', {n: seqs + 1})
  c('ok', {best_of: seqs, n: 2})
  c('4xx', {best_of: seqs + 1, n: 1})
  c(beams, {use_beam_search: true, best_of: seqs, n: 2, max_tokens: 5})
  c(beams, {use_beam_search: true, n: 3, logprobs: 20, max_tokens: 4})
  c('any', {use_beam_search: true, n: 2, stream: true})
  c('any', {use_beam_search: true, n: 2, guided_regex: '[a-z]{1,4}'})
  c('any', {use_beam_search: true, n: 2, temperature: 0.7, length_penalty: -3, early_stopping: 'never'})
  c('ok', {best_of: seqs, n: seqs, seed: 3, stream: true, stream_options: {include_usage: true}})
  // Logprobs at and past their limit, echo and prompt logprobs.
  c('ok', {n: seqs, logprobs: 20})
  c('4xx', {logprobs: 21})
  c('ok', {echo: true, logprobs: 20, max_tokens: 0})
  c('ok', {echo: true, logprobs: 5, n: 3})
  c('ok', {prompt_logprobs: 20, n: 2})
  c('4xx', {prompt_logprobs: 21})
  c('any', {prompt_logprobs: -1})
  c('4xx', {echo: true, prompt_logprobs: 20, logprobs: 20, stream: true}) // vLLM: no prompt logprobs when streaming
  c('ok', {echo: true, logprobs: 20, stream: true, n: 2})
  // Prompts at, past and far past the context; empty ones; token ids outside the vocabulary.
  c('ok', {prompt: ids(len - 1), max_tokens: 1})
  c('ok', {prompt: ids(len - 1), max_tokens: 1, echo: true, logprobs: 20, prompt_logprobs: 20})
  c('ok', {prompt: ids(len - 2), max_tokens: null, ignore_eos: true})
  c('4xx', {prompt: ids(len), max_tokens: 1})
  c('4xx', {prompt: ids(len + 1), max_tokens: 1})
  c('4xx', {prompt: ids(len * 8), max_tokens: 1, stream: true})
  c('4xx', {prompt: 'hello there '.repeat(len * 2)})
  c('4xx', {prompt: ['ok', 'hello there '.repeat(len * 2)], n: 2})
  c('any', {prompt: ids(len - 1), max_tokens: 16})
  c('any', {prompt: ''}) // a 400, unless the tokenizer adds a BOS token
  c('4xx', {prompt: []})
  c('4xx', {prompt: [[]]})
  c('any', {prompt: ['a', '']})
  c('4xx', {prompt: [v]})
  c('4xx', {prompt: [-1]})
  c('4xx', {prompt: [2 ** 53]})
  c('4xx', {prompt: [1.5]})
  c('4xx', {prompt: [[1, 2], [v + 7]]})
  c('ok', {prompt: [v - 1], max_tokens: 2})
  c('ok', {prompt: [0], max_tokens: 2, prompt_logprobs: 1})
  // Truncation past the context, token ids back as strings, special tokens shown; fields vLLM refuses or ignores.
  c('ok', {prompt: 'hello there '.repeat(len * 2), truncate_prompt_tokens: len - 8, echo: true, logprobs: 1})
  c('4xx', {prompt: ids(8), truncate_prompt_tokens: len + 1})
  c('ok', {return_tokens_as_token_ids: true, logprobs: 5, skip_special_tokens: false, spaces_between_special_tokens: false, n: 2})
  c('4xx', {priority: 1})
  c('ok', {cache_salt: 'salt', n: 2, stream: true})
  // Stop sequences: many, empty, long, token ids (every token of the vocabulary; one outside it).
  c('ok', {stop: ['e', 'th', ' ', '\n'], n: 2})
  c('any', {stop: ['']})
  c('any', {stop: 'x'.repeat(5000)})
  c('ok', {stop_token_ids: Array.from({length: v}, (_, i) => i), max_tokens: 3})
  c('any', {stop_token_ids: [v]})
  c('ok', {stop: ['a', 'e', 'i', 'o', 'u'], include_stop_str_in_output: true, stream: true, logprobs: 1})
  // Guided decoding of every kind, alone, with n, streamed, and against a bias on every token.
  c('ok', {guided_json: SCHEMA, n: 2, max_tokens: 24})
  c('ok', {guided_regex: '[a-c]{3}', max_tokens: 6})
  c('ok', {guided_grammar: GRAMMAR, max_tokens: 6})
  c('ok', {guided_choice: ['yes', 'no', 'maybe'], n: 3})
  c('ok', {response_format: {type: 'json_object'}, max_tokens: 8})
  c('ok', {structured_outputs: {regex: '[0-9]+'}, stream: true, n: 2, logprobs: 2})
  c('ok', {guided_json: SCHEMA, logit_bias: everyToken(-100), max_tokens: 8})
  c('ok', {guided_regex: 'a+', max_tokens: 1})
  c('4xx', {guided_regex: '(unclosed'})
  c('4xx', {guided_grammar: 'root ::= undefined_rule'})
  c('ok', {guided_json: SCHEMA, prompt: ids(len - 2), max_tokens: 1})
  // Seeds and penalties; a bias on every token.
  for (const seed of [0, -1, 2 ** 63, 2 ** 64 + 1]) c('any', {seed, temperature: 1})
  c('4xx', {seed: 1.5})
  c('ok', {presence_penalty: 2, frequency_penalty: -2, repetition_penalty: 2, logit_bias: everyToken(100), n: 2})
  c('ok', {logit_bias: everyToken(-100), repetition_penalty: 0.01, temperature: 1e-6})
  c('ok', {logit_bias: {...everyToken(-100), 7: 100}, logprobs: 20, n: 2})
  c('4xx', {logit_bias: {[v]: 1}})
  c('any', {logit_bias: {'0': 101}}) // vLLM clamps to [-100, 100]
  c('any', {allowed_token_ids: []})
  c('4xx', {allowed_token_ids: [v]})
  c('ok', {allowed_token_ids: [5, 6], logprobs: 20})
  c('ok', {bad_words: ['e', 'the', 'a b'], n: 2})
  c('ok', {min_p: 1, top_p: 1e-9, top_k: 1, temperature: 2})
  // max_tokens and min_tokens edges.
  c('4xx', {max_tokens: 0}) // only with echo
  c('ok', {max_tokens: 1, n: seqs})
  c('4xx', {max_tokens: 10 ** 9}) // past the context, as vLLM
  c('4xx', {max_tokens: -1})
  c('4xx', {max_tokens: 1.5})
  c('4xx', {min_tokens: 20, max_tokens: 4})
  c('ok', {min_tokens: 12, max_tokens: 12, stop: ['e'], stop_token_ids: [0, 1, 2]})
  // Chat: tools, guided, logprobs, beams, continuation; the responses API.
  chat('ok', {tools: TOOLS, tool_choice: 'required', max_tokens: 24})
  chat('ok', {tools: TOOLS, tool_choice: {type: 'function', function: {name: 'f'}}, max_tokens: 24, n: 2})
  chat('ok', {tools: TOOLS, tool_choice: 'auto', stream: true})
  chat('ok', {tools: TOOLS, tool_choice: 'required', stream: true, max_tokens: 24})
  chat('any', {tools: TOOLS, tool_choice: 'required', use_beam_search: true, n: 2, max_tokens: 24})
  chat('4xx', {tools: TOOLS, tool_choice: {type: 'function', function: {name: 'nope'}}})
  chat('ok', {response_format: {type: 'json_schema', json_schema: {name: 's', schema: SCHEMA}}, n: 2, max_tokens: 24})
  chat('ok', {logprobs: true, top_logprobs: 20, n: seqs, stream: true})
  chat('4xx', {logprobs: true, top_logprobs: 21})
  chat(beams, {use_beam_search: true, n: 2})
  chat('ok', {echo: true, logprobs: true, top_logprobs: 3})
  chat('ok', {prompt_logprobs: 5})
  chat('4xx', {max_completion_tokens: 0})
  chat('ok', {continue_final_message: true, add_generation_prompt: false, messages: [{role: 'user', content: 'x'}, {role: 'assistant', content: 'y'}]})
  chat('4xx', {messages: []})
  chat('4xx', {messages: [{role: 'user', content: 'hello there '.repeat(len * 2)}]})
  chat('ok', {seed: 5, presence_penalty: -2, logit_bias: everyToken(50), stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}})
  attacks.push({path: '/v1/responses', body: {input: 'hi', max_output_tokens: 5}, expect: limits.chat ? 'ok' : '4xx'})
  attacks.push({path: '/v1/responses', body: {input: 'hi', max_output_tokens: 5, stream: true, top_logprobs: 20}, expect: limits.chat ? 'ok' : '4xx'})
  attacks.push({path: '/v1/responses', body: {input: 'hi', tools: [{type: 'function', name: 'f', parameters: SCHEMA}], tool_choice: 'required', max_output_tokens: 24}, expect: limits.chat ? 'ok' : '4xx'})
  attacks.push({path: '/v1/responses', body: {input: 'hi', text: {format: {type: 'json_schema', name: 's', schema: SCHEMA}}, max_output_tokens: 24}, expect: limits.chat ? 'ok' : '4xx'})
  attacks.push({path: '/tokenize', body: {prompt: 'hello there '.repeat(len * 2)}, expect: 'ok'}) // counted past the context, as vLLM
  attacks.push({path: '/tokenize', body: {messages: [{role: 'user', content: 'hi'}]}, expect: limits.chat ? 'ok' : '4xx'})
  attacks.push({path: '/detokenize', body: {tokens: [5, 6, v]}, expect: '4xx'})
  return attacks
}
