// Tokenizers at their edges: GGUF pre-tokenizer names, special ids outside the vocabulary, padded model vocabularies, broken post-processors.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {bytesToUnicode} from '../src/engine/model/byte-level-bpe.js'
import type {GgufValue} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig} from '../src/engine/model/tokenizer-families.js'
import {familyVocabMetadata} from './support/llama-gguf.js'

/** A GPT-2 style GGUF vocabulary: the 256 byte tokens, then merged tokens; a token may have no merge leading to it. */
function bpeMetadata(merged: string[], merges: string[], extra: Record<string, GgufValue> = {}): Map<string, GgufValue> {
  const tokens = [...bytesToUnicode(), ...merged, '<|end|>']
  return new Map<string, GgufValue>(Object.entries({
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': tokens.map((token) => (token === '<|end|>' ? 3 : 1)),
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.eos_token_id': tokens.length - 1,
    ...extra,
  }))
}

describe('GGUF pre-tokenizers (tokenizer.ggml.pre)', () => {
  // "1234" is a token reachable by merges, and " hello" a token no merge reaches.
  const merged = ['12', '123', '1234', '\u0120hello']
  const metadata = (pre?: string) => bpeMetadata(merged, ['1 2', '12 3', '123 4'], pre === undefined ? {} : {'tokenizer.ggml.pre': pre})
  const id = (token: string) => 256 + merged.indexOf(token)
  const byte = (char: string) => bytesToUnicode().indexOf(char)

  it('GPT-2 ("default", "gpt-2" or none) splits digits as one word and merges without shortcuts', () => {
    for (const pre of [undefined, 'default', 'gpt-2']) {
      const tokenizer = tokenizerFromGguf(metadata(pre))
      assert.deepEqual(tokenizer.encode('1234', {addSpecialTokens: false}), [id('1234')], String(pre))
      assert.equal(tokenizer.encode(' hello', {addSpecialTokens: false}).length, 6, String(pre))
    }
  })

  it('Llama 3 ("llama-bpe") splits digits in threes and takes a word that is a whole token as it is', () => {
    const tokenizer = tokenizerFromGguf(metadata('llama-bpe'))
    assert.deepEqual(tokenizer.encode('1234', {addSpecialTokens: false}), [id('123'), byte('4')])
    assert.deepEqual(tokenizer.encode(' hello', {addSpecialTokens: false}), [id('\u0120hello')])
  })

  it('Qwen2 ("qwen2") splits every digit', () => {
    const tokenizer = tokenizerFromGguf(metadata('qwen2'))
    assert.deepEqual(tokenizer.encode('1234', {addSpecialTokens: false}), ['1', '2', '3', '4'].map(byte))
  })

  it('an unknown pre-tokenizer is refused by name rather than tokenizing differently from llama.cpp', () => {
    assert.throws(() => tokenizerFromGguf(metadata('poro-chat')), (error: unknown) =>
      error instanceof ModelLoadError && /pre-tokenizer "poro-chat" \(tokenizer\.ggml\.pre\) is not supported; supported: default, gpt-2, llama-bpe/.test(error.message))
  })
})

describe('special token ids outside the GGUF vocabulary', () => {
  it('count as absent instead of reaching the model as an undefined id', () => {
    const size = 256 + 1 + 1
    const tokenizer = tokenizerFromGguf(bpeMetadata(['ab'], ['a b'], {'tokenizer.ggml.bos_token_id': 100000, 'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.eos_token_id': size + 5}))
    assert.equal(tokenizer.bosTokenId, null)
    assert.deepEqual(tokenizer.eosTokenIds, [size - 1]) // <|end|> only: a chat turn end (below), not the id given
    const ids = tokenizer.encode('ab')
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < size), `ids ${ids}`)
  })
})

describe('add_bos_token / add_eos_token', () => {
  const family = TOKENIZER_FAMILIES.llama2
  const json = family.buildTokenizerJson(512, 0)
  const [BOS, EOS] = [1, family.specialTokens.indexOf(family.eosToken)]

  it('a Llama tokenizer_config.json decides BOS and EOS, as transformers\' LlamaTokenizerFast rebuilds its post-processor', () => {
    const encode = (flags: Record<string, boolean>) => new Tokenizer(json, {...buildTokenizerConfig(family, 512), ...flags}).encode('Hello')
    const text = encode({add_bos_token: false})
    assert.notEqual(text[0], BOS)
    assert.deepEqual(encode({}), [BOS, ...text])
    assert.deepEqual(encode({add_eos_token: true}), [BOS, ...text, EOS])
    assert.deepEqual(encode({add_bos_token: false, add_eos_token: true}), [...text, EOS])
  })

  it('other tokenizer classes keep tokenizer.json\'s post-processor', () => {
    const tokenizer = new Tokenizer(json, {...buildTokenizerConfig(family, 512), tokenizer_class: 'PreTrainedTokenizerFast', add_bos_token: false})
    assert.equal(tokenizer.encode('Hello')[0], BOS)
  })

  it('a GGUF vocabulary adds EOS when tokenizer.ggml.add_eos_token says so, and BOS only when add_bos_token does', () => {
    const metadata = bpeMetadata(['ab', '<s>'], ['a b'], {'tokenizer.ggml.bos_token_id': 256 + 1, 'tokenizer.ggml.add_eos_token': true})
    const end = 256 + 2 // <|end|>, the eos
    assert.deepEqual(tokenizerFromGguf(metadata).encode('ab'), [256, end])
    metadata.set('tokenizer.ggml.add_bos_token', true)
    assert.deepEqual(tokenizerFromGguf(metadata).encode('ab'), [256 + 1, 256, end])
  })
})

