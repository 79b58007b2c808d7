// A checkpoint with tokenizer.model and no tokenizer.json (older Llama fine-tunes): the SentencePiece model is read
// and built into the tokenizer transformers makes of it. Hostile files are clear load errors.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {readJsonObject} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {sentencePieceProto, type ProtoPiece} from './support/sentencepiece-proto.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-spm-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

/** The pieces of a SentencePiece-style tokenizer.json, by id, as the tokenizer.model it came from would list them. */
function piecesOf(tokenizerJson: Record<string, unknown>): ProtoPiece[] {
  const vocab = (tokenizerJson.model as {vocab: Record<string, number>}).vocab
  const pieces: ProtoPiece[] = []
  for (const [piece, id] of Object.entries(vocab)) {
    const type = piece === '<unk>' ? 2 : piece === '<s>' || piece === '</s>' ? 3 : /^<0x[0-9A-F]{2}>$/.test(piece) ? 6 : 1
    pieces[id] = {piece, score: -id, type}
  }
  return pieces
}

function modelDir(name: string, files: Record<string, Uint8Array | string>): string {
  const dir = join(scratch, name)
  cpSync(join(scratch, 'base'), dir, {recursive: true})
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content)
  return dir
}

describe('SentencePiece tokenizer.model without tokenizer.json', () => {
  const texts = ['Hello world', ' two  spaces\nnew line', '<s>special</s> after', 'émoji 🙂 中文 12345', '', '   leading', 'trailing   ', 'a\tb 42']

  it("tokenizes as the tokenizer.json it stands for, and the engine's greedy tokens are the same", async () => {
    const source = await ensureTestModel('tiny')
    cpSync(source, join(scratch, 'base'), {recursive: true})
    rmSync(join(scratch, 'base', 'tokenizer.json'))
    const reference = Tokenizer.load(source)
    const tokenizerJson = readJsonObject(join(source, 'tokenizer.json'))
    const dir = modelDir('from-model', {'tokenizer.model': sentencePieceProto(piecesOf(tokenizerJson))})
    const fromModel = Tokenizer.load(dir)
    for (const text of texts) {
      assert.deepEqual(fromModel.encode(text), reference.encode(text), JSON.stringify(text))
      const ids = reference.encode(text)
      assert.equal(fromModel.decode(ids, {skipSpecialTokens: true}), reference.decode(ids, {skipSpecialTokens: true}))
    }
    const runs = await Promise.all(
      [source, dir].map(async (modelPath) => {
        const engine = await LLMEngine.create(makeEngineConfig({modelPath, threads: 1, device: 'cpu'}))
        try {
          const [result] = await engine.generate([{prompt: 'Once upon a time', params: makeSamplingParams({maxTokens: 12, temperature: 0})}])
          return result!.outputs[0]!.tokenIds
        } finally {
          await engine.shutdown()
        }
      }),
    )
    assert.deepEqual(runs[1], runs[0])
  })

  it("ranks merges by the id of the piece they make, as transformers does (Llama's low-scored ▁▁ still joins two spaces)", () => {
    const pieces: ProtoPiece[] = [
      {piece: '<unk>', score: 0, type: 2},
      {piece: '<s>', score: 0, type: 3},
      {piece: '</s>', score: 0, type: 3},
      {piece: '▁▁', score: -1e9, type: 1},
      {piece: '▁x', score: -1, type: 1},
      {piece: '▁', score: -1e9, type: 1},
      {piece: 'x', score: -2, type: 1},
    ]
    const dir = modelDir('ranked', {'tokenizer.model': sentencePieceProto(pieces, {byteFallback: false})})
    // "  x" is ▁▁x (no dummy prefix before a ▁): by id ▁▁ (3) merges before ▁x (4); by score ▁x would win, giving [5, 4].
    assert.deepEqual(Tokenizer.load(dir).encode('  x', {addSpecialTokens: false}), [3, 6])
    assert.deepEqual(Tokenizer.load(dir).encode('x', {addSpecialTokens: false}), [4])
  })

  it("a piece that starts with U+FEFF keeps it (Llama 2's id 30143 is \\ufeff; TextDecoder dropped it as a BOM, leaving an empty piece)", () => {
    const pieces: ProtoPiece[] = [
      {piece: '<unk>', score: 0, type: 2},
      {piece: '<s>', score: 0, type: 3},
      {piece: '</s>', score: 0, type: 3},
      {piece: '▁a', score: -1, type: 1},
      {piece: '\ufeff', score: -2, type: 1},
      {piece: 'b', score: -3, type: 1},
      {piece: '\ufeffb', score: -4, type: 1},
      {piece: '▁', score: -5, type: 1},
      {piece: 'a', score: -6, type: 1},
    ]
    const dir = modelDir('bom-piece', {'tokenizer.model': sentencePieceProto(pieces, {byteFallback: false})})
    const tokenizer = Tokenizer.load(dir)
    assert.deepEqual(tokenizer.encode('a\ufeff', {addSpecialTokens: false}), [3, 4])
    assert.deepEqual(tokenizer.encode('a\ufeffb', {addSpecialTokens: false}), [3, 6])
    assert.equal(tokenizer.decode([3, 4, 5]), 'a\ufeffb')
    assert.equal(tokenizer.decode([6]), '\ufeffb')
  })

  it('a file that is not a BPE SentencePiece model is a ModelLoadError naming it', () => {
    const good = sentencePieceProto([{piece: '<unk>', score: 0, type: 2}, {piece: 'a', score: 0, type: 1}])
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['truncated', good.subarray(0, good.length - 3), /runs past the end/],
      ['garbage', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /longer than ten bytes/],
      ['wire-type', Uint8Array.from([0x0b, 0x00]), /wire type 3/],
      ['empty', new Uint8Array(0), /no vocabulary/],
      ['unigram', sentencePieceProto([{piece: '<unk>', score: 0, type: 2}, {piece: 'a', score: -1, type: 1}], {modelType: 1}), /unigram model; only BPE/],
      ['not-utf8', Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0xff]), /not UTF-8/],
      ['huge-length', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), /runs past the end/],
    ]
    for (const [name, bytes, why] of cases) {
      const dir = modelDir(`bad-${name}`, {'tokenizer.model': bytes})
      assert.throws(
        () => Tokenizer.load(dir),
        (error: unknown) => error instanceof ModelLoadError && why.test(error.message) && error.message.includes('tokenizer.model'),
        name,
      )
    }
    rmSync(join(scratch, 'bad-empty', 'tokenizer.model'))
    assert.throws(() => Tokenizer.load(join(scratch, 'bad-empty')), /No tokenizer\.json \(nor vocab\.json \+ merges\.txt, nor a SentencePiece tokenizer\.model\)/)
  })
})
