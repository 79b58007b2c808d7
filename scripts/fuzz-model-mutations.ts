// The hostile mutations of a test checkpoint that scripts/fuzz-model-files.ts loads: config values, safetensors headers, shard maps, PyTorch .bin files, tokenizer and template files.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {SeededRandom} from '../src/engine/model/seeded-random.js'
import {familyCases} from './fuzz-family-mutations.js'
import {DELETE, isObject, show, withPath, type Json} from './fuzz-json-edits.js'
import {templateCases, tokenizerCases, withoutUndefined} from './fuzz-tokenizer-mutations.js'
import {torchCheckpointCases} from './fuzz-torch-mutations.js'

export interface HostileCase {
  label: string
  /** File name -> new content (null: the file is deleted); every other file is the base model's. */
  files: Record<string, string | Buffer | null>
}


/** Values no config key should take: wrong types, zero, negatives, NaN spelt as a string, absurd sizes. */
const HOSTILE_VALUES: unknown[] = [DELETE, null, '7', 'NaN', true, [], {}, [4, 4], 0, -1, 0.5, 3, 1e30, 2 ** 31, 2 ** 53 + 2, 'x'.repeat(1000)]

export function hostileCases(base: string, variant: string, random: SeededRandom): HostileCase[] {
  const config = readJson(join(base, 'config.json'))
  return [
    ...configCases(config),
    ...targetedConfigCases(config, variant),
    ...familyCases(config),
    ...generationConfigCases(readJson(join(base, 'generation_config.json'))),
    ...safetensorsCases(readFileSync(join(base, 'model.safetensors')), random),
    ...shardCases(readFileSync(join(base, 'model.safetensors'))),
    ...torchCheckpointCases(base, random),
    ...tokenizerCases(readJson(join(base, 'tokenizer.json')), readJson(join(base, 'tokenizer_config.json'))),
    ...templateCases(),
    ...wholeFileCases(readdirSync(base)),
  ]
}

/** Every key config.json holds (and the keys of its object values), set to every hostile value. */
function configCases(config: Json): HostileCase[] {
  const cases: HostileCase[] = []
  const paths: string[][] = []
  for (const [key, value] of Object.entries(config)) {
    if (key === 'pagedllm_test_model') continue
    paths.push([key])
    if (isObject(value)) for (const inner of Object.keys(value)) paths.push([key, inner])
  }
  for (const path of paths) {
    for (const value of HOSTILE_VALUES) {
      cases.push({label: `config.json ${path.join('.')} = ${show(value)}`, files: {'config.json': JSON.stringify(withPath(config, path, value))}})
    }
  }
  return cases
}

