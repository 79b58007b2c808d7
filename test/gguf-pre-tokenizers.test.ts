// GGUF BPE pre-tokenizer names (tokenizer.ggml.pre) split a hostile text exactly as the HF tokenizers they stand for.
// The expected words are what Python's `tokenizers` pre-tokenizes the text into with each model's original
// tokenizer.json pre_tokenizer (the Split regexes as HF writes them, DeepSeek's Digits step); the vocabulary below makes
// those word boundaries visible in the token ids.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {bytesToUnicode} from '../src/engine/model/byte-level-bpe.js'
import type {GgufValue} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'

/** Digit runs (ASCII, superscript, Arabic-Indic), CJK and Hangul, upper-case contractions, line breaks, tabs, emoji, punctuation runs, code. */
const HOSTILE = "DON'T we'LL I'M 12345 x²³ ٣٤ 日本語のテキスト한국어\n\n  \t indent!!! ...?? 🎉👍🏽 a.com/path?q=1 Ünïcödé CamelCaseWORDS\r\nf(x);\nend  "

/** The HF pre-tokenizer's words for HOSTILE, by the llama.cpp name of the model it comes from. */
const WORDS: Record<string, string[]> = {
  bloom: ["DON'T", " we'LL", " I'M", " 12345", " x²³", " ٣٤", " 日本語のテキスト한국어", "\n\n  \t", " indent", "!!! ...??", " 🎉👍🏽", " a", ".", "com/path", "?", "q=1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(", "x", ")", ";", "\n", "end", "  "],
  // llama.cpp's own kimi-k2 splitter (there is no tokenizer.json: Kimi's tokenizer is tiktoken), worked through by hand:
  // its Han run apart from the kana and Hangul after it, contractions kept on their words, no case-change cuts.
  'kimi-k2': ["DON'T", " we'LL", " I'M", " ", "123", "45", " x", "²³", " ", "٣٤", " ", "日本語", "のテキスト한국어", "\n\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".com", "/path", "?q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(x", ");\n", "end", "  "],
  'gpt-4o': ["DON'T", " we'LL", " I'M", " ", "123", "45", " x", "²³", " ", "٣٤", " 日本語のテキスト한국어", "\n\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".com", "/path", "?q", "=", "1", " Ünïcödé", " Camel", "Case", "WORDS", "\r\n", "f", "(x", ");\n", "end", "  "],
  'seed-coder': ["DON", "'T", " we", "'LL", " I", "'M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " 日本語のテキスト한국어", "\n\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".com", "/path", "?q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(x", ");", "\n", "end", "  "],
  'deepseek-coder': ["DON", "'", "T", " we", "'", "LL", " I", "'", "M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " ", "日本語のテキスト한국어", "\n", "\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".", "com", "/", "path", "?", "q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r", "\n", "f", "(", "x", ");", "\n", "end", "  "],
  'deepseek-llm': ["DON", "'", "T", " we", "'", "LL", " I", "'", "M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " ", "日本語のテキスト한국어", "\n", "\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".", "com", "/", "path", "?", "q", "=", "1", " Ü", "n", "ï", "c", "ö", "d", "é", " CamelCaseWORDS", "\r", "\n", "f", "(", "x", ");", "\n", "end", "  "],
  viking: ["DON'T", " we'LL", " I'M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " 日本語のテキスト한국어", "\n\n  \t", " indent", "!!! ...??", " 🎉👍🏽", " a", ".", "com/path", "?", "q=", "1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(", "x", ")", ";", "\n", "end", "  "],
  'llama-bpe': ["DON", "'T", " we", "'LL", " I", "'M", " ", "123", "45", " x", "²³", " ", "٣٤", " 日本語のテキスト한국어", "\n\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".com", "/path", "?q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(x", ");\n", "end", "  "],
  qwen2: ["DON", "'T", " we", "'LL", " I", "'M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " 日本語のテキスト한국어", "\n\n", "  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".com", "/path", "?q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r\n", "f", "(x", ");\n", "end", "  "],
  'gpt-2': ["DON", "'", "T", " we", "'", "LL", " I", "'", "M", " 12345", " x", "²³", " ٣٤", " 日本語のテキスト한국어", "\n\n  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".", "com", "/", "path", "?", "q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r", "\n", "f", "(", "x", ");", "\n", "end", "  "],
  smollm: ["DON", "'", "T", " we", "'", "LL", " I", "'", "M", " ", "1", "2", "3", "4", "5", " x", "²", "³", " ", "٣", "٤", " 日本語のテキスト한국어", "\n\n  \t", " indent", "!!!", " ...??", " 🎉👍🏽", " a", ".", "com", "/", "path", "?", "q", "=", "1", " Ünïcödé", " CamelCaseWORDS", "\r", "\n", "f", "(", "x", ");", "\n", "end", "  "],
}

/** Falcon's text: HOSTILE with digit runs, punctuation among digits, and characters holding the bytes its digit step cuts at. */
const FALCON_TEXT = `${HOSTILE}a  12 price: 12,389.67 (555) 123-4567 мир 12½7890`
/**
 * tiiuae/falcon-7b's pre_tokenizer (Punctuation Contiguous, ByteLevel, Digits, Split [0-9]{3}) on FALCON_TEXT in Python's
 * `tokenizers` 0.23: pieces in GPT-2's byte alphabet, since its digit steps run on it and cut inside characters whose
 * bytes map to ² ³ ¹ ½ ¼ (日本語のテキスト's 0xB9, 🏽's 0xBD, м's 0xBC).
 */
const FALCON_PIECES = ["DON", "'", "T", "Ġwe", "'", "LL", "ĠI", "'", "M", "Ġ", "123", "45", "Ġx", "Â", "²", "Â", "³", "ĠÙ£Ù¤", "ĠæĹ¥æľ¬èªŀãģ®ãĥĨãĤŃãĤ", "¹", "ãĥĪíķľêµŃìĸ´", "ĊĊĠĠĉ", "Ġindent", "!!!", "Ġ", "...??", "ĠðŁİīðŁĳįðŁı", "½", "Ġa", ".", "com", "/", "path", "?", "q", "=", "1", "ĠÃľnÃ¯cÃ¶dÃ©", "ĠCamelCaseWORDS", "č", "Ċ", "f", "(", "x", ");", "Ċ", "end", "Ġ", "Ġa", "Ġ", "Ġ", "12", "Ġprice", ":", "Ġ", "12", ",", "389", ".", "67", "Ġ", "(", "555", ")", "Ġ", "123", "-", "456", "7", "ĠÐ", "¼", "Ð¸ÑĢ", "Ġ", "12", "Â", "½", "789", "0"]

/** Text in GPT-2's byte alphabet, as the vocabulary spells it. */
function byteLevel(text: string): string {
  const alphabet = bytesToUnicode()
  return Array.from(new TextEncoder().encode(text), (byte) => alphabet[byte]!).join('')
}

/**
 * The 256 byte tokens, merges that build each word symbol by symbol, then merges joining neighbouring words: the text
 * encodes to exactly its words when the pre-tokenizer cuts where they end, and to other tokens when it cuts elsewhere
 * (a word never forms) or not at all (two words join).
 */
function wordsVocabulary(spelled: string[]): {tokens: string[]; merges: string[]} {
  const tokens = [...bytesToUnicode()]
  const merges: string[] = []
  const known = new Set(tokens)
  const merge = (left: string, right: string) => {
    if (known.has(left + right)) return
    known.add(left + right)
    tokens.push(left + right)
    merges.push(`${left} ${right}`)
  }
  for (const word of spelled) for (let end = 1; end < word.length; end++) merge(word.slice(0, end), word[end]!)
  spelled.slice(1).forEach((word, i) => merge(spelled[i]!, word))
  return {tokens, merges}
}

/** HOSTILE's tokens under the GGUF pre-tokenizer `pre`, with the vocabulary of `words`. */
function encodeHostile(pre: string, words: string[]): string[] {
  return encodeText(pre, words.map(byteLevel), HOSTILE)
}

/** The tokens of `text` under the GGUF pre-tokenizer `pre`, with the vocabulary of `pieces` (in the byte alphabet). */
function encodeText(pre: string, pieces: string[], text: string): string[] {
  const {tokens, merges} = wordsVocabulary(pieces)
  const tokenizer = tokenizerFromGguf(new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', pre], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', merges],
  ]))
  return tokenizer.encode(text, {addSpecialTokens: false}).map((id) => tokenizer.idToToken(id)!)
}

describe('GGUF pre-tokenizers split as the HF tokenizers llama.cpp names them after', () => {
  for (const [pre, model] of [
    ['gpt-4o', 'Phi-4-mini: o200k, contractions kept on their words, case changes cut, digits in threes'],
    ['kimi-k2', 'Kimi K2 / Kimi Linear: llama.cpp\'s Han runs, then o200k-like words without case-change cuts, digits in threes'],
    ['seed-coder', 'Seed-Coder: Qwen2\'s split with punctuation stopping before a line break'],
    ['deepseek-coder', 'DeepSeek-Coder 1.x: line breaks, letters, punctuation, CJK and Hangul apart, every digit'],
    ['deepseek-llm', 'DeepSeek-LLM: cased-letter ranges, ASCII letters among the punctuation, every digit'],
    ['viking', 'Viking: BLOOM\'s runs up to whitespace and . , ! ?, then every digit'],
    ['bloom', 'BLOOM: runs up to whitespace and . , ! ? (its Split; ByteLevel without the GPT-2 regex)'],
  ] as const) {
    it(`${pre} (${model})`, () => assert.deepEqual(encodeHostile(pre, WORDS[pre]!), WORDS[pre]!.map(byteLevel)))
  }

  it('falcon (Falcon: punctuation runs, GPT-2\'s split, then digit runs and threes on the byte alphabet, cutting inside characters as Rust\'s is_numeric does)', () => {
    assert.deepEqual(encodeText('falcon', FALCON_PIECES, FALCON_TEXT), FALCON_PIECES)
    // Its vocabulary tells it from the splits it is built of.
    for (const other of ['gpt-2', 'smollm', 'llama-bpe']) assert.notDeepEqual(encodeText(other, FALCON_PIECES, FALCON_TEXT), FALCON_PIECES, other)
  })

  it('kimi-k2 (llama.cpp\'s Han ranges: an extension-B and a compatibility ideograph on their own, 々, Han by script but not in them, with the letters)', () => {
    const pieces = ['a', '\u{20000}\uf900', 'b\u3005', " x's", ' ', '漢字']
    assert.deepEqual(encodeText('kimi-k2', pieces.map(byteLevel), pieces.join('')), pieces.map(byteLevel))
    assert.notDeepEqual(encodeText('gpt-4o', pieces.map(byteLevel), pieces.join('')), pieces.map(byteLevel))
  })

  it('the other names llama.cpp maps onto a split we know split as that one', () => {
    const sameAs: Record<string, string> = {
      'midm-2.0': 'llama-bpe', f2llmv2: 'qwen2', 'minerva-7b': 'smollm', mellum: 'gpt-2', 'a.x-4.0': 'gpt-2', trillion: 'gpt-2', 'granite-docling': 'gpt-2', llama4: 'gpt-4o',
      lfm2: 'llama-bpe', 'chatglm-bpe': 'llama-bpe',
    }
    for (const [pre, like] of Object.entries({...sameAs, 'llama-bpe': 'llama-bpe', qwen2: 'qwen2', smollm: 'smollm', 'gpt-2': 'gpt-2'})) {
      assert.deepEqual(encodeHostile(pre, WORDS[like]!), WORDS[like]!.map(byteLevel), pre)
    }
  })

  it('the vocabulary tells every split from the others (each test above fails under a wrong pre-tokenizer)', () => {
    for (const [pre, words] of Object.entries(WORDS)) {
      for (const other of Object.keys(WORDS).filter((name) => name !== pre)) {
        assert.notDeepEqual(encodeHostile(other, words), words.map(byteLevel), `${pre}'s words under ${other}`)
      }
    }
  })

  it('names of architectures that do not load, and splits not expressible here, stay refused naming the supported', () => {
    for (const pre of ['superbpe', 'jais']) {
      assert.throws(() => encodeHostile(pre, []), (error: unknown) =>
        error instanceof ModelLoadError && error.message.includes(`GGUF pre-tokenizer "${pre}" (tokenizer.ggml.pre) is not supported; supported: `) &&
        error.message.includes('gpt-4o, seed-coder, deepseek-llm, deepseek-coder'))
    }
  })
})
