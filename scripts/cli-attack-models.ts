// The model-directory and trace attacks of scripts/cli-attacks.ts: copies of the tiny test model (symlinks to its
// files) with one file mutated (config.json, safetensors, shard index, tokenizer, chat template, generation config),
// loaded by `generate` (a few by `serve` and `bench` too); and hostile bench trace / dataset files.
import {mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {AttackBase, CliAttack} from './cli-attacks.js'

type Json = Record<string, any>
type Files = Record<string, string | Buffer | null>

/** A copy of `from` in scratch with `files` replaced (null: deleted). */
export function mutatedDir(scratch: string, from: string, label: string, files: Files): string {
  const dir = join(scratch, `model-${label.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}-${Math.random().toString(36).slice(2, 8)}`)
  mkdirSync(dir)
  for (const name of readdirSync(from)) if (!(name in files)) symlinkSync(join(from, name), join(dir, name))
  for (const [name, content] of Object.entries(files)) if (content !== null) writeFileSync(join(dir, name), content)
  return dir
}

function safetensorsParts(bytes: Buffer): {header: Json; data: Buffer} {
  const length = Number(bytes.readBigUInt64LE(0))
  return {header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length)}
}

export function safetensorsBytes(header: Json | string, data: Buffer, declaredLength?: bigint): Buffer {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(declaredLength ?? BigInt(text.length))
  return Buffer.concat([length, text, data])
}

function configCases(config: Json): [string, Files][] {
  const edit = (changes: Json) => JSON.stringify({...config, ...changes})
  const values: [string, Json][] = [
    ['hidden_size "64"', {hidden_size: '64'}],
    ['hidden_size 0', {hidden_size: 0}],
    ['hidden_size -64', {hidden_size: -64}],
    ['hidden_size 1e9', {hidden_size: 1e9, head_dim: undefined}],
    ['num_hidden_layers 1e9', {num_hidden_layers: 1e9}],
    ['num_hidden_layers 0', {num_hidden_layers: 0}],
    ['num_hidden_layers 3 (tensors for 2)', {num_hidden_layers: 3}],
    ['num_hidden_layers 1 (tensors for 2)', {num_hidden_layers: 1}],
    ['vocab_size 2^40', {vocab_size: 2 ** 40}],
    ['vocab_size 1024 (tensors for 512)', {vocab_size: 1024}],
    ['vocab_size 0', {vocab_size: 0}],
    ['vocab_size 1.5', {vocab_size: 1.5}],
    ['intermediate_size 2^40', {intermediate_size: 2 ** 40}],
    ['intermediate_size 256 (tensors for 128)', {intermediate_size: 256}],
    ['num_attention_heads 0', {num_attention_heads: 0}],
    ['num_attention_heads 3', {num_attention_heads: 3}],
    ['num_key_value_heads 0', {num_key_value_heads: 0}],
    ['num_key_value_heads 8 (over heads)', {num_key_value_heads: 8}],
    ['head_dim 1e6', {head_dim: 1e6}],
    ['head_dim 0', {head_dim: 0}],
    ['max_position_embeddings 0', {max_position_embeddings: 0}],
    ['max_position_embeddings 1e18', {max_position_embeddings: 1e18}],
    ['max_position_embeddings 2^53+1', {max_position_embeddings: 2 ** 53 + 2}],
    ['max_position_embeddings -1', {max_position_embeddings: -1}],
    ['rope_theta 0', {rope_theta: 0}],
    ['rope_theta -1', {rope_theta: -1}],
    ['rope_theta "x"', {rope_theta: 'x'}],
    ['rope_theta 1e309 (string Infinity)', {rope_theta: 'Infinity'}],
    ['rms_norm_eps -1', {rms_norm_eps: -1}],
    ['rms_norm_eps "1e-5"', {rms_norm_eps: '1e-5'}],
    ['rope_scaling a string', {rope_scaling: 'linear'}],
    ['rope_scaling factor 0', {rope_scaling: {rope_type: 'linear', factor: 0}}],
    ['rope_scaling factor -2', {rope_scaling: {rope_type: 'linear', factor: -2}}],
    ['rope_scaling unknown type', {rope_scaling: {rope_type: 'warp', factor: 2}}],
    ['rope_scaling yarn factor 1e9', {rope_scaling: {rope_type: 'yarn', factor: 1e9, original_max_position_embeddings: 512}}],
    ['architectures []', {architectures: []}],
    ['architectures ["Nope"]', {architectures: ['NopeForCausalLM']}],
    ['architectures a string', {architectures: 'LlamaForCausalLM'}],
    ['architectures [null]', {architectures: [null]}],
    ['architectures missing, model_type llama', {architectures: undefined}],
    ['model_type a number', {model_type: 7}],
    ['hidden_act "gelu_tanh"', {hidden_act: 'gelu_pytorch_tanh'}],
    ['hidden_act unknown', {hidden_act: 'swishy'}],
    ['hidden_act a list', {hidden_act: ['silu']}],
    ['eos_token_id 2^40', {eos_token_id: 2 ** 40}],
    ['bos_token_id -5', {bos_token_id: -5}],
    ['sliding_window -1', {sliding_window: -1}],
    ['sliding_window 0', {sliding_window: 0}],
    ['tie_word_embeddings true (lm_head present)', {tie_word_embeddings: true}],
    ['torch_dtype "float64"', {torch_dtype: 'float64'}],
    ['quantization_config gptq', {quantization_config: {quant_method: 'gptq', bits: 4}}],
    ['quantization_config a string', {quantization_config: 'awq'}],
    ['text_config only (nested)', {text_config: {hidden_size: 128}}],
  ]
  return [
    ['config.json missing', {'config.json': null}],
    ['config.json empty', {'config.json': ''}],
    ['config.json invalid JSON', {'config.json': '{"vocab_size": 512,'}],
    ['config.json a list', {'config.json': '[]'}],
    ['config.json null', {'config.json': 'null'}],
    ['config.json invalid UTF-8', {'config.json': Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])}],
    ['config.json 100k nested lists', {'config.json': '['.repeat(100_000) + ']'.repeat(100_000)}],
    ['config.json with a BOM', {'config.json': '\ufeff' + JSON.stringify(config)}],
    ['config.json NaN literal', {'config.json': JSON.stringify(config).replace('"rope_theta":10000', '"rope_theta":NaN')}],
    ['config.json a directory', {'config.json': null}],
    ...values.map(([label, changes]): [string, Files] => [`config.json ${label}`, {'config.json': edit(changes)}]),
  ]
}