/** Keys the loader reads that the base config may not hold, and combinations one key at a time cannot make. */
function targetedConfigCases(config: Json, variant: string): HostileCase[] {
  const edits: [string, Json][] = [
    ['num_key_value_heads 3 (not dividing the heads)', {num_key_value_heads: 3}],
    ['head_dim 6 (not dividing hidden)', {head_dim: 6}],
    ['head_dim 7 (odd)', {head_dim: 7}],
    ['hidden_size 63 without head_dim', {hidden_size: 63, head_dim: undefined}],
    ['layer_types too short', {layer_types: ['full_attention']}],
    ['layer_types too long', {layer_types: Array(64).fill('sliding_attention')}],
    ['layer_types unknown names', {layer_types: Array(2).fill('banana')}],
    ['layer_types a string', {layer_types: 'full_attention'}],
    ['rope_scaling without a type', {rope_scaling: {factor: 2}}],
    ['rope_scaling unknown type', {rope_scaling: {type: 'warp', factor: 2}}],
    ['rope_scaling factor 0', {rope_scaling: {type: 'linear', factor: 0}}],
    ['rope_scaling factor -2', {rope_scaling: {type: 'linear', factor: -2}}],
    ['rope_scaling factor "2"', {rope_scaling: {type: 'linear', factor: '2'}}],
    ['rope_scaling dynamic factor 1e30', {rope_scaling: {type: 'dynamic', factor: 1e30}}],
    ['rope_scaling yarn original 0', {rope_scaling: {type: 'yarn', factor: 4, original_max_position_embeddings: 0}}],
    ['rope_scaling yarn original 1e30', {rope_scaling: {type: 'yarn', factor: 4, original_max_position_embeddings: 1e30}}],
    ['rope_scaling yarn beta_fast < beta_slow', {rope_scaling: {type: 'yarn', factor: 4, original_max_position_embeddings: 64, beta_fast: 1, beta_slow: 32}}],
    ['rope_scaling longrope short_factor wrong length', {rope_scaling: {type: 'longrope', short_factor: [1, 2], long_factor: [1, 2]}, original_max_position_embeddings: 64}],
    ['rope_scaling longrope factors strings', {rope_scaling: {type: 'longrope', short_factor: 'x', long_factor: 'y'}, original_max_position_embeddings: 64}],
    ['rope_scaling llama3 missing factors', {rope_scaling: {rope_type: 'llama3', factor: 8}}],
    ['rope_scaling a list', {rope_scaling: [1, 2]}],
    ['rope_parameters a string', {rope_parameters: 'default'}],
    ['rope_parameters with rope_theta "1e4"', {rope_parameters: {rope_type: 'default', rope_theta: '1e4'}}],
    ['tie_word_embeddings "false"', {tie_word_embeddings: 'false'}],
    ['tie_word_embeddings 1', {tie_word_embeddings: 1}],
    ['tie_word_embeddings true (no lm_head needed, but untied checkpoint)', {tie_word_embeddings: true}],
    ['torch_dtype float8_e4m3fn', {torch_dtype: 'float8_e4m3fn'}],
    ['torch_dtype int8', {torch_dtype: 'int8'}],
    ['torch_dtype a dict', {torch_dtype: {a: 1}}],
    ['num_experts huge', {num_experts: 2 ** 31, num_local_experts: 2 ** 31}],
    ['num_experts_per_tok beyond experts', {num_experts_per_tok: 64}],
    ['num_experts_per_tok 0', {num_experts_per_tok: 0}],
    ['vocab_size 1e9', {vocab_size: 1e9}],
    ['everything huge', {vocab_size: 2 ** 31, hidden_size: 2 ** 31, intermediate_size: 2 ** 31, num_hidden_layers: 2 ** 31}],
    ['max_position_embeddings 2^53', {max_position_embeddings: 2 ** 53}],
    ['max_position_embeddings 1e30', {max_position_embeddings: 1e30, n_positions: 1e30}],
    ['sliding_window 1e30', {sliding_window: 1e30}],
    ['sliding_window 1', {sliding_window: 1}],
    ['architectures empty', {architectures: []}],
    ['architectures two entries', {architectures: ['LlamaForCausalLM', 'Qwen2ForCausalLM']}],
    ['architectures unknown', {architectures: ['FooForCausalLM']}],
    ['architectures a string', {architectures: 'LlamaForCausalLM'}],
    ['quantization_config a string', {quantization_config: 'gptq'}],
    ['bos_token_id 1e9', {bos_token_id: 1e9}],
    ['eos_token_id -1', {eos_token_id: -1}],
    ['eos_token_id 1e9', {eos_token_id: 1e9}],
    ['eos_token_id [0.5, "x"]', {eos_token_id: [0.5, 'x']}],
  ]
  const cases = edits.map(([label, edit]) => ({label: `config.json ${label}`, files: {'config.json': JSON.stringify(withoutUndefined({...config, ...edit}))}}))
  // A multimodal wrapper whose text_config is the model's own config: then each text_config key made hostile.
  if (variant.startsWith('gemma3')) {
    const {architectures: _architectures, ...text} = config
    const wrapped = (textConfig: unknown) => JSON.stringify({architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: textConfig, torch_dtype: config.torch_dtype})
    cases.push({label: 'text_config as the model config', files: {'config.json': wrapped({...text, model_type: 'gemma3_text'})}})
    for (const hostile of [null, 'x', [], 5]) cases.push({label: `text_config = ${show(hostile)}`, files: {'config.json': wrapped(hostile)}})
    for (const key of Object.keys(text)) {
      for (const value of [DELETE, null, '7', -1, 1e30, 2 ** 31]) cases.push({label: `text_config.${key} = ${show(value)}`, files: {'config.json': wrapped(withPath(text, [key], value))}})
    }
  }
  return cases
}

