// The hostile inputs of scripts/serve-attack-round14.ts: JSON bodies with huge, deep or edge values in every kind of
// field on each POST route, and raw requests (encodings, framing, headers sent slowly). Each must get a shaped 200 or
// an OpenAI-style 4xx; `expect` pins the status where only one is right.
import {postBytes} from './serve-attack-wire.js'

export type HostileCase =
  | {kind: 'json'; name: string; path: string; body: unknown; headers?: Record<string, string>; expect?: number}
  | {kind: 'raw'; name: string; pieces: (string | Buffer | number)[]; idleMs?: number; expect?: number; mayCloseUnanswered?: boolean}

const nested = (depth: number, leaf: unknown = 1): unknown => Array.from({length: depth}).reduce<unknown>((inner) => [inner], leaf)
const nestedObject = (depth: number): unknown => Array.from({length: depth}).reduce<unknown>((inner) => ({a: inner}), 'x')
const chat = (extra: Record<string, unknown>) => ({messages: [{role: 'user', content: 'hi'}], max_tokens: 4, ...extra})
const completion = (extra: Record<string, unknown>) => ({prompt: 'hi', max_tokens: 4, ...extra})
const tool = (name: string, parameters: unknown = {type: 'object', properties: {}}) => ({type: 'function', function: {name, parameters}})

