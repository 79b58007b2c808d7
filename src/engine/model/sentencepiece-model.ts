// Reads a SentencePiece tokenizer.model (a protobuf ModelProto) and builds the tokenizer.json transformers makes of it.
import {ModelLoadError} from '../errors.js'
import {spmTokenizerJson} from './gguf-tokenizer.js'

/** One vocabulary entry; `type` is SentencePiece's (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
export interface SentencePiece {
  piece: string
  score: number
  type: number
}

export interface SentencePieceModel {
  pieces: SentencePiece[]
  /** TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number
  byteFallback: boolean
  addDummyPrefix: boolean
}

const BPE = 2
const MODEL_TYPE_NAMES: Record<number, string> = {1: 'unigram', 2: 'BPE', 3: 'word', 4: 'char'}

/** Protobuf fields of one message: number -> values (varints as numbers, length-delimited as byte views, fixed32 as bytes). */
type Fields = Map<number, Array<number | Uint8Array>>

function readFields(bytes: Uint8Array, fail: (why: string) => never): Fields {
  const fields: Fields = new Map()
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) fail('a number runs past the end of the file')
      const byte = bytes[at++]!
      // Above 2^53 precision is lost; such values (negative int32s, huge counts) are never valid sizes or ids here.
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
    return fail('a number is longer than ten bytes')
  }
  while (at < bytes.length) {
    const key = varint()
    const field = Math.floor(key / 8)
    const wire = key % 8
    let value: number | Uint8Array
    if (wire === 0) value = varint()
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4
      if (at + size > bytes.length) fail('a fixed-size field runs past the end of the file')
      value = bytes.subarray(at, at + size)
      at += size
    } else if (wire === 2) {
      const length = varint()
      if (length > bytes.length - at) fail(`a field of ${length} bytes runs past the end of the file`)
      value = bytes.subarray(at, at + length)
      at += length
    } else return fail(`protobuf wire type ${wire} is not one SentencePiece writes`)
    const list = fields.get(field)
    if (list) list.push(value)
    else fields.set(field, [value])
  }
  return fields
}

/** Parses tokenizer.model; anything that is not a SentencePiece model is a ModelLoadError naming the file. */
export function readSentencePieceModel(bytes: Uint8Array, source: string): SentencePieceModel {
  const fail = (why: string): never => {
    throw new ModelLoadError(`${source} is not a readable SentencePiece model: ${why}.`)
  }
  const model = readFields(bytes, fail)
  const message = (fields: Fields, field: number): Fields => {
    const value = fields.get(field)?.at(-1)
    return value instanceof Uint8Array ? readFields(value, fail) : new Map()
  }
  const scalar = (fields: Fields, field: number, fallback: number): number => {
    const value = fields.get(field)?.at(-1)
    return typeof value === 'number' ? value : fallback
  }
  // ignoreBOM: a piece may start with U+FEFF (Llama 2's id 30143 is that character alone), which is text, not a byte-order mark.
  const text = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})
  const pieces = (model.get(1) ?? []).map((entry, id): SentencePiece => {
    if (!(entry instanceof Uint8Array)) return fail(`vocabulary entry ${id} is not a message`)
    const fields = readFields(entry, fail)
    const piece = fields.get(1)?.at(-1)
    if (!(piece instanceof Uint8Array)) return fail(`vocabulary entry ${id} has no text`)
    const score = fields.get(2)?.at(-1)
    let decoded: string
    try {
      decoded = text.decode(piece)
    } catch {
      return fail(`vocabulary entry ${id} is not UTF-8`)
    }
    return {
      piece: decoded,
      score: score instanceof Uint8Array && score.length === 4 ? new DataView(score.buffer, score.byteOffset, 4).getFloat32(0, true) : 0,
      type: scalar(fields, 3, 1),
    }
  })
  if (pieces.length === 0) fail('it holds no vocabulary')
  const trainer = message(model, 2)
  const normalizer = message(model, 3)
  return {
    pieces,
    modelType: scalar(trainer, 3, 1),
    byteFallback: scalar(trainer, 35, 0) !== 0,
    addDummyPrefix: scalar(normalizer, 3, 1) !== 0,
  }
}

/**
 * The tokenizer.json transformers (v5) builds from a BPE tokenizer.model for Llama-family tokenizers: the SentencePiece
 * vocabulary and merges, with a Metaspace pre-tokenizer that puts ▁ before the first piece of the text only.
 */
export function sentencePieceTokenizerJson(model: SentencePieceModel, source: string): Record<string, unknown> {
  if (model.modelType !== BPE) {
    const name = MODEL_TYPE_NAMES[model.modelType] ?? `type ${model.modelType}`
    throw new ModelLoadError(`${source} is a SentencePiece ${name} model; only BPE ones (Llama, Mistral) can be read without tokenizer.json.`)
  }
  // The same vocabulary, scores and types a GGUF file's "llama" tokenizer holds, so one builder serves both.
  const json = spmTokenizerJson(
    new Map<string, string[] | number[] | boolean>([
      ['tokenizer.ggml.tokens', model.pieces.map((p) => p.piece)],
      ['tokenizer.ggml.scores', model.pieces.map((p) => p.score)],
      ['tokenizer.ggml.token_type', model.pieces.map((p) => p.type)],
      ['tokenizer.ggml.add_space_prefix', false],
    ]),
  )
  const bpe = json.model as {vocab: Record<string, number>; merges: string[]}
  // transformers ranks a merge by the id of the piece it makes (then by where it splits), not by score as llama.cpp does:
  // Llama's "▁▁" scores lowest but has id 259, so two spaces stay one piece.
  const rank = (merge: string) => bpe.vocab[merge.replace(' ', '')]!
  const merges = [...bpe.merges].sort((a, b) => rank(a) - rank(b) || a.indexOf(' ') - b.indexOf(' '))
  return {
    ...json,
    normalizer: null,
    pre_tokenizer: {type: 'Metaspace', replacement: '\u2581', prepend_scheme: model.addDummyPrefix ? 'first' : 'never', split: false},
    model: {...bpe, merges, byte_fallback: model.byteFallback},
    decoder: {
      type: 'Sequence',
      decoders: [
        {type: 'Replace', pattern: {String: '\u2581'}, content: ' '},
        {type: 'ByteFallback'},
        {type: 'Fuse'},
        ...(model.addDummyPrefix ? [{type: 'Strip', content: ' ', start: 1, stop: 0}] : []),
      ],
    },
  }
}