function safetensorsCases(bytes: Buffer): [string, Files][] {
  const {header, data} = safetensorsParts(bytes)
  const names = Object.keys(header).filter((name) => name !== '__metadata__')
  const first = names[0]!
  const withTensor = (change: (entry: Json) => Json, name = first) => safetensorsBytes({...header, [name]: change({...header[name]})}, data)
  const st = (content: Buffer) => ({'model.safetensors': content})
  const [start, end] = header[first].data_offsets as [number, number]
  return [
    ['safetensors missing', st(null as unknown as Buffer)],
    ['safetensors empty', st(Buffer.alloc(0))],
    ['safetensors 4 bytes', st(Buffer.from([1, 2, 3, 4]))],
    ['safetensors truncated to half', st(bytes.subarray(0, bytes.length >> 1))],
    ['safetensors truncated in the header', st(bytes.subarray(0, 100))],
    ['safetensors header length past the file', st(safetensorsBytes(header, data, BigInt(bytes.length * 2)))],
    ['safetensors header length 2^63', st(safetensorsBytes(header, data, 2n ** 63n))],
    ['safetensors header length 2^64-1', st(safetensorsBytes(header, data, 2n ** 64n - 1n))],
    ['safetensors header not JSON', st(safetensorsBytes('{"a": nope' + ' '.repeat(40), data))],
    ['safetensors header a list', st(safetensorsBytes('[]', data))],
    ['safetensors header invalid UTF-8', st(Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), data]))],
    ['safetensors overlapping offsets', st(withTensor((e) => ({...e, data_offsets: [start + 4, end + 4]}), names[1]))],
    ['safetensors offsets past the data', st(withTensor((e) => ({...e, data_offsets: [data.length - 4, data.length - 4 + (end - start)]})))],
    ['safetensors offsets 2^60', st(withTensor((e) => ({...e, data_offsets: [2 ** 60, 2 ** 60 + end - start]})))],
    ['safetensors offsets reversed', st(withTensor((e) => ({...e, data_offsets: [end, start]})))],
    ['safetensors offsets negative', st(withTensor((e) => ({...e, data_offsets: [-8, end - start - 8]})))],
    ['safetensors offsets strings', st(withTensor((e) => ({...e, data_offsets: [String(start), String(end)]})))],
    ['safetensors offsets fractional', st(withTensor((e) => ({...e, data_offsets: [start + 0.5, end + 0.5]})))],
    ['safetensors offsets length disagree with shape', st(withTensor((e) => ({...e, data_offsets: [start, end - 4]})))],
    ['safetensors dtype unknown', st(withTensor((e) => ({...e, dtype: 'Q9'})))],
    ['safetensors dtype I64', st(withTensor((e) => ({...e, dtype: 'I64', shape: [512, 32]})))],
    ['safetensors dtype F64 (same bytes)', st(withTensor((e) => ({...e, dtype: 'F64', shape: [512, 32]})))],
    ['safetensors dtype missing', st(withTensor(({dtype: _d, ...e}) => e))],
    ['safetensors shape product overflow', st(withTensor((e) => ({...e, shape: [2 ** 32, 2 ** 32, 2 ** 32]})))],
    ['safetensors shape negative', st(withTensor((e) => ({...e, shape: [-512, -64]})))],
    ['safetensors shape a string', st(withTensor((e) => ({...e, shape: '512,64'})))],
    ['safetensors shape transposed', st(withTensor((e) => ({...e, shape: [64, 512]})))],
    ['safetensors a tensor missing', st(safetensorsBytes(Object.fromEntries(Object.entries(header).filter(([name]) => name !== first)), data))],
    ['safetensors entry not an object', st(safetensorsBytes({...header, [first]: 7}, data))],
    ['safetensors __metadata__ a list', st(safetensorsBytes({...header, __metadata__: [1, 2]}, data))],
    ['safetensors extra unknown tensor', st(safetensorsBytes({...header, 'model.layers.99.weird.weight': {dtype: 'F32', shape: [1], data_offsets: [0, 4]}}, data))],
    ['safetensors header with 100k padding spaces', st(safetensorsBytes(JSON.stringify(header) + ' '.repeat(100_000), data))],
    ['safetensors a directory', st(null as unknown as Buffer)],
  ]
}