function jsonCases(): HostileCase[] {
  const cases: HostileCase[] = []
  const add = (name: string, path: string, body: unknown, expect?: number) => cases.push({kind: 'json', name, path, body, expect})
  // Numbers at and past their edges, in every sampling field of both generation routes.
  const numbers: [string, unknown][] = [['0', 0], ['-1', -1], ['1e9', 1e9], ['1.5', 1.5], ['2^53+1', 9007199254740993], ['"2"', '2'], ['1e-320', 1e-320], ['true', true]]
  for (const field of ['n', 'best_of', 'max_tokens', 'logprobs', 'top_logprobs', 'prompt_logprobs', 'min_tokens', 'top_k', 'seed', 'temperature', 'top_p', 'min_p', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'truncate_prompt_tokens'])
    for (const [label, value] of numbers) {
      add(`completions ${field} ${label}`, '/v1/completions', completion({[field]: value}))
      add(`chat ${field} ${label}`, '/v1/chat/completions', chat({[field]: value, ...(field === 'top_logprobs' ? {logprobs: true} : {})}))
    }
  add('n 1024, max_tokens 1 on 64 blocks', '/v1/completions', completion({n: 1024, max_tokens: 1}))
  add('n 200 x 40 tokens on 64 blocks', '/v1/completions', completion({n: 200, max_tokens: 40, ignore_eos: true}))
  add('best_of 1024, n 1', '/v1/completions', completion({best_of: 1024, n: 1, max_tokens: 2}))
  add('beam search width 64', '/v1/completions', completion({use_beam_search: true, n: 64, best_of: 64, max_tokens: 8}))
  add('logprobs 20, prompt_logprobs 20, echo, n 8', '/v1/completions', completion({logprobs: 20, prompt_logprobs: 20, echo: true, n: 8, max_tokens: 16}))
  // Stop strings: many, long, empty, overlapping, unicode.
  add('10,000 stop strings', '/v1/completions', completion({stop: Array.from({length: 10_000}, (_, i) => `s${i}`)}))
  add('200,000 stop strings', '/v1/chat/completions', chat({stop: Array.from({length: 200_000}, (_, i) => `${i}`)}))
  add('a 1 MB stop string', '/v1/completions', completion({stop: 'x'.repeat(1_000_000)}))
  add('stop [""]', '/v1/completions', completion({stop: ['']}))
  add('stop of lone surrogates', '/v1/completions', completion({stop: ['\ud800', '\udfff']}))
  add('stop_token_ids 100,000 ids', '/v1/completions', completion({stop_token_ids: Array.from({length: 100_000}, (_, i) => i)}))
  add('stop_token_ids past the vocabulary', '/v1/completions', completion({stop_token_ids: [2 ** 31, -1]}))
  // logit_bias: huge, odd keys and values.
  add('logit_bias of 300,000 keys', '/v1/completions', completion({logit_bias: Object.fromEntries(Array.from({length: 300_000}, (_, i) => [String(i), 1]))}))
  for (const [label, bias] of [['key "abc"', {abc: 1}], ['key "-1"', {'-1': 1}], ['key "1e3"', {'1e3': 1}], ['key " 5"', {' 5': 1}], ['key 2^40', {[String(2 ** 40)]: 1}], ['value 1e308', {'5': 1e308}], ['value "1"', {'5': '1'}], ['value null', {'5': null}], ['an array', [1, 2]]] as const) {
    add(`completions logit_bias ${label}`, '/v1/completions', completion({logit_bias: bias}))
    add(`chat logit_bias ${label}`, '/v1/chat/completions', chat({logit_bias: bias}))
  }
  add('allowed_token_ids 100,000', '/v1/completions', completion({allowed_token_ids: Array.from({length: 100_000}, (_, i) => i % 1000)}))
  add('allowed_token_ids []', '/v1/completions', completion({allowed_token_ids: []}))
  add('bad_words 5,000', '/v1/completions', completion({bad_words: Array.from({length: 5000}, (_, i) => `w${i}`)}))
  add('bad_words [""]', '/v1/completions', completion({bad_words: ['']}))
  // Prompts: token lists at odd values, deep nesting, empties.
  for (const [label, prompt] of [['[]', []], ['[[]]', [[]]], ['[""]', ['']], ['ids past the vocabulary', [2 ** 31, 5]], ['negative ids', [-1]], ['float ids', [1.5]], ['nested 100 deep', nested(100)], ['10^5 one-token prompts', Array.from({length: 100_000}, () => [1])], ['10^5 empty strings', Array.from({length: 100_000}, () => '')], ['mixed strings and ids', ['a', [1]]]] as const)
    add(`completions prompt ${label}`, '/v1/completions', {prompt, max_tokens: 2})
  add('suffix 1 MB', '/v1/completions', completion({suffix: 'x'.repeat(1_000_000)}))
  // Chat messages and content of every odd shape.
  for (const [label, messages] of [
    ['[]', []],
    ['content nested 120 deep', [{role: 'user', content: nestedObject(120)}]],
    ['content parts of unknown types', [{role: 'user', content: [{type: 'audio', audio: 'x'}, {type: 'x'}]}]],
    ['10^5 text parts', [{role: 'user', content: Array.from({length: 100_000}, () => ({type: 'text', text: 'a'}))}]],
    ['image_url parts', [{role: 'user', content: [{type: 'image_url', image_url: {url: 'data:image/png;base64,AAAA'}}]}]],
    ['role "tool" without tool_call_id', [{role: 'tool', content: 'x'}]],
    ['role 5', [{role: 5, content: 'x'}]],
    ['a 1 MB name', [{role: 'user', content: 'x', name: 'n'.repeat(1_000_000)}]],
    ['assistant tool_calls with 1 MB arguments', [{role: 'user', content: 'x'}, {role: 'assistant', content: null, tool_calls: [{id: 'c', type: 'function', function: {name: 'f', arguments: '{'.repeat(1_000_000)}}]}]],
    ['10,000 tool_calls', [{role: 'user', content: 'x'}, {role: 'assistant', tool_calls: Array.from({length: 10_000}, (_, i) => ({id: `c${i}`, type: 'function', function: {name: 'f', arguments: '{}'}}))}]],
    ['content null everywhere', [{role: 'system', content: null}, {role: 'user', content: null}]],
  ] as const)
    add(`chat messages ${label}`, '/v1/chat/completions', {messages, max_tokens: 2})
  // Tools, tool_choice and response_format edges.
  add('1,000 tools', '/v1/chat/completions', chat({tools: Array.from({length: 1000}, (_, i) => tool(`f${i}`))}))
  add('a tool with parameters 120 deep', '/v1/chat/completions', chat({tools: [tool('f', nestedObject(120))]}))
  add('a tool whose parameters are true', '/v1/chat/completions', chat({tools: [tool('f', true)], tool_choice: 'required'}))
  add('tool_choice naming a missing tool', '/v1/chat/completions', chat({tools: [tool('f')], tool_choice: {type: 'function', function: {name: 'g'}}}))
  add('tool_choice required without tools', '/v1/chat/completions', chat({tool_choice: 'required'}))
  add('tool names of 100 KB', '/v1/chat/completions', chat({tools: [tool('f'.repeat(100_000))], tool_choice: 'required'}))
  add('duplicate tool names, required', '/v1/chat/completions', chat({tools: [tool('f'), tool('f')], tool_choice: 'required', max_tokens: 30}))
  add('tool_choice required, recursive parameters', '/v1/chat/completions', chat({tools: [tool('f', {$defs: {n: {type: 'object', properties: {next: {$ref: '#/$defs/n'}}}}, $ref: '#/$defs/n'})], tool_choice: 'required', max_tokens: 40}))
  for (const [label, format] of [
    ['json_schema true', {type: 'json_schema', json_schema: {name: 'x', schema: true}}],
    ['json_schema false', {type: 'json_schema', json_schema: {name: 'x', schema: false}}],
    ['json_schema $ref to itself', {type: 'json_schema', json_schema: {name: 'x', schema: {$ref: '#'}}}],
    ['json_schema $ref cycle', {type: 'json_schema', json_schema: {name: 'x', schema: {$defs: {a: {$ref: '#/$defs/b'}, b: {$ref: '#/$defs/a'}}, $ref: '#/$defs/a'}}}],
    ['json_schema pattern of catastrophic backtracking', {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'string', pattern: '^(a+)+$'}}}],
    ['json_schema enum of 50,000', {type: 'json_schema', json_schema: {name: 'x', schema: {enum: Array.from({length: 50_000}, (_, i) => `v${i}`)}}}],
    ['json_schema minLength 1e9', {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'string', minLength: 1e9}}}],
    ['json_schema minItems 1e9', {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'array', minItems: 1e9}}}],
    ['json_schema multipleOf 1e-300', {type: 'json_schema', json_schema: {name: 'x', schema: {type: 'number', multipleOf: 1e-300}}}],
    ['json_object, n 4', {type: 'json_object'}],
    ['type "text" with a schema', {type: 'text', json_schema: {}}],
    ['type 5', {type: 5}],
  ] as const) {
    add(`response_format ${label}`, '/v1/chat/completions', chat({response_format: format, max_tokens: 20, ...(label.includes('n 4') ? {n: 4} : {})}))
  }
  add('guided_regex of 100,000 alternatives', '/v1/completions', completion({guided_regex: Array.from({length: 100_000}, (_, i) => `w${i}`).join('|')}))
  add('guided_grammar of 1 MB', '/v1/completions', completion({guided_grammar: `root ::= ${Array.from({length: 60_000}, (_, i) => `"t${i}"`).join(' | ')}`}))
  add('guided_choice of 100,000', '/v1/completions', completion({guided_choice: Array.from({length: 100_000}, (_, i) => `c${i}`)}))
  add('guided_choice [""]', '/v1/completions', completion({guided_choice: ['']}))
  // stream_options and streaming edges.
  add('stream_options without stream', '/v1/chat/completions', chat({stream_options: {include_usage: true}}))
  add('stream_options.include_usage "yes"', '/v1/chat/completions', chat({stream: true, stream_options: {include_usage: 'yes'}}))
  add('stream n 8 with logprobs and usage', '/v1/completions', completion({stream: true, n: 8, logprobs: 5, stream_options: {include_usage: true, continuous_usage_stats: true}}))
  // Unknown and duplicated fields, prototypes.
  add('10,000 unknown fields', '/v1/completions', {...completion({}), ...Object.fromEntries(Array.from({length: 10_000}, (_, i) => [`x${i}`, i]))})
  add('__proto__ holding n', '/v1/completions', '{"prompt": "hi", "max_tokens": 2, "__proto__": {"n": 1000}}')
  add('a duplicated max_tokens (last wins)', '/v1/completions', '{"prompt": "hi", "max_tokens": 1e9, "max_tokens": 2}')
  // Responses: every input shape at its edges.
  for (const [label, body] of [
    ['input []', {input: []}],
    ['input nested 120 deep', {input: nested(120, 'x')}],
    ['10^5 input messages', {input: Array.from({length: 100_000}, () => ({role: 'user', content: 'x'}))}],
    ['input of unknown item types', {input: [{type: 'computer_call'}, {type: 'x'}]}],
    ['function_call_output without a call', {input: [{type: 'function_call_output', call_id: 'nope', output: 'x'}]}],
    ['instructions of 1 MB', {input: 'hi', instructions: 'i'.repeat(1_000_000)}],
    ['text.format json_schema $ref cycle', {input: 'hi', text: {format: {type: 'json_schema', name: 'x', schema: {$defs: {a: {$ref: '#/$defs/a'}}, $ref: '#/$defs/a'}}}}],
    ['1,000 tools', {input: 'hi', tools: Array.from({length: 1000}, (_, i) => ({type: 'function', name: `f${i}`, parameters: {type: 'object'}}))}],
    ['metadata of 10,000 keys', {input: 'hi', metadata: Object.fromEntries(Array.from({length: 10_000}, (_, i) => [`k${i}`, 'v']))}],
    ['previous_response_id nested object', {input: 'hi', previous_response_id: {id: 'x'}}],
    ['max_output_tokens 0', {input: 'hi', max_output_tokens: 0}],
    ['top_logprobs 1e9', {input: 'hi', top_logprobs: 1e9}],
    ['background without store', {input: 'hi', background: true, store: false}],
  ] as const)
    add(`responses ${label}`, '/v1/responses', {max_output_tokens: 4, ...body})
  // /tokenize and /detokenize.
  for (const [label, body] of [
    ['prompt nested 100 deep', {prompt: nested(100, 'x')}],
    ['messages with tools of 120 deep', {messages: [{role: 'user', content: 'x'}], tools: [tool('f', nestedObject(120))]}],
    ['both prompt and messages', {prompt: 'x', messages: [{role: 'user', content: 'x'}]}],
    ['add_special_tokens "no"', {prompt: 'x', add_special_tokens: 'no'}],
    ['return_token_strs 5', {prompt: 'x', return_token_strs: 5}],
    ['a 3 MB prompt', {prompt: 'word '.repeat(600_000)}],
  ] as const)
    add(`tokenize ${label}`, '/tokenize', body)
  for (const [label, tokens] of [['[]', []], ['[-1]', [-1]], ['[2^31]', [2 ** 31]], ['[1.5]', [1.5]], ['10^6 tokens', Array.from({length: 1_000_000}, () => 5)], ['nested', [[1]]]] as const)
    add(`detokenize ${label}`, '/detokenize', {tokens})
  add('embeddings (no such route)', '/v1/embeddings', {input: 'x', model: 'm'}, 404)
  return cases
}

