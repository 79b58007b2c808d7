// Reads the tokenizer metadata of a GGUF file and turns a GPT-2 BPE vocab into a tokenizer.json object.
import {readFileSync} from 'node:fs'
import {Tokenizer as HfTokenizer} from '@huggingface/tokenizers'
import {ModelLoadError} from '../engine/errors.js'
import {specialAddedToken} from '../engine/model/byte-level-bpe.js'

type GgufValue = number | bigint | boolean | string | GgufValue[]

/** GGUF value type ids (gguf.h: GGUF_TYPE_*). */
const enum GgufType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}

/** Parses the header and key/value metadata of a GGUF file (tensor infos and data are ignored). */
export function readGgufMetadata(path: string): Map<string, GgufValue> {
  const bytes = readFileSync(path)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  const fail = (why: string): never => {
    throw new ModelLoadError(`${path}: not a readable GGUF file (${why} at byte ${offset})`)
  }
  const need = (n: number) => {
    if (offset + n > bytes.byteLength) fail('truncated')
  }
  const u32 = () => (need(4), (offset += 4), view.getUint32(offset - 4, true))
  const u64 = () => (need(8), (offset += 8), view.getBigUint64(offset - 8, true))
  const string = () => {
    const length = Number(u64())
    need(length)
    offset += length
    return bytes.toString('utf8', offset - length, offset)
  }
  const value = (type: number): GgufValue => {
    switch (type) {
      case GgufType.U8: return (need(1), (offset += 1), view.getUint8(offset - 1))
      case GgufType.I8: return (need(1), (offset += 1), view.getInt8(offset - 1))
      case GgufType.U16: return (need(2), (offset += 2), view.getUint16(offset - 2, true))
      case GgufType.I16: return (need(2), (offset += 2), view.getInt16(offset - 2, true))
      case GgufType.U32: return u32()
      case GgufType.I32: return (need(4), (offset += 4), view.getInt32(offset - 4, true))
      case GgufType.F32: return (need(4), (offset += 4), view.getFloat32(offset - 4, true))
      case GgufType.BOOL: return (need(1), (offset += 1), view.getUint8(offset - 1) !== 0)
      case GgufType.STRING: return string()
      case GgufType.U64: return u64()
      case GgufType.I64: return (need(8), (offset += 8), view.getBigInt64(offset - 8, true))
      case GgufType.F64: return (need(8), (offset += 8), view.getFloat64(offset - 8, true))
      case GgufType.ARRAY: {
        const itemType = u32()
        const count = Number(u64())
        const items: GgufValue[] = new Array(count)
        for (let i = 0; i < count; i++) items[i] = value(itemType)
        return items
      }
      default: return fail(`unknown value type ${type}`)
    }
  }
  need(4)
  if (bytes.toString('latin1', 0, 4) !== 'GGUF') fail('bad magic')
  offset = 4
  const version = u32()
  if (version < 2) fail(`unsupported version ${version}`)
  u64() // tensor count: a vocab-only file has none, and we read no tensors anyway
  const kvCount = Number(u64())
  const metadata = new Map<string, GgufValue>()
  for (let i = 0; i < kvCount; i++) {
    const key = string()
    metadata.set(key, value(u32()))
  }
  return metadata
}

/**
 * Builds the tokenizer.json object of a byte-level BPE (GPT-2 family) vocab stored in GGUF metadata.
 * The GGUF tokens are already in GPT-2's byte-to-unicode alphabet, so they go into the vocab as they are.
 */
export function gpt2TokenizerJsonFromGguf(metadata: Map<string, GgufValue>): object {
  const model = metadata.get('tokenizer.ggml.model')
  const tokens = metadata.get('tokenizer.ggml.tokens')
  const merges = metadata.get('tokenizer.ggml.merges')
  if (model !== 'gpt2' || !Array.isArray(tokens) || !Array.isArray(merges))
    throw new ModelLoadError(`GGUF vocab is not a GPT-2 BPE vocab (tokenizer.ggml.model = ${String(model)})`)
  const tokenTypes = metadata.get('tokenizer.ggml.token_type')
  const vocab: Record<string, number> = {}
  tokens.forEach((token, id) => (vocab[String(token)] = id))
  // token_type 3 = CONTROL (e.g. <|endoftext|>): it must match as one piece, never through BPE.
  const addedTokens = tokens
    .map((token, id) => ({id, content: String(token), type: Array.isArray(tokenTypes) ? Number(tokenTypes[id]) : 1}))
    .filter((token) => token.type === 3)
    .map(({id, content}) => specialAddedToken(id, content))
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
    post_processor: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true},
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(String),
    },
  }
}

/**
 * A GPT-2 tokenizer from a GGUF vocab file. `prependBos` mimics OPT's tokenizer, which is GPT-2's BPE plus a
 * BOS token (`</s>`, id 2 in OPT's vocab) before every encoded text: the dataset README's figures count it.
 */
export function loadGpt2TokenizerFromGguf(
  path: string,
  options: {prependBosId?: number} = {},
): {encode(text: string): number[]; vocabSize: number} {
  const json = gpt2TokenizerJsonFromGguf(readGgufMetadata(path)) as {model: {vocab: object}}
  const tokenizer = new HfTokenizer(json, {})
  const bos = options.prependBosId === undefined ? [] : [options.prependBosId]
  return {
    encode: (text: string) => [...bos, ...tokenizer.encode(text, {add_special_tokens: false}).ids],
    vocabSize: Object.keys(json.model.vocab).length,
  }
}