function shardCases(bytes: Buffer): [string, Files][] {
  const {header} = safetensorsParts(bytes)
  const names = Object.keys(header).filter((name) => name !== '__metadata__')
  const index = (map: Json, extra: Json = {}) => JSON.stringify({metadata: {total_size: 1}, weight_map: map, ...extra})
  const toShard = Object.fromEntries(names.map((name) => [name, 'model-00001-of-00002.safetensors']))
  return [
    ['index points at missing shards', {'model.safetensors': null, 'model.safetensors.index.json': index(toShard)}],
    ['index invalid JSON', {'model.safetensors': null, 'model.safetensors.index.json': '{"weight_map": '}],
    ['index weight_map empty', {'model.safetensors': null, 'model.safetensors.index.json': index({})}],
    ['index weight_map missing', {'model.safetensors': null, 'model.safetensors.index.json': '{}'}],
    ['index weight_map a list', {'model.safetensors': null, 'model.safetensors.index.json': JSON.stringify({weight_map: ['a']})}],
    ['index shard path escapes the directory', {'model.safetensors': null, 'model.safetensors.index.json': index(Object.fromEntries(names.map((name) => [name, '../../../etc/passwd'])))}],
    ['index shard an absolute path', {'model.safetensors': null, 'model.safetensors.index.json': index(Object.fromEntries(names.map((name) => [name, '/etc/passwd'])))}],
    ['index shard a number', {'model.safetensors': null, 'model.safetensors.index.json': index(Object.fromEntries(names.map((name) => [name, 7])))}],
    ['index names a tensor the shard lacks', {'model.safetensors.index.json': index({...Object.fromEntries(names.map((name) => [name, 'model.safetensors'])), 'model.extra.weight': 'model.safetensors'})}],
    ['index and model.safetensors disagree (index wins?)', {'model.safetensors.index.json': index(Object.fromEntries(names.slice(1).map((name) => [name, 'model.safetensors'])))}],
  ]
}

