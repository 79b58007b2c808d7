// A checkpoint with GPT-2-style vocab.json + merges.txt and no tokenizer.json (GPT-2, OPT): the tokenizer transformers
// builds from them, pinned by ids transformers gave (fixture), plus hostile files as clear load errors.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {readJsonObject} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-gpt2-files-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

interface Fixture {
  texts: string[]
  cases: Record<string, {config_changes: Record<string, unknown>; ids: number[][]}>
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/gpt2-vocab-files-transformers.json', import.meta.url), 'utf8')) as Fixture

const HOSTILE_TEXTS = [
  'Hello world', ' two  spaces\nnew line', '<|endoftext|>special</s> after <s><pad>', 'émoji 🙂 中文 12345', '', '   leading', 'trailing   ',
  "a\tb 42 it's I'M we'll", '\u0000\u0001 control \r\n\r\n', 'x'.repeat(300), '\ufffd\u200b zero width', 'ﬁ ligature ＡＢＣ',
]

const sources: Record<string, string> = {}
before(async () => {
  sources.gpt2 = await ensureTestModel('tiny', {variant: 'gpt2'})
  sources.opt = await ensureTestModel('tiny', {variant: 'opt'})
})

/** The model's checkpoint with vocab.json + merges.txt (GPT-2's #version header) written from its tokenizer.json, which is deleted. */
function slowFilesDir(name: string, source: string, files: Record<string, string | Uint8Array> = {}, configChanges: Record<string, unknown> = {}): string {
  const dir = join(scratch, name)
  cpSync(source, dir, {recursive: true})
  const model = readJsonObject(join(source, 'tokenizer.json')).model as {vocab: Record<string, number>; merges: Array<string | string[]>}
  rmSync(join(dir, 'tokenizer.json'))
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(model.vocab))
  const merges = model.merges.map((merge) => (typeof merge === 'string' ? merge : merge.join(' ')))
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`)
  const config = {...readJsonObject(join(source, 'tokenizer_config.json')), ...configChanges}
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content)
  return dir
}

describe('GPT-2-style vocab.json + merges.txt without tokenizer.json', () => {
  for (const family of ['gpt2', 'opt']) {
    it(`${family}: tokenizes as the tokenizer.json it came from, and the engine's greedy tokens are the same`, async () => {
      const source = sources[family]!
      const reference = Tokenizer.load(source)
      const dir = slowFilesDir(`same-${family}`, source)
      const fromFiles = Tokenizer.load(dir)
      for (const text of HOSTILE_TEXTS) {
        assert.deepEqual(fromFiles.encode(text), reference.encode(text), JSON.stringify(text))
        const ids = reference.encode(text)
        assert.equal(fromFiles.decode(ids), reference.decode(ids))
      }
      assert.equal(fromFiles.bosTokenId, reference.bosTokenId)
      assert.deepEqual(fromFiles.eosTokenIds, reference.eosTokenIds)
      assert.deepEqual([...fromFiles.specialTokenIds].sort(), [...reference.specialTokenIds].sort())
      const runs = await Promise.all(
        [source, dir].map(async (modelPath) => {
          const engine = await LLMEngine.create(makeEngineConfig({modelPath, threads: 1, device: 'cpu'}))
          try {
            const [result] = await engine.generate([{prompt: 'Once upon a time', params: makeSamplingParams({maxTokens: 8, temperature: 0})}])
            return result!.outputs[0]!.tokenIds
          } finally {
            await engine.shutdown()
          }
        }),
      )
      assert.deepEqual(runs[1], runs[0])
    })
  }

  for (const [name, testCase] of Object.entries(fixture.cases)) {
    it(`${name}: gives the ids transformers' AutoTokenizer gives (add_prefix_space, OPT's </s> first)`, () => {
      const family = name.startsWith('opt') ? 'opt' : 'gpt2'
      const tokenizer = Tokenizer.load(slowFilesDir(`fixture-${name}`, sources[family]!, {}, testCase.config_changes))
      fixture.texts.forEach((text, index) => assert.deepEqual(tokenizer.encode(text), testCase.ids[index], JSON.stringify(text)))
    })
  }

  it('reads added_tokens.json and special_tokens_map.json as transformers does when the config has no added_tokens_decoder', () => {
    const {added_tokens_decoder: _dropped, bos_token: _bos, eos_token: _eos, ...config} = readJsonObject(join(sources.gpt2!, 'tokenizer_config.json'))
    const dir = slowFilesDir('legacy-added', sources.gpt2!, {
      'added_tokens.json': JSON.stringify({'<extra>': 9999}),
      'special_tokens_map.json': JSON.stringify({bos_token: '<|endoftext|>', eos_token: '<|endoftext|>'}),
    })
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
    const tokenizer = Tokenizer.load(dir)
    const vocabSize = Object.keys(readJsonObject(join(dir, 'vocab.json'))).length
    // The tokenizers library gives a token outside the vocabulary the next id, whatever added_tokens.json says.
    assert.deepEqual(tokenizer.encode('a<extra>'), [...tokenizer.encode('a'), vocabSize])
    assert.equal(tokenizer.specialTokenIds.has(vocabSize), false)
    assert.equal(tokenizer.bosTokenId, 0)
    assert.deepEqual(tokenizer.encode('<|endoftext|>'), [0])
  })

  it("without tokenizer_class takes the class of config.json's model_type: GPT-NeoX's NFC and <|padding|>, as transformers does", () => {
    const {tokenizer_class: _dropped, ...config} = readJsonObject(join(sources.gpt2!, 'tokenizer_config.json'))
    const tokenizers = ['gpt2', 'gpt_neox'].map((modelType) => {
      const dir = slowFilesDir(`class-of-${modelType}`, sources.gpt2!)
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
      writeFileSync(join(dir, 'config.json'), JSON.stringify({...readJsonObject(join(dir, 'config.json')), model_type: modelType}))
      return Tokenizer.load(dir)
    })
    const [gpt2, neox] = tokenizers as [Tokenizer, Tokenizer]
    assert.notDeepEqual(gpt2.encode('cafe\u0301'), gpt2.encode('caf\u00e9'))
    assert.deepEqual(neox.encode('cafe\u0301'), neox.encode('caf\u00e9'))
    // transformers 5 gave [..., 512, ...] for the tiny vocabulary of 512: the default pad token, added after it.
    assert.deepEqual(neox.encode('<|padding|>'), [512])
    assert.equal(gpt2.encode('<|padding|>').length > 1, true)
  })

  it('adds a named special token missing from the vocabulary after it, and add_bos_token puts it first (a token named "constructor" too)', () => {
    const config = {tokenizer_class: 'GPT2Tokenizer', bos_token: 'constructor', eos_token: '<|endoftext|>', add_bos_token: true}
    const tokenizer = Tokenizer.load(slowFilesDir('bos-outside-vocab', sources.gpt2!, {'tokenizer_config.json': JSON.stringify(config)}))
    const vocabSize = Object.keys((readJsonObject(join(sources.gpt2!, 'tokenizer.json')).model as {vocab: object}).vocab).length
    assert.equal(tokenizer.bosTokenId, vocabSize)
    assert.deepEqual(tokenizer.encode('a constructor'), [vocabSize, ...tokenizer.encode('a ', {addSpecialTokens: false}), vocabSize])
  })

  describe('hostile files are a ModelLoadError naming the file', () => {
    const vocabOf = () => readJsonObject(join(sources.gpt2!, 'tokenizer.json')).model as {vocab: Record<string, number>}
    const cases: Array<[string, () => Record<string, string | Uint8Array>, RegExp]> = [
      ['a merges.txt line that is not two tokens', () => ({'merges.txt': '#version: 0.2\nĠ t\nh e x\n'}), /merges\.txt line 3 is not two tokens/],
      ['an empty merges.txt line', () => ({'merges.txt': '#version: 0.2\n\nĠ t\n'}), /merges\.txt line 2 is not two tokens/],
      ['a merge naming a token not in the vocabulary', () => ({'merges.txt': 'Ġ t\nzz q\n'}), /merges\.txt line 2 .*"zz".* not in vocab\.json/],
      ['a vocab.json that is a list', () => ({'vocab.json': '["a", "b"]'}), /vocab\.json must hold a JSON object/],
      ['a vocab.json that is not JSON', () => ({'vocab.json': '{"a": 0,'}), /Cannot parse .*vocab\.json as JSON/],
      ['a negative id', () => ({'vocab.json': JSON.stringify({...vocabOf().vocab, bad: -1})}), /vocab\.json gives "bad" the id -1/],
      ['a fractional id', () => ({'vocab.json': JSON.stringify({...vocabOf().vocab, bad: 1.5})}), /vocab\.json gives "bad" the id 1\.5/],
      ['a string id', () => ({'vocab.json': JSON.stringify({...vocabOf().vocab, bad: '7'})}), /vocab\.json gives "bad" the id "7"/],
      ['a duplicate id', () => ({'vocab.json': JSON.stringify({...vocabOf().vocab, twin: 5})}), /vocab\.json gives both .* and "twin" the id 5/],
      ['an id far past the entries', () => ({'vocab.json': JSON.stringify({...vocabOf().vocab, far: 2 ** 31})}), /vocab\.json gives "far" the id 2147483648, far beyond/],
      ['an empty vocab.json', () => ({'vocab.json': '{}'}), /vocab\.json holds no tokens/],
      ['a non-UTF-8 merges.txt', () => ({'merges.txt': new Uint8Array([0x47, 0x20, 0xff, 0xfe, 0x0a])}), /Cannot read .*merges\.txt: .*(encoded|UTF-8|invalid)/i],
      ['a non-UTF-8 vocab.json', () => ({'vocab.json': new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x30, 0x7d])}), /Cannot read .*vocab\.json/],
      ['an added_tokens.json with a bad id', () => ({'added_tokens.json': '{"<x>": "one"}'}), /added_tokens\.json gives "<x>" the id "one"/],
    ]
    for (const [what, files, message] of cases) {
      it(what, () => {
        const dir = slowFilesDir(`hostile-${what.replace(/\W+/g, '-')}`, sources.gpt2!, files())
        if (what.startsWith('an added_tokens')) {
          const {added_tokens_decoder: _dropped, ...config} = readJsonObject(join(dir, 'tokenizer_config.json'))
          writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
        }
        assert.throws(() => Tokenizer.load(dir), (error: unknown) => error instanceof ModelLoadError && message.test(error.message))
      })
    }

    it('a huge vocab.json is refused by its size, unread', () => {
      const dir = slowFilesDir('hostile-huge', sources.gpt2!)
      writeFileSync(join(dir, 'vocab.json'), Buffer.alloc((64 << 20) + 1, 0x20))
      assert.throws(() => Tokenizer.load(dir), (error: unknown) => error instanceof ModelLoadError && /vocab\.json: it has \d+ bytes, more than/.test(error.message))
    })

    it('a tokenizer class other than GPT-2 or GPT-NeoX, and a directory with no tokenizer at all', () => {
      const dir = slowFilesDir('hostile-class', sources.gpt2!, {}, {tokenizer_class: 'RobertaTokenizer'})
      assert.throws(() => Tokenizer.load(dir), /names RobertaTokenizer, but only GPT2Tokenizer and GPTNeoXTokenizer/)
      rmSync(join(dir, 'merges.txt'))
      assert.throws(() => Tokenizer.load(dir), /No tokenizer\.json \(nor vocab\.json \+ merges\.txt, nor a SentencePiece tokenizer\.model\)/)
    })
  })
})
