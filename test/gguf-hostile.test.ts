// Hostile or unsupported GGUF files (header counts, alignment, offsets, duplicate tensors, metadata values) fail with one clear ModelLoadError.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {u32, type GgufEntry} from './support/gguf-file.js'
import {SMALL_GGUF_SHAPE, llamaGgufBytes, llamaTensors} from './support/llama-gguf.js'

const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-hostile-'))
after(() => rmSync(dir, {recursive: true, force: true}))

let files = 0
function write(bytes: Buffer): string {
  const path = join(dir, `model-${files++}.gguf`)
  writeFileSync(path, bytes)
  return path
}

function loadError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected a ModelLoadError, got ${String(error)}`)
    assert.match(error.message, pattern)
    return true
  }
}

const withMetadata = (metadata: Record<string, GgufEntry | undefined>) => llamaGgufBytes(SMALL_GGUF_SHAPE, {metadata})

describe('GGUF files made here load', () => {
  it('a small llama file with a SentencePiece vocabulary, one with tied embeddings and u64 metadata, one aligned to 64', async () => {
    const model = await loadModel(write(llamaGgufBytes()))
    assert.equal(model.config.numLayers, SMALL_GGUF_SHAPE.numLayers)
    assert.equal(model.config.tieWordEmbeddings, false)
    const tied = await loadModel(write(llamaGgufBytes({...SMALL_GGUF_SHAPE, tied: true}, {metadata: {'llama.context_length': {type: 'u64', value: 64n}}})))
    assert.equal(tied.config.tieWordEmbeddings, true)
    assert.equal(tied.config.maxPositionEmbeddings, 64)
    const aligned = llamaGgufBytes(SMALL_GGUF_SHAPE, {metadata: {'general.alignment': {type: 'u64', value: 64n}}, file: {alignment: 64}})
    assert.equal((await loadModel(write(aligned))).config.hiddenSize, SMALL_GGUF_SHAPE.hiddenSize)
  })
})

describe('hostile GGUF headers', () => {
  it('a version this reader does not know', async () => {
    const bytes = llamaGgufBytes()
    bytes.writeUInt32LE(4, 4)
    await assert.rejects(loadModel(write(bytes)), loadError(/unsupported version 4/))
  })

  it('an array count far beyond the file is refused before anything is allocated', async () => {
    const bytes = llamaGgufBytes()
    const key = bytes.indexOf('tokenizer.ggml.tokens')
    bytes.writeBigUInt64LE(2n ** 40n, key + 'tokenizer.ggml.tokens'.length + 4 + 4) // after the value type and the item type
    await assert.rejects(loadModel(write(bytes)), loadError(/truncated: 1099511627776 array items cannot fit in the rest of the file/))
  })

  for (const [label, alignment] of [['0', u32(0)], ['7 (not a power of two)', u32(7)], ['a string', {type: 'string', value: '32'}]] as const) {
    it(`general.alignment ${label}`, async () => {
      await assert.rejects(loadModel(write(withMetadata({'general.alignment': alignment}))), loadError(/general\.alignment .* is not a power of two/))
    })
  }

  it('a tensor whose data offset is not a multiple of the alignment', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    tensors[1]!.offset = tensors[0]!.data.length + 4
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))), loadError(/tensor output_norm\.weight's data offset \d+ is not a multiple of the alignment 32/))
  })

  it('two tensors with the same name', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    tensors.push({...tensors[2]!})
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))), loadError(/duplicate tensor name output\.weight/))
  })

  it('a metadata key given twice (llama.cpp refuses it; which one counts would be a guess)', async () => {
    const bytes = llamaGgufBytes()
    // The first pair is general.architecture = "llama": key length, key, value type, value length, value.
    const pair = bytes.subarray(24, 24 + 8 + 'general.architecture'.length + 4 + 8 + 'llama'.length)
    const twice = Buffer.concat([bytes.subarray(0, 24 + pair.length), pair, bytes.subarray(24 + pair.length)])
    twice.writeBigUInt64LE(twice.readBigUInt64LE(16) + 1n, 16)
    await assert.rejects(loadModel(write(twice)), loadError(/duplicate metadata key general\.architecture/))
  })

  it('a tensor with more than four dimensions', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    tensors[1]!.dims = [32, 1, 1, 1, 1]
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))), loadError(/tensor output_norm\.weight has 5 dimensions \(at most 4\)/))
  })

  it('a block-quantized tensor whose rows are not whole blocks', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    const output = tensors.find((t) => t.name === 'output.weight')!
    Object.assign(output, {type: 8, dims: [20, SMALL_GGUF_SHAPE.vocabSize]}) // Q8_0 blocks hold 32 values
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))), loadError(/output\.weight is Q8_0 with rows of 20 values, not a whole number of its 32-value blocks/))
  })

  it("a vocabulary-only file (llama.cpp's ggml-vocab-*.gguf) is named as one, and a file missing only the embedding names it", async () => {
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors: []}))), loadError(/: it holds no tensors \(a vocabulary-only file/))
    const tensors = llamaTensors(SMALL_GGUF_SHAPE).filter((t) => t.name !== 'token_embd.weight')
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))), loadError(/: no token_embd\.weight tensor$/))
  })
})

describe('GGUF metadata gets the checks config.json gets', () => {
  it('a block count of 2^31, or one beyond the file, fails at once instead of running out of memory', async () => {
    await assert.rejects(loadModel(write(withMetadata({'llama.block_count': u32(2 ** 31)}))), loadError(/GGUF metadata llama\.block_count 2147483648 is not a layer count \(1 to 10000\)/))
    await assert.rejects(loadModel(write(withMetadata({'llama.block_count': u32(9000)}))), loadError(/says 9000 layers of 9 tensors each, but the checkpoint .* holds only 21 tensors/))
  })

  const cases: [string, Record<string, GgufEntry | undefined>, RegExp][] = [
    ['zero attention heads', {'llama.attention.head_count': u32(0)}, /"num_attention_heads" \(a positive integer\)/],
    ['kv heads that do not divide the heads', {'llama.attention.head_count_kv': u32(3)}, /num_attention_heads \(4\) is not a multiple of num_key_value_heads \(3\)/],
    ['a string where a size belongs', {'llama.embedding_length': {type: 'string', value: '32'}}, /"hidden_size" \(a positive integer\)/],
    ['a context length of 0', {'llama.context_length': u32(0)}, /"max_position_embeddings" \(a positive integer\)/],
    ['a negative rms epsilon', {'llama.attention.layer_norm_rms_epsilon': {type: 'f32', value: -1}}, /"rms_norm_eps" must not be negative/],
    ['rope freq_base 0', {'llama.rope.freq_base': {type: 'f32', value: 0}}, /"rope_theta" must be positive, got 0/],
    ['a Mixtral-style expert count without the experts', {'llama.expert_count': u32(8)}, /says 8 experts of 3 tensors in each of 2 sparse layers, but the checkpoint .* holds only 21 tensors/],
    ['rotary embeddings over part of each head', {'llama.rope.dimension_count': u32(4)}, /llama\.rope\.dimension_count 4 differs from the head size 8/],
    ['value heads of another size', {'llama.attention.value_length': u32(16)}, /llama\.attention\.value_length 16 differs from the head size 8/],
  ]
  for (const [label, metadata, pattern] of cases) {
    it(`refuses ${label}`, async () => {
      await assert.rejects(loadModel(write(withMetadata(metadata))), loadError(pattern))
    })
  }
})

// Found by scripts/fuzz-model-files.ts --gguf: each was a crash, a TypeError, or a file that loaded and ran as some
// other model (a layer, an expert or a setting silently left out).
describe('GGUF tokenizer metadata of the wrong type or length is refused, not read as absent', () => {
  const scores = (length: number): GgufEntry => ({type: 'f32s', value: Array(length).fill(0)})
  const cases: [string, Record<string, GgufEntry>, RegExp][] = [
    ['an eos id of Infinity', {'tokenizer.ggml.eos_token_id': {type: 'f32', value: Infinity}}, /GGUF metadata tokenizer\.ggml\.eos_token_id is Infinity, not a token id/],
    ['a bos id that is a bool', {'tokenizer.ggml.bos_token_id': {type: 'bool', value: true}}, /GGUF metadata tokenizer\.ggml\.bos_token_id is true, not a token id/],
    ['a chat template that is a number', {'tokenizer.chat_template': u32(1)}, /GGUF metadata tokenizer\.chat_template is 1, not a string/],
    ['add_bos_token as a number', {'tokenizer.ggml.add_bos_token': u32(1)}, /GGUF metadata tokenizer\.ggml\.add_bos_token is 1, not a bool/],
    ['add_space_prefix as NaN', {'tokenizer.ggml.add_space_prefix': {type: 'f32', value: NaN}}, /GGUF metadata tokenizer\.ggml\.add_space_prefix is NaN, not a bool/],
    ['scores one short of the tokens', {'tokenizer.ggml.scores': scores(SMALL_GGUF_SHAPE.vocabSize - 1)}, /GGUF metadata tokenizer\.ggml\.scores has 319 entries for 320 tokens/],
    ['tokens that are numbers', {'tokenizer.ggml.tokens': {type: 'i32s', value: Array(SMALL_GGUF_SHAPE.vocabSize).fill(1)}}, /GGUF metadata tokenizer\.ggml\.tokens is not an array of strings/],
    ['a tokenizer model that is a u64', {'tokenizer.ggml.model': {type: 'u64', value: 2n ** 53n}}, /GGUF tokenizer model 9007199254740992 is not supported/],
  ]
  for (const [label, metadata, pattern] of cases) {
    it(`refuses ${label}`, async () => {
      await assert.rejects(loadModel(write(withMetadata(metadata))), loadError(pattern))
    })
  }
})

describe('GGUF tensors the metadata does not account for', () => {
  it('a layer past block_count, a bias a llama file\'s metadata does not read, and a layer tensor no llama layer has, are refused rather than left unread', async () => {
    await assert.rejects(loadModel(write(withMetadata({'llama.block_count': u32(1)}))), loadError(/tensor blk\.1\.attn_norm\.weight is of layer 1, but block_count is 1/))
    const extra = [...llamaTensors(SMALL_GGUF_SHAPE), {name: 'blk.0.attn_k.bias', dims: [16], data: Buffer.alloc(64)}]
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors: extra}))), loadError(/tensor blk\.0\.attn_k\.bias is not read by a llama model as its metadata describes it/))
    const unknown = [...llamaTensors(SMALL_GGUF_SHAPE), {name: 'blk.0.zzz.weight', dims: [4], data: Buffer.alloc(16)}]
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors: unknown}))), loadError(/tensor blk\.0\.zzz\.weight is not a tensor of a llama layer/))
  })

  it('a tensor whose type or shape says fewer bytes than were written for it (a gap before the next, or bytes after the last)', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    const asF16 = (index: number) => tensors.map((t, i) => (i === index ? {...t, type: 1} : t))
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors: asF16(0)}))), loadError(new RegExp(`tensor ${tensors[1]!.name.replace(/\./g, '\\.')}'s data is at offset \\d+, but tensor ${tensors[0]!.name.replace(/\./g, '\\.')} \\(F16 \\[[\\d, ]+\\]\\) before it ends at \\d+`)))
    const last = tensors.length - 1
    await assert.rejects(loadModel(write(llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors: asF16(last)}))), loadError(new RegExp(`\\d+ bytes follow the last tensor, ${tensors[last]!.name.replace(/\./g, '\\.')} \\(F16`)))
  })
})
