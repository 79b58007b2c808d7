// The hostile mutations of a GGUF family file that scripts/fuzz-model-files.ts --gguf loads: one metadata key or one
// tensor changed at a time (the file's structure stays well formed: cli-attack-gguf.ts attacks that).
import type {GgufEntry, GgufTensorSpec} from '../test/support/gguf-file.js'
import type {GgufFamilyFile} from './fuzz-gguf-families.js'

export interface GgufCase {
  label: string
  metadata: Record<string, GgufEntry>
  tensors: GgufTensorSpec[]
}

/** ggml type id -> [values per block, bytes per block] (ggml.c's type traits). */
const BLOCKS: Record<number, [number, number]> = {0: [1, 4], 1: [1, 2], 8: [32, 34], 12: [256, 144], 35: [256, 66], 39: [32, 17]}
const TYPE_NAMES: Record<number, string> = {1: 'F16', 8: 'Q8_0', 12: 'Q4_K', 35: 'TQ2_0', 39: 'MXFP4'}

/** Scalars no size, count, eps or flag should be taken as: zero, negative, one, past i32, past f64's integers, NaN, Infinity, a string. */
const SCALARS: [string, GgufEntry][] = [
  ['u32 0', {type: 'u32', value: 0}], ['i32 -1', {type: 'i32', value: -1}], ['u32 1', {type: 'u32', value: 1}],
  ['u32 2^31', {type: 'u32', value: 2 ** 31}], ['u64 2^53', {type: 'u64', value: 2n ** 53n}],
  ['f32 NaN', {type: 'f32', value: NaN}], ['f32 Infinity', {type: 'f32', value: Infinity}], ['f32 -1', {type: 'f32', value: -1}],
  ['string', {type: 'string', value: 'x'}], ['bool true', {type: 'bool', value: true}],
]

/** Keys a converter may write per layer (llama.cpp reads them as scalars or as block_count-long arrays). */
const PER_LAYER = /\.(attention\.head_count(_kv)?|feed_forward_length|attention\.(key|value)_length(_swa)?|attention\.sliding_window(_pattern)?|expert_feed_forward_length|ssm\.\w+)$/

const TOKENIZER_ARRAYS = new Set(['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'])

export function ggufCases(file: GgufFamilyFile): GgufCase[] {
  return [...metadataCases(file), ...tensorCases(file)]
}

function metadataCases({metadata, tensors}: GgufFamilyFile): GgufCase[] {
  const cases: GgufCase[] = []
  const arch = (metadata['general.architecture'] as {value: string}).value
  const layers = Number((metadata[`${arch}.block_count`] as {value: number} | undefined)?.value ?? 0)
  const withKey = (label: string, key: string, entry: GgufEntry | undefined) => {
    const next = {...metadata}
    if (entry === undefined) delete next[key]
    else next[key] = entry
    cases.push({label: `${key} ${label}`, metadata: next, tensors})
  }
  for (const [key, entry] of Object.entries(metadata)) {
    withKey('deleted', key, undefined)
    if (TOKENIZER_ARRAYS.has(key)) {
      // The vocab is fuzzed structurally by cli-attack-gguf.ts; here only its length and element type.
      const values = entry.value as unknown[]
      withKey('one short', key, {...entry, value: values.slice(0, -1)} as GgufEntry)
      withKey('as u32 0', key, {type: 'u32', value: 0})
      continue
    }
    for (const [label, value] of SCALARS) if (value.type !== entry.type || value.value !== entry.value) withKey(`= ${label}`, key, value)
    if (Array.isArray(entry.value)) arrayCases(key, entry, withKey, layers)
    else if (PER_LAYER.test(key) && typeof entry.value === 'number') {
      // A scalar written per layer: arrays one short, one long, and block_count long with a 0 or -1 in it.
      const value = entry.value
      withKey(`as an array of ${layers - 1}`, key, {type: 'i32s', value: Array(Math.max(layers - 1, 0)).fill(value)})
      withKey(`as an array of ${layers + 1}`, key, {type: 'i32s', value: Array(layers + 1).fill(value)})
      withKey('as an array with a 0 in it', key, {type: 'i32s', value: Array.from({length: layers}, (_, i) => (i === layers - 1 ? 0 : value))})
      withKey('as an array with a -1 in it', key, {type: 'i32s', value: Array.from({length: layers}, (_, i) => (i === 0 ? -1 : value))})
    }
  }
  if (layers > 0) {
    withKey(`= ${layers + 1} (a layer with no tensors)`, `${arch}.block_count`, {type: 'u32', value: layers + 1})
    if (layers > 1) withKey(`= ${layers - 1} (tensors of a layer past it)`, `${arch}.block_count`, {type: 'u32', value: layers - 1})
  }
  return cases
}