function rawCases(): HostileCase[] {
  const body = JSON.stringify({prompt: 'hi', max_tokens: 2})
  const post = (headers: Record<string, string>, bytes: string | Buffer, path = '/v1/completions') => postBytes(path, bytes, headers)
  const cases: HostileCase[] = []
  const add = (name: string, pieces: (string | Buffer | number)[], extra: Partial<Extract<HostileCase, {kind: 'raw'}>> = {}) => cases.push({kind: 'raw', name, pieces, ...extra})
  const withBytes = (bytes: number[]) => Buffer.concat([Buffer.from('{"prompt": "'), Buffer.from(bytes), Buffer.from('", "max_tokens": 2}')])
  add('invalid UTF-8 (C3 28)', [post({}, withBytes([0xc3, 0x28]))], {expect: 400})
  add('overlong UTF-8 (C0 AF)', [post({}, withBytes([0xc0, 0xaf]))], {expect: 400})
  add('UTF-8 encoded surrogate (ED A0 80)', [post({}, withBytes([0xed, 0xa0, 0x80]))], {expect: 400})
  add('a truncated UTF-8 sequence at the end', [post({}, Buffer.concat([Buffer.from(body), Buffer.from([0xe2, 0x82])]))], {expect: 400})
  add('NUL bytes in the JSON', [post({}, Buffer.from('{"prompt": "a\u0000b", "max_tokens": 2}'))], {expect: 400})
  add('UTF-16BE without a BOM', [post({'content-type': 'application/json'}, Buffer.from(body, 'utf16le').swap16())], {expect: 200})
  add('charset=utf-7', [post({'content-type': 'application/json; charset=utf-7'}, body)], {expect: 415})
  add('charset of 2,000 characters', [post({'content-type': `application/json; charset=${'x'.repeat(2000)}`}, body)], {expect: 415})
  add('charset=latin1 with high bytes', [post({'content-type': 'application/json; charset=iso-8859-1'}, withBytes([0xe9]))], {expect: 200})
  add('no Content-Type', [post({'content-type': ''}, body)])
  add('form-urlencoded', [post({'content-type': 'application/x-www-form-urlencoded'}, 'prompt=hi&max_tokens=2')], {expect: 400})
  add('Content-Encoding gzip', [post({'content-encoding': 'gzip'}, body)], {expect: 415})
  add('Content-Encoding of 200 codings', [post({'content-encoding': Array.from({length: 200}, () => 'gzip').join(', ')}, body)], {expect: 415})
  add('Content-Length -1', [post({'content-length': '-1'}, body)], {expect: 400, mayCloseUnanswered: true})
  add('Content-Length 1e3', [post({'content-length': '1e3'}, body)], {expect: 400, mayCloseUnanswered: true})
  add('two different Content-Lengths', [Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\ncontent-length: 5\r\n\r\n${body}`)], {expect: 400, mayCloseUnanswered: true})
  add('Content-Length and chunked', [post({'content-length': String(body.length), 'transfer-encoding': 'chunked'}, `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)], {expect: 400, mayCloseUnanswered: true})
  add('1,500 headers', [Buffer.from(`GET /health HTTP/1.1\r\nhost: x\r\n${Array.from({length: 1500}, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`)], {mayCloseUnanswered: true})
  add('a 20 KB header', [Buffer.from(`GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'v'.repeat(20_000)}\r\n\r\n`)], {expect: 431, mayCloseUnanswered: true})
  // Slow headers: a byte every 100 ms for 2 s, then the rest at once (well within the headers timeout).
  const head = `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`
  add('headers a byte per 100 ms, then the rest', [...head.slice(0, 20).split('').flatMap((c) => [c, 100]), head.slice(20), body], {expect: 200})
  add('a JSON body of 3 MB whitespace', [post({}, `${' '.repeat(3_000_000)}${body}`)], {expect: 200})
  add('a body of 3 MB of "[" (depth past the limit)', [post({}, '['.repeat(3_000_000))], {expect: 400})
  add('a bare JSON string', [post({}, '"hello"')], {expect: 400})
  add('JSON with a BOM and UTF-16 content-type', [post({'content-type': 'application/json; charset=utf-16'}, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')]))], {expect: 200})
  add('a request line of 12 KB', [Buffer.from(`POST /v1/completions?${'q'.repeat(12_000)} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)], {mayCloseUnanswered: true})
  add('HTTP/1.0 POST without Host', [Buffer.from(`POST /v1/completions HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)], {expect: 200})
  add('HTTP/0.9 style request', [Buffer.from('GET /health\r\n\r\n')], {mayCloseUnanswered: true})
  add('a method of 5,000 letters', [Buffer.from(`${'P'.repeat(5000)} /health HTTP/1.1\r\nhost: x\r\n\r\n`)], {mayCloseUnanswered: true})
  return cases
}

export function hostileCases(): HostileCase[] {
  return [...jsonCases(), ...rawCases()]
}