function tokenizerCases(tokenizer: Json, tokenizerConfig: Json): [string, Files][] {
  const tok = (edit: (t: Json) => void) => {
    const copy = structuredClone(tokenizer)
    edit(copy)
    return {'tokenizer.json': JSON.stringify(copy)}
  }
  const template = (chatTemplate: unknown) => ({'tokenizer_config.json': JSON.stringify({...tokenizerConfig, chat_template: chatTemplate})})
  const smallVocab = Object.fromEntries(Object.entries(tokenizer.model.vocab as Record<string, number>).filter(([, id]) => id < 64))
  return [
    ['tokenizer.json missing', {'tokenizer.json': null}],
    ['tokenizer.json and tokenizer_config.json missing', {'tokenizer.json': null, 'tokenizer_config.json': null}],
    ['tokenizer.json invalid JSON', {'tokenizer.json': '{"model": '}],
    ['tokenizer.json empty object', {'tokenizer.json': '{}'}],
    ['tokenizer.json model null', tok((t) => (t.model = null))],
    ['tokenizer.json model type unknown', tok((t) => (t.model.type = 'Quantum'))],
    ['tokenizer.json vocab of 64 (model 512)', tok((t) => ((t.model.vocab = smallVocab), (t.model.merges = [])))],
    ['tokenizer.json vocab a list', tok((t) => (t.model.vocab = ['a', 'b']))],
    ['tokenizer.json vocab ids negative', tok((t) => (t.model.vocab = Object.fromEntries(Object.entries(t.model.vocab).map(([k, v]) => [k, -(v as number) - 1]))))],
    ['tokenizer.json vocab id 2^40', tok((t) => (t.model.vocab[Object.keys(t.model.vocab)[10]!] = 2 ** 40))],
    ['tokenizer.json merges garbage', tok((t) => (t.model.merges = [7, null, 'a']))],
    ['tokenizer.json merges of unknown tokens', tok((t) => (t.model.merges = ['zzz qqq', 'ppp ooo']))],
    ['added_tokens id -1', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: -1, content: '<odd>'}))],
    ['added_tokens id 2^40', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: 2 ** 40, content: '<far>'}))],
    ['added_tokens id 1e6 (past the vocab)', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: 1_000_000, content: '<far>'}))],
    ['added_tokens id a string', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: '9', content: '<str>'}))],
    ['added_tokens duplicate id, other content', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: 1, content: '<dup>'}))],
    ['added_tokens content empty', tok((t) => t.added_tokens.push({...t.added_tokens[0], id: 500, content: ''}))],
    ['added_tokens not a list', tok((t) => (t.added_tokens = {a: 1}))],
    ['normalizer unknown type', tok((t) => (t.normalizer = {type: 'Wobble'}))],
    ['pre_tokenizer Split with a bad regex', tok((t) => (t.pre_tokenizer = {type: 'Split', pattern: {Regex: '(unclosed'}, behavior: 'Isolated', invert: false}))],
    ['pre_tokenizer Split catastrophic regex', tok((t) => (t.pre_tokenizer = {type: 'Split', pattern: {Regex: '(a+)+$'}, behavior: 'Isolated', invert: false}))],
    ['tokenizer_config.json invalid JSON', {'tokenizer_config.json': '{"chat_template": '}],
    ['tokenizer_config.json a list', {'tokenizer_config.json': '[]'}],
    ['tokenizer_config eos_token an unknown token', {'tokenizer_config.json': JSON.stringify({...tokenizerConfig, eos_token: '<nope>'})}],
    ['tokenizer_config eos_token a number', {'tokenizer_config.json': JSON.stringify({...tokenizerConfig, eos_token: 7})}],
    ['tokenizer_config model_max_length -1', {'tokenizer_config.json': JSON.stringify({...tokenizerConfig, model_max_length: -1})}],
    ['chat_template Jinja syntax error', template('{% for m in messages %}{{ m.content }')],
    ['chat_template unknown tag', template('{% frobnicate %}')],
    ['chat_template infinite loop (range 10^12)', template('{% for i in range(1000000000000) %}x{% endfor %}')],
    ['chat_template nested loops 10^5 x 10^5', template('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}')],
    ['chat_template string doubling', template('{% set s = namespace(v="x") %}{% for i in range(64) %}{% set s.v = s.v + s.v %}{% endfor %}{{ s.v }}')],
    ['chat_template recursive macro', template('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}')],
    ['chat_template raise_exception', template("{{ raise_exception('no system messages') }}")],
    ['chat_template a number', template(7)],
    ['chat_template empty list', template([])],
    ['chat_template list without default', template([{name: 'tool_use', template: 'x'}])],
    ['chat_template undefined attribute chain', template('{{ messages[0].content.nope.deeper }}')],
    ['chat_template renders nothing', template('')],
    ['chat_template 1 MB of text', template('x'.repeat(1_000_000))],
    ['chat_template.jinja file invalid', {'chat_template.jinja': '{% if %}'}],
  ]
}