/** An array key empty, a length off by one or block_count long, a hostile element, the wrong element type. */
function arrayCases(key: string, entry: GgufEntry, withKey: (label: string, key: string, entry: GgufEntry | undefined) => void, layers: number): void {
  const values = entry.value as unknown[]
  withKey('empty', key, {...entry, value: []} as GgufEntry)
  withKey('one short', key, {...entry, value: values.slice(0, -1)} as GgufEntry)
  withKey('one long', key, {...entry, value: [...values, values[values.length - 1] ?? 0]} as GgufEntry)
  if (values.length !== layers && layers > 0) withKey(`of block_count (${layers})`, key, {...entry, value: Array.from({length: layers}, (_, i) => values[i % Math.max(values.length, 1)] ?? 0)} as GgufEntry)
  const hostileElement = (element: unknown) => {
    const next = [...values]
    next[Math.floor(values.length / 2)] = element
    return next
  }
  if (values.length === 0) return
  switch (entry.type) {
    case 'i32s':
      for (const element of [-1, 0, 2 ** 31 - 1]) withKey(`with a ${element} in it`, key, {type: 'i32s', value: hostileElement(element) as number[]})
      withKey('as f32s', key, {type: 'f32s', value: values.map((v) => Number(v) + 0.5)})
      break
    case 'f32s':
      for (const element of [NaN, Infinity, -1, 0]) withKey(`with a ${element} in it`, key, {type: 'f32s', value: hostileElement(element) as number[]})
      withKey('as i32s', key, {type: 'i32s', value: values.map((v) => Math.round(Number(v)))})
      break
    case 'bools':
      withKey('as i32s of 2', key, {type: 'i32s', value: values.map(() => 2)})
      break
    case 'strings':
      withKey('as i32s', key, {type: 'i32s', value: values.map(() => 1)})
      break
  }
}

/** Bytes `dims` take at ggml type `type` (rows of whole blocks), or undefined when a row is not whole blocks. */
function byteSize(dims: number[], type: number): number | undefined {
  if (!BLOCKS[type]) return undefined
  const [perBlock, blockBytes] = BLOCKS[type]
  if (dims[0]! % perBlock !== 0) return undefined
  return (dims.reduce((a, b) => a * b, 1) / perBlock) * blockBytes
}

function tensorCases({metadata, tensors}: GgufFamilyFile): GgufCase[] {
  const cases: GgufCase[] = []
  const arch = (metadata['general.architecture'] as {value: string}).value
  const layers = Number((metadata[`${arch}.block_count`] as {value: number} | undefined)?.value ?? 0)
  const replace = (label: string, index: number, specs: GgufTensorSpec[]) => cases.push({label: `${tensors[index]!.name} ${label}`, metadata, tensors: [...tensors.slice(0, index), ...specs, ...tensors.slice(index + 1)]})
  tensors.forEach((t, i) => {
    const type = t.type ?? 0
    const dims = t.dims
    replace('deleted', i, [])
    replace('duplicated', i, [t, t])
    if (dims.length > 1 && dims[0] !== dims[dims.length - 1]) replace(`dims reversed [${[...dims].reverse()}]`, i, [{...t, dims: [...dims].reverse()}])
    if (dims.length > 1) replace('flattened to 1-D', i, [{...t, dims: [dims.reduce((a, b) => a * b, 1)]}])
    replace('with a trailing dim of 2 (data as stored)', i, [{...t, dims: [...dims, 2]}])
    replace('with a trailing dim of 1', i, [{...t, dims: [...dims, 1]}])
    const last = dims.length - 1
    if (dims[last]! > 1) {
      const shrunk = [...dims.slice(0, last), dims[last]! - 1]
      replace(`shrunk to [${shrunk}] (data to match)`, i, [{...t, dims: shrunk, data: t.data.subarray(0, byteSize(shrunk, type) ?? t.data.length)}])
    }
    const grown = [...dims.slice(0, last), dims[last]! + 1]
    replace(`grown to [${grown}] (data to match)`, i, [{...t, dims: grown, data: Buffer.concat([t.data, Buffer.alloc((byteSize(grown, type) ?? t.data.length) - t.data.length)])}])
    replace(`dims[0] doubled (data as stored)`, i, [{...t, dims: [dims[0]! * 2, ...dims.slice(1)]}])
    for (const [id, name] of Object.entries(TYPE_NAMES)) {
      const to = Number(id)
      if (to === type) continue
      replace(`as ${name} (data as stored)`, i, [{...t, type: to}])
      const size = byteSize(dims, to)
      if (size !== undefined && size !== t.data.length) replace(`as ${name} (zeros of its size)`, i, [{...t, type: to, data: Buffer.alloc(size)}])
    }
    if (type === 0) replace('all NaN', i, [{...t, data: Buffer.from(new Float32Array(t.data.length / 4).fill(NaN).buffer)}])
    replace('offset past the end', i, [{...t, offset: 2 ** 31}])
    if (i > 0) replace('offset over the first tensor', i, [{...t, offset: 0}])
  })
  // Tensors the metadata does not account for: a layer past block_count, an unknown name.
  const layerTensor = tensors.find((t) => t.name.startsWith('blk.0.'))
  if (layerTensor) cases.push({label: `${layerTensor.name} copied to layer ${layers}`, metadata, tensors: [...tensors, {...layerTensor, name: layerTensor.name.replace('blk.0.', `blk.${layers}.`)}]})
  cases.push({label: 'an unknown tensor blk.0.zzz.weight', metadata, tensors: [...tensors, {name: 'blk.0.zzz.weight', dims: [4], data: Buffer.alloc(16)}]})
  return cases
}
