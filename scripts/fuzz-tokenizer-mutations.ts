// The hostile tokenizer.json, tokenizer_config.json, special_tokens_map.json and chat_template.jinja files of scripts/fuzz-model-files.ts.
import type {HostileCase} from './fuzz-model-mutations.js'

type Json = Record<string, unknown>

export function tokenizerCases(tokenizer: Json, tokenizerConfig: Json): HostileCase[] {
  const model = tokenizer.model as Json
  const vocab = model.vocab as Record<string, number>
  const added = (tokenizer.added_tokens as Json[]) ?? []
  const tok = (label: string, edit: Json) => ({label: `tokenizer.json ${label}`, files: {'tokenizer.json': JSON.stringify({...tokenizer, ...edit})}})
  const cfg = (label: string, edit: Json) => ({label: `tokenizer_config.json ${label}`, files: {'tokenizer_config.json': JSON.stringify(withoutUndefined({...tokenizerConfig, ...edit}))}})
  const someToken = Object.keys(vocab)[10]!
  const cases: HostileCase[] = [
    tok('model missing', {model: undefined}),
    tok('model a string', {model: 'BPE'}),
    tok('model type unknown', {model: {...model, type: 'Banana'}}),
    tok('vocab a list of strings', {model: {...model, vocab: Object.keys(vocab)}}),
    tok('vocab ids strings', {model: {...model, vocab: Object.fromEntries(Object.entries(vocab).map(([k, v]) => [k, String(v)]))}}),
    tok('vocab empty', {model: {...model, vocab: {}}}),
    tok('vocab smaller than the embedding (half)', {model: {...model, vocab: Object.fromEntries(Object.entries(vocab).filter(([, v]) => v < 256))}}),
    tok('vocab id 2^31', {model: {...model, vocab: {...vocab, zzzz: 2 ** 31}}}),
    tok('vocab id just past the model', {model: {...model, vocab: {...vocab, zzzz: 100_000}}}),
    tok('vocab two tokens one id', {model: {...model, vocab: {...vocab, zzzz: vocab[someToken]}}}),
    tok('merges a string', {model: {...model, merges: 'a b'}}),
    tok('merges naming unknown tokens', {model: {...model, merges: ['qqq zzz', ...((model.merges as unknown[]) ?? [])]}}),
    tok('merges numbers', {model: {...model, merges: [1, 2, 3]}}),
    tok('added_tokens id 2^31', {added_tokens: [...added, {id: 2 ** 31, content: '<huge>', special: true}]}),
    tok('added_tokens id -1', {added_tokens: [...added, {id: -1, content: '<neg>', special: true}]}),
    tok('added_tokens id 1e9 (far beyond)', {added_tokens: [...added, {id: 1e9, content: '<far>', special: true}]}),
    tok('added_tokens id 100000 (past the model)', {added_tokens: [...added, {id: 100_000, content: '<past>', special: true}]}),
    tok('added_tokens content a number', {added_tokens: [...added, {id: 5, content: 5, special: true}]}),
    tok('added_tokens content empty', {added_tokens: [...added, {id: 500, content: '', special: true}]}),
    tok('added_tokens a dict', {added_tokens: {a: 1}}),
    tok('added_tokens null entries', {added_tokens: [null, ...added]}),
    tok('pre_tokenizer unknown type', {pre_tokenizer: {type: 'Banana'}}),
    tok('pre_tokenizer a bad regex', {pre_tokenizer: {type: 'Split', pattern: {Regex: '(['}, behavior: 'Isolated', invert: false}}),
    tok('pre_tokenizer a catastrophic regex', {pre_tokenizer: {type: 'Split', pattern: {Regex: '(a+)+$'}, behavior: 'Isolated', invert: false}}),
    tok('normalizer unknown type', {normalizer: {type: 'Banana'}}),
    tok('normalizer a Replace with a bad regex', {normalizer: {type: 'Replace', pattern: {Regex: '(['}, content: ''}}),
    tok('post_processor naming a missing token', {post_processor: {type: 'TemplateProcessing', single: [{SpecialToken: {id: '<nope>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}], pair: [], special_tokens: {'<nope>': {id: '<nope>', ids: [99999], tokens: ['<nope>']}}}}),
    tok('decoder unknown type', {decoder: {type: 'Banana'}}),
    tok('decoder a list', {decoder: [1]}),
    cfg('bos_token a dict without content', {bos_token: {lstrip: false}}),
    cfg('bos_token a number', {bos_token: 5}),
    cfg('bos_token not a token', {bos_token: '<not-a-token>'}),
    cfg('eos_token not a token', {eos_token: '<not-a-token>'}),
    cfg('eos_token a list', {eos_token: ['</s>']}),
    cfg('pad_token a dict with content a number', {pad_token: {content: 7}}),
    cfg('add_bos_token "yes"', {add_bos_token: 'yes'}),
    cfg('tokenizer_class a number', {tokenizer_class: 5}),
    cfg('tokenizer_class LlamaTokenizerFast with add_eos_token and no eos', {tokenizer_class: 'LlamaTokenizerFast', add_eos_token: true, eos_token: undefined}),
    cfg('model_max_length 1e30', {model_max_length: 1e30}),
    cfg('added_tokens_decoder malformed', {added_tokens_decoder: {x: 5}}),
    cfg('added_tokens_decoder huge id', {added_tokens_decoder: {[String(2 ** 31)]: {content: '<big>', special: true}}}),
    cfg('chat_template a list of named templates (default)', {chat_template: [{name: 'tool_use', template: '{{ raise_exception("tool") }}'}, {name: 'default', template: '{% for m in messages %}{{ m.content }}{% endfor %}'}]}),
    cfg('chat_template a list without default', {chat_template: [{name: 'tool_use', template: 'T'}]}),
    cfg('chat_template a list of strings', {chat_template: ['{{ 1 }}']}),
    cfg('chat_template a number', {chat_template: 5}),
    cfg('chat_template a dict', {chat_template: {default: 'x'}}),
    cfg('chat_template a syntax error', {chat_template: '{% for m in messages %}'}),
    cfg('chat_template 1 MB', {chat_template: '{{ "x" }}'.repeat(100_000)}),
    cfg('chat_template nested 10000 deep', {chat_template: '{% if true %}'.repeat(10_000) + 'x' + '{% endif %}'.repeat(10_000)}),
    cfg('chat_template an expression 100000 deep', {chat_template: '{{ ' + '('.repeat(100_000) + '1' + ')'.repeat(100_000) + ' }}'}),
    {label: 'tokenizer_config.json not JSON', files: {'tokenizer_config.json': '{"bos_token": '}},
    {label: 'tokenizer_config.json a list', files: {'tokenizer_config.json': '[]'}},
    {label: 'tokenizer.json a list', files: {'tokenizer.json': '[]'}},
    {label: 'tokenizer.json deleted', files: {'tokenizer.json': null}},
    {label: 'special_tokens_map.json eos a list', files: {'special_tokens_map.json': JSON.stringify({eos_token: ['</s>']})}},
    {label: 'special_tokens_map.json eos content a number', files: {'special_tokens_map.json': JSON.stringify({eos_token: {content: 5}})}},
    {label: 'special_tokens_map.json a string', files: {'special_tokens_map.json': '"x"'}},
  ]
  return cases
}

/** chat_template.jinja files that loop, recurse or write without end. */
export function templateCases(): HostileCase[] {
  const templates: [string, string][] = [
    ['a loop over range(10**9)', '{% for i in range(1000000000) %}x{% endfor %}'],
    ['nested loops of 10^5 x 10^5', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'],
    ['a recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'],
    ['a string doubled 40 times', '{% set s = namespace(v="x") %}{% for i in range(40) %}{% set s.v = s.v + s.v %}{% endfor %}{{ s.v }}'],
    ['a string times 10^9', '{{ "x" * 1000000000 }}'],
    ['a list times 10^9', '{{ ([1] * 1000000000) | length }}'],
    ['a join over a huge range', '{{ range(100000000) | join(",") }}'],
    ['raise_exception at once', '{{ raise_exception("no") }}'],
    ['undefined attribute chain', '{{ messages[0].content.foo.bar }}'],
    ['messages[99]', '{{ messages[99].content }}'],
    ['loop over message content parts', '{% for m in messages %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endfor %}'],
    ['binary garbage', '\u0000\u0001{{\uffff'],
  ]
  return templates.map(([label, source]) => ({label: `chat_template.jinja ${label}`, files: {'chat_template.jinja': source}}))
}

export function withoutUndefined(object: Json): Json {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined))
}