function generationConfigCases(generation: Json): HostileCase[] {
  const edits: [string, unknown][] = [
    ['eos_token_id', 1e9], ['eos_token_id', -5], ['eos_token_id', [1e9, -1]], ['eos_token_id', 'x'], ['eos_token_id', {}],
    ['bos_token_id', 1e9], ['bos_token_id', 'x'], ['temperature', 'NaN'], ['temperature', -1], ['temperature', 1e30], ['top_k', 1e30],
    ['top_p', 2], ['max_new_tokens', 1e30], ['max_new_tokens', -1], ['repetition_penalty', 0], ['min_p', 'x'],
  ]
  return [
    ...edits.map(([key, value]) => ({label: `generation_config.json ${key} = ${show(value)}`, files: {'generation_config.json': JSON.stringify({...generation, [key]: value})}})),
    {label: 'generation_config.json a list', files: {'generation_config.json': '[1, 2]'}},
    {label: 'generation_config.json not JSON', files: {'generation_config.json': '{"eos_token_id": '}},
  ]
}

interface Safetensors {
  header: Record<string, {dtype: string; shape: number[]; data_offsets: number[]} | unknown>
  data: Buffer
}

function splitSafetensors(bytes: Buffer): Safetensors {
  const length = Number(bytes.readBigUInt64LE(0))
  return {header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length)}
}

function joinSafetensors(header: unknown, data: Buffer, lengthOverride?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(lengthOverride ?? BigInt(json.length))
  return Buffer.concat([length, json, data])
}