describe('SentencePiece GGUF vocabularies', () => {
  const metadata = (extra: Record<string, GgufValue>) =>
    new Map<string, GgufValue>([...Object.entries(familyVocabMetadata('llama2', 512)).map(([key, entry]) => [key, entry.value] as [string, GgufValue]), ...Object.entries(extra)])

  it('put the dummy space prefix in front of the text unless tokenizer.ggml.add_space_prefix is false', () => {
    const spaced = tokenizerFromGguf(metadata({}))
    const unspaced = tokenizerFromGguf(metadata({'tokenizer.ggml.add_space_prefix': false}))
    const first = (tokenizer: Tokenizer) => tokenizer.idToToken(tokenizer.encode('Hello', {addSpecialTokens: false})[0]!)!
    assert.ok(first(spaced).startsWith('\u2581'))
    assert.ok(!first(unspaced).startsWith('\u2581'), first(unspaced))
    for (const tokenizer of [spaced, unspaced]) {
      assert.equal(tokenizer.decode(tokenizer.encode('Hello world', {addSpecialTokens: false})), 'Hello world')
    }
  })
})

describe('end of generation in GGUF vocabularies', () => {
  it('stops at eot/eom ids and at the chat turn ends llama.cpp stops at, not only at eos_token_id', () => {
    const metadata = bpeMetadata(['<|im_start|>', '<|im_end|>', '<|my_eot|>'], [], {'tokenizer.ggml.eot_token_id': 256 + 2})
    const tokenizer = tokenizerFromGguf(metadata)
    const end = 256 + 3 // bpeMetadata's eos, <|end|>
    assert.deepEqual([...tokenizer.eosTokenIds].sort((a, b) => a - b), [256 + 1, 256 + 2, end])
  })
})

describe('a model vocabulary padded past the tokenizer', () => {
  for (const family of ['llama2', 'qwen2'] as const) {
    it(`${family}: ids without a token decode to nothing, alone or between others (as HF's Rust tokenizers)`, () => {
      const tokenizer = new Tokenizer(TOKENIZER_FAMILIES[family].buildTokenizerJson(512, 0), buildTokenizerConfig(TOKENIZER_FAMILIES[family], 512))
      const hello = tokenizer.encode('Hello world', {addSpecialTokens: false})
      for (const skipSpecialTokens of [false, true]) {
        assert.equal(tokenizer.decode([600], {skipSpecialTokens}), '')
        assert.equal(tokenizer.decode([...hello, 600, 700], {skipSpecialTokens}), 'Hello world')
      }
    })
  }

  it('a SentencePiece vocabulary without an unknown token does not throw', () => {
    const json = TOKENIZER_FAMILIES.llama2.buildTokenizerJson(512, 0) as {model: {unk_token: string | null}}
    json.model.unk_token = null
    const tokenizer = new Tokenizer(json, buildTokenizerConfig(TOKENIZER_FAMILIES.llama2, 512))
    assert.equal(tokenizer.decode([...tokenizer.encode('Hi', {addSpecialTokens: false}), 999]), 'Hi')
  })
})

it('a post-processor that adds a token missing from the vocabulary is refused at load', () => {
  const json = TOKENIZER_FAMILIES.llama3.buildTokenizerJson(512, 0) as Record<string, unknown>
  json.post_processor = {
    type: 'TemplateProcessing',
    single: [{SpecialToken: {id: '<|not_in_vocab|>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
    pair: [{Sequence: {id: 'A', type_id: 0}}, {Sequence: {id: 'B', type_id: 1}}],
    special_tokens: {},
  }
  assert.throws(() => new Tokenizer(json, {}), (error: unknown) => error instanceof ModelLoadError && /adds a special token .* not in its vocabulary/.test(error.message))
})

it('a token id far past the vocabulary is refused at once instead of walking (and allocating) every id up to it', () => {
  for (const id of [2 ** 31 - 2, -1, 1.5]) {
    const json = TOKENIZER_FAMILIES.llama3.buildTokenizerJson(512, 0) as {added_tokens: object[]}
    json.added_tokens.push({id, content: '<far>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true})
    assert.throws(() => new Tokenizer(json, {}), (error: unknown) => error instanceof ModelLoadError && /tokenizer\.json gives a token the id/.test(error.message), String(id))
  }
})