function generationConfigCases(): [string, Files][] {
  const gen = (value: string) => ({'generation_config.json': value})
  return [
    ['generation_config.json invalid JSON', gen('{"temperature": ')],
    ['generation_config.json a list', gen('[1]')],
    ['generation_config temperature "hot"', gen('{"temperature": "hot"}')],
    ['generation_config temperature -1', gen('{"temperature": -1}')],
    ['generation_config top_p 2', gen('{"top_p": 2}')],
    ['generation_config top_k -5', gen('{"top_k": -5}')],
    ['generation_config max_new_tokens -5', gen('{"max_new_tokens": -5}')],
    ['generation_config max_new_tokens 1e30', gen('{"max_new_tokens": 1e30}')],
    ['generation_config eos_token_id 2^40', gen('{"eos_token_id": 1099511627776}')],
    ['generation_config eos_token_id a string', gen('{"eos_token_id": "</s>"}')],
    ['generation_config repetition_penalty 0', gen('{"repetition_penalty": 0}')],
    ['generation_config invalid UTF-8', gen(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'))],
  ]
}

export function modelDirAttacks(base: AttackBase): CliAttack[] {
  const read = (name: string) => JSON.parse(readFileSync(join(base.tiny, name), 'utf8'))
  const cases: [string, Files][] = [
    ...configCases(read('config.json')),
    ...safetensorsCases(readFileSync(join(base.tiny, 'model.safetensors'))),
    ...shardCases(readFileSync(join(base.tiny, 'model.safetensors'))),
    ...tokenizerCases(read('tokenizer.json'), read('tokenizer_config.json')),
    ...generationConfigCases(),
    // Linked to a device: a read of /dev/zero never ends.
    ...['config.json', 'tokenizer.json', 'model.safetensors'].map((name): [string, Files] => [`${name} linked to /dev/zero`, {[name]: null}]),
  ]
  const attacks: CliAttack[] = []
  for (const [label, files] of cases) {
    const dir = mutatedDir(base.scratch, base.tiny, label, files)
    // "a directory" cases: the file's name is a directory.
    if (label.endsWith('a directory')) mkdirSync(join(dir, label.startsWith('config') ? 'config.json' : 'model.safetensors'))
    if (label.endsWith('linked to /dev/zero')) symlinkSync('/dev/zero', join(dir, label.split(' ')[0]!))
    const chat = /template|tokenizer_config/.test(label) ? ['--chat'] : []
    attacks.push({cls: 'models', name: `generate: ${label}`, args: ['generate', '--model', dir, '--num-blocks', '64', '--max-tokens', '3', '--threads', '1', ...chat, 'hello there'], timeoutMs: 60_000})
    // The same loaders under serve (which must stop, not serve half a model) and bench, for a sample.
    if (/missing|invalid JSON|2\^40|1e9|header length|Jinja syntax/.test(label)) {
      attacks.push({cls: 'models', name: `serve: ${label}`, args: ['serve', '--model', dir, '--port', '0', '--num-blocks', '64', '--tokenizer-threads', '1', '--threads', '1'], timeoutMs: 60_000})
      attacks.push({cls: 'models', name: `bench: ${label}`, args: ['bench', '--model', dir, '--trace', 'synthetic', '--input-len', '8', '--output-len', '4', '--num-prompts', '2', '--policies', 'paged', '--num-blocks', '64', '--threads', '1'], timeoutMs: 60_000})
    }
  }
  return attacks
}

export function traceAttacks(base: AttackBase): CliAttack[] {
  const dir = join(base.scratch, 'traces')
  mkdirSync(dir, {recursive: true})
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name)
    writeFileSync(path, content)
    return path
  }
  const traces: [string, string | Buffer][] = [
    ['empty', ''],
    ['blank lines only', '\n\n  \n'],
    ['not JSON', 'prompt_len=5\n'],
    ['a JSON list', '[{"prompt_len": 5, "output_len": 5}]'],
    ['lengths zero', '{"prompt_len": 0, "output_len": 0}\n'],
    ['lengths negative', '{"prompt_len": -5, "output_len": 5}\n'],
    ['lengths 1e309', '{"prompt_len": 1e309, "output_len": 5}\n'],
    ['lengths strings', '{"prompt_len": "5", "output_len": "5"}\n'],
    ['lengths fractional', '{"prompt_len": 5.5, "output_len": 5}\n'],
    ['lengths past the context', '{"prompt_len": 100000, "output_len": 100000}\n'],
    ['a missing key', '{"prompt_len": 5}\n'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d, 0x0a])],
    ['NUL bytes', Buffer.from('{"prompt_len": 5, "output_len": 5}\0\n')],
    ['a million lines', '{"prompt_len": 8, "output_len": 4}\n'.repeat(1_000_000)],
  ]
  const datasets: [string, string | Buffer][] = [
    ['empty', ''],
    ['not JSON', '{'],
    ['an object', '{"a": 1}'],
    ['an empty list', '[]'],
    ['ShareGPT with no conversations', '[{"id": "a"}]'],
    ['ShareGPT with conversations a string', '[{"conversations": "hi"}]'],
    ['ShareGPT with one turn', '[{"conversations": [{"from": "human", "value": "hi"}]}]'],
    ['ShareGPT with values null', '[{"conversations": [{"from": "human", "value": null}, {"from": "gpt", "value": null}]}]'],
    ['Alpaca with numbers', '[{"instruction": 5, "input": 6, "output": 7}]'],
    ['a list of nulls', '[null, null]'],
    ['invalid UTF-8', Buffer.from([0x5b, 0xff, 0x5d])],
  ]
  const run = ['bench', '--model', base.tiny, '--num-prompts', '2', '--policies', 'paged', '--num-blocks', '64', '--threads', '1']
  return [
    ...traces.map(([name, content]): CliAttack => ({cls: 'traces', name: `bench --trace file ${name}`, args: [...run, '--trace', file(`trace-${name.replace(/\W+/g, '-')}.jsonl`, content)]})),
    ...datasets.map(([name, content]): CliAttack => ({cls: 'traces', name: `bench --dataset ${name}`, args: [...run, '--dataset', file(`dataset-${name.replace(/\W+/g, '-')}.json`, content)]})),
    {cls: 'traces', name: 'bench --trace a directory', args: [...run, '--trace', dir]},
    {cls: 'traces', name: 'bench --trace missing file', args: [...run, '--trace', join(dir, 'none.jsonl')]},
    {cls: 'traces', name: 'bench --trace unknown name', args: [...run, '--trace', 'sharegpt2']},
    {cls: 'traces', name: 'bench --dataset a directory', args: [...run, '--dataset', dir]},
    {cls: 'traces', name: 'bench --num-prompts 0', args: [...run.filter((w, i, all) => w !== '--num-prompts' && all[i - 1] !== '--num-prompts'), '--num-prompts', '0', '--trace', 'sharegpt'], expect: 'error'},
    {cls: 'traces', name: 'compare --trace file lengths zero', args: ['compare', ...run.slice(1), '--request-rates', 'inf', '--out', join(dir, 'c-out'), '--trace', file('zero.jsonl', '{"prompt_len": 0, "output_len": 0}\n')]},
  ]
}