function safetensorsCases(bytes: Buffer, random: SeededRandom): HostileCase[] {
  const {header, data} = splitSafetensors(bytes)
  const names = Object.keys(header).filter((name) => name !== '__metadata__')
  const pick = () => names[random.nextInt(names.length)]!
  const entry = (name: string) => header[name] as {dtype: string; shape: number[]; data_offsets: number[]}
  const edited = (label: string, edit: (h: Json) => void): HostileCase => {
    const copy = JSON.parse(JSON.stringify(header)) as Json
    edit(copy)
    return {label: `model.safetensors ${label}`, files: {'model.safetensors': joinSafetensors(copy, data)}}
  }
  const first = names[0]!
  const cases: HostileCase[] = [
    {label: 'model.safetensors header length beyond the file', files: {'model.safetensors': joinSafetensors(header, data, BigInt(bytes.length))}},
    {label: 'model.safetensors header length 2^63', files: {'model.safetensors': joinSafetensors(header, data, 2n ** 63n)}},
    {label: 'model.safetensors header length 0', files: {'model.safetensors': joinSafetensors('', data)}},
    {label: 'model.safetensors 7 bytes', files: {'model.safetensors': bytes.subarray(0, 7)}},
    {label: 'model.safetensors empty', files: {'model.safetensors': Buffer.alloc(0)}},
    {label: 'model.safetensors truncated mid-data', files: {'model.safetensors': bytes.subarray(0, bytes.length - 1000)}},
    {label: 'model.safetensors header a string', files: {'model.safetensors': joinSafetensors('"x"', data)}},
    {label: 'model.safetensors header not UTF-8', files: {'model.safetensors': joinSafetensors(Buffer.from([0xff, 0xfe, 0x7b]).toString('latin1'), data)}},
    {label: 'model.safetensors header with a duplicated tensor key', files: {'model.safetensors': joinSafetensors(JSON.stringify(header).replace(/^\{/, `{${JSON.stringify(first)}:${JSON.stringify({dtype: 'F32', shape: [1], data_offsets: [0, 4]})},`), data)}},
    edited('__metadata__ a number', (h) => (h.__metadata__ = 5)),
    edited('every tensor dropped', (h) => {
      for (const name of names) delete h[name]
    }),
  ]
  for (let i = 0; i < 6; i++) {
    const name = pick()
    const [begin, end] = entry(name).data_offsets as [number, number]
    cases.push(
      edited(`${name} offsets reversed`, (h) => ((h[name] as Json).data_offsets = [end, begin])),
      edited(`${name} offsets overlapping the first tensor`, (h) => ((h[name] as Json).data_offsets = [0, end - begin])),
      edited(`${name} offsets beyond the file`, (h) => ((h[name] as Json).data_offsets = [data.length, data.length + end - begin])),
      edited(`${name} offsets strings`, (h) => ((h[name] as Json).data_offsets = [String(begin), String(end)])),
      edited(`${name} offsets three numbers`, (h) => ((h[name] as Json).data_offsets = [begin, end, end])),
      edited(`${name} offsets fractional`, (h) => ((h[name] as Json).data_offsets = [begin + 0.5, end + 0.5])),
      edited(`${name} dtype F64`, (h) => ((h[name] as Json).dtype = 'F64')),
      edited(`${name} dtype I8`, (h) => ((h[name] as Json).dtype = 'I8')),
      edited(`${name} dtype lower-case f32`, (h) => ((h[name] as Json).dtype = 'f32')),
      edited(`${name} dtype F16 (half the bytes)`, (h) => ((h[name] as Json).dtype = 'F16')),
      edited(`${name} shape product overflowing`, (h) => ((h[name] as Json).shape = [2 ** 40, 2 ** 40])),
      edited(`${name} shape 2^27 x 2^27`, (h) => ((h[name] as Json).shape = [2 ** 27, 2 ** 27])),
      edited(`${name} shape negative`, (h) => ((h[name] as Json).shape = [-1, -(end - begin) / 4])),
      edited(`${name} shape transposed`, (h) => ((h[name] as Json).shape = [...entry(name).shape].reverse())),
      edited(`${name} shape flattened`, (h) => ((h[name] as Json).shape = [entry(name).shape.reduce((a, b) => a * b, 1)])),
      edited(`${name} shape a string`, (h) => ((h[name] as Json).shape = '64')),
      edited(`${name} removed`, (h) => delete h[name]),
      edited(`${name} renamed`, (h) => {
        h[`${name}.x`] = h[name]
        delete h[name]
      }),
    )
  }
  return cases
}

/** Two shards and an index, then the index made hostile. */
function shardCases(bytes: Buffer): HostileCase[] {
  const {header, data} = splitSafetensors(bytes)
  const names = Object.keys(header).filter((name) => name !== '__metadata__')
  const weightMap = Object.fromEntries(names.map((name) => [name, 'model.safetensors']))
  const index = (map: unknown) => JSON.stringify({metadata: {}, weight_map: map})
  const cases: [string, string | Buffer][] = [
    ['weight_map naming a missing shard', index({...weightMap, [names[0]!]: 'model-00002-of-00002.safetensors'})],
    ['weight_map naming ../ outside', index({...weightMap, [names[0]!]: '../outside.safetensors'})],
    ['weight_map naming an absolute path', index({...weightMap, [names[0]!]: '/etc/hostname'})],
    ['weight_map naming the directory itself', index({...weightMap, [names[0]!]: '.'})],
    ['weight_map naming an empty file name', index({...weightMap, [names[0]!]: ''})],
    ['weight_map naming config.json', index({...weightMap, [names[0]!]: 'config.json'})],
    ['weight_map naming a sub-directory', index({...weightMap, [names[0]!]: 'sub/'})],
    ['weight_map a shard number', index({...weightMap, [names[0]!]: 3})],
    ['weight_map null', index(null)],
    ['weight_map a list', index(['model.safetensors'])],
    ['weight_map a string', index('model.safetensors')],
    ['weight_map empty', index({})],
    ['weight_map missing a tensor', index(Object.fromEntries(Object.entries(weightMap).slice(1)))],
    ['weight_map naming an extra tensor', index({...weightMap, 'model.extra.weight': 'model.safetensors'})],
    ['index not JSON', '{"weight_map": '],
    ['index a list', '[]'],
    ['index null', 'null'],
  ]
  const result: HostileCase[] = cases.map(([label, content]) => ({label: `model.safetensors.index.json ${label}`, files: {'model.safetensors.index.json': content}}))
  // The same tensor in two shards, both listed: the index names one; a second shard file duplicates it.
  const copy = joinSafetensors(header, data)
  result.push({label: 'model.safetensors.index.json over two shards that both hold every tensor', files: {'model.safetensors.index.json': index(Object.fromEntries(names.map((n, i) => [n, i % 2 ? 'b.safetensors' : 'model.safetensors']))), 'b.safetensors': copy}})
  result.push({label: 'model.safetensors.index.json with model.safetensors deleted', files: {'model.safetensors.index.json': index(weightMap), 'model.safetensors': null}})
  return result
}

function wholeFileCases(files: string[]): HostileCase[] {
  const cases: HostileCase[] = []
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    cases.push({label: `${file} empty`, files: {[file]: ''}}, {label: `${file} "null"`, files: {[file]: 'null'}}, {label: `${file} a directory`, files: {[`${file}/x`]: 'x'}})
  }
  cases.push({label: 'config.json with a BOM', files: {'config.json': '\ufeff{}'}})
  return cases
}

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json
}




