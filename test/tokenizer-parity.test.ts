// Tokenizer and streaming detokenizer parity with transformers 5 on hostile and multilingual text (fixtures from scripts/tok-parity.ts).
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {withMetaspaceWords} from '../src/engine/model/metaspace-words.js'
import {buildTokenizerConfig, TOKENIZER_FAMILIES} from '../src/engine/model/tokenizer-families.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {fixTokenizerLibrary} from '../src/engine/model/tokenizer-library-fixes.js'
import * as tokenizersLibrary from '@huggingface/tokenizers'
import {parityTokenizerFiles} from './support/parity-tokenizers.js'
import {parityMismatches, type ParityCase} from './support/tokenizer-parity.js'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'tokenizer-parity')

function fixtureTokenizer(name: string): Tokenizer {
  if (name === 'tinychat') return Tokenizer.load(BUILTIN_MODEL_DIR)
  const files = parityTokenizerFiles(name)
  if (files === null) throw new Error(`no tokenizer named ${name} for a parity fixture`)
  return new Tokenizer(files.tokenizerJson, files.tokenizerConfig)
}

describe('parity with transformers on hostile text (encode, decode, streaming)', () => {
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
    const {tokenizer: name, cases} = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as {tokenizer: string; cases: ParityCase[]}
    it(`${name}: ${cases.length} texts`, () => {
      const tokenizer = fixtureTokenizer(name)
      const mismatches = cases.flatMap((c) => parityMismatches(tokenizer, c))
      const shown = mismatches.slice(0, 3).map((m) => `${m.check} of ${JSON.stringify(m.text).slice(0, 80)}: expected ${JSON.stringify(m.expected).slice(0, 120)}, got ${JSON.stringify(m.actual).slice(0, 120)}`)
      assert.equal(mismatches.length, 0, `${mismatches.length} mismatches, first: \n${shown.join('\n')}`)
    })
  }
})

describe('lone surrogates', () => {
  it('encode as U+FFFD, the character their UTF-8 holds, not as byte fallback of its bytes', () => {
    const family = TOKENIZER_FAMILIES.llama2
    const json = family.buildTokenizerJson(512, 0) as {model: {vocab: Record<string, number>}}
    json.model.vocab['\ufffd'] = 512
    const tokenizer = new Tokenizer(json, buildTokenizerConfig(family, 512))
    for (const text of ['a\ud800b', 'a\udc00', '\udbff\ud800', 'x\ud83d']) {
      const ids = tokenizer.encode(text)
      assert.deepEqual(ids, tokenizer.encode(text.replace(/[\ud800-\udfff]/g, '\ufffd')), JSON.stringify(text))
      assert.ok(ids.includes(512), `${JSON.stringify(text)}: ${ids}`)
    }
    // A well-formed pair stays one character.
    assert.deepEqual(tokenizer.encode('\u{1f600}'), tokenizer.encode('\ud83d\ude00'))
    assert.ok(!tokenizer.encode('\u{1f600}').includes(512))
  })
})

describe('where the JS tokenizers library departs from the Rust one (tokenizer-library-fixes.ts)', () => {
  it('a U+FEFF spelled in byte-fallback tokens decodes, at the start of the text too', () => {
    const family = TOKENIZER_FAMILIES.llama2
    const tokenizer = new Tokenizer(family.buildTokenizerJson(512, 0), buildTokenizerConfig(family, 512))
    for (const text of ['\ufeffabc', 'a\ufeff', '<s>\ufeff\ufeffx']) {
      const ids = tokenizer.encode(text, {addSpecialTokens: false})
      assert.equal(tokenizer.decode(ids), text)
    }
  })

  it('GPT-2\'s split counts U+0085, not U+FEFF, as a space (Unicode White_Space, as Rust\'s \\s)', () => {
    const family = TOKENIZER_FAMILIES.llama3
    const json = family.buildTokenizerJson(512, 0) as {pre_tokenizer: unknown; model: {vocab: Record<string, number>; merges: string[]}}
    json.pre_tokenizer = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true}
    // " \ufeff" is one word to Rust: its first two bytes (Ġ, ï) may merge.
    json.model.vocab['\u0120\u00ef'] = 512
    json.model.merges.unshift('\u0120 \u00ef')
    const tokenizer = new Tokenizer(json, buildTokenizerConfig(family, 513))
    assert.ok(tokenizer.encode('a \ufeffb', {addSpecialTokens: false}).includes(512))
    assert.equal(tokenizer.decode(tokenizer.encode('a \ufeffb \u0085c', {addSpecialTokens: false})), 'a \ufeffb \u0085c')
  })
})

/** The pieces a tokenizer.json pre_tokenizer cuts `text` into, through the library with our fixes. */
function fixedPieces(preTokenizer: Record<string, unknown>, text: string): string[] {
  // The library exports its pre-tokenizer classes, though its type declarations do not resolve them.
  const {SequencePreTokenizer} = tokenizersLibrary as unknown as {SequencePreTokenizer: new (config: unknown) => {pre_tokenize_text(text: string): string[]}}
  const sequence = new SequencePreTokenizer({type: 'Sequence', pretokenizers: [preTokenizer]})
  fixTokenizerLibrary({pre_tokenizer: sequence})
  return sequence.pre_tokenize_text(text)
}

describe('pre-tokenizers the library runs otherwise than Rust (tokenizer-library-fixes.ts)', () => {
  // Each expected list is Python tokenizers 0.23's pre_tokenize_str of the text.
  const TEXT = '!!a.b?,c«d»—e ¡f… 12²³ ٣٤5 ½x'
  it('Punctuation cuts at each punctuation character as its behavior says (Isolated by default)', () => {
    const expected: Record<string, string[]> = {
      Isolated: ['!', '!', 'a', '.', 'b', '?', ',', 'c', '«', 'd', '»', '—', 'e ', '¡', 'f', '…', ' 12²³ ٣٤5 ½x'],
      Contiguous: ['!!', 'a', '.', 'b', '?,', 'c', '«', 'd', '»—', 'e ', '¡', 'f', '…', ' 12²³ ٣٤5 ½x'],
      Removed: ['a', 'b', 'c', 'd', 'e ', 'f', ' 12²³ ٣٤5 ½x'],
      MergedWithPrevious: ['!', '!', 'a.', 'b?', ',', 'c«', 'd»', '—', 'e ¡', 'f…', ' 12²³ ٣٤5 ½x'],
      MergedWithNext: ['!', '!a', '.b', '?', ',c', '«d', '»', '—e ', '¡f', '… 12²³ ٣٤5 ½x'],
    }
    for (const [behavior, pieces] of Object.entries(expected)) assert.deepEqual(fixedPieces({type: 'Punctuation', behavior}, TEXT), pieces, behavior)
    assert.deepEqual(fixedPieces({type: 'Punctuation'}, TEXT), expected.Isolated)
  })

  it('Digits takes every numeric character (\\p{N}, Rust\'s is_numeric), not the ASCII digits alone', () => {
    assert.deepEqual(fixedPieces({type: 'Digits', individual_digits: false}, TEXT), ['!!a.b?,c«d»—e ¡f… ', '12²³', ' ', '٣٤5', ' ', '½', 'x'])
    assert.deepEqual(fixedPieces({type: 'Digits', individual_digits: true}, TEXT), ['!!a.b?,c«d»—e ¡f… ', '1', '2', '²', '³', ' ', '٣', '٤', '5', ' ', '½', 'x'])
  })
})

describe('SentencePiece word cuts (metaspace-words.ts)', () => {
  it('cut the built-in model\'s text at each ▁ after another character, changing no token', () => {
    const json = JSON.parse(readFileSync(join(BUILTIN_MODEL_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>
    const config = JSON.parse(readFileSync(join(BUILTIN_MODEL_DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>
    const cut = new Tokenizer(json, config)
    // The same tokenizer with the cut-finding defeated: a merge that crosses a cut (never used by real text).
    const model = json.model as {merges: string[]}
    const uncut = new Tokenizer({...json, model: {...model, merges: [...model.merges, 'z \u2581']}}, config)
    const text = 'The quick  brown fox,\n\tjumps over   the lazy dog. 日本語 🚀 x\u2581y '.repeat(20)
    assert.deepEqual(cut.encode(text), uncut.encode(text))
  })

  it('are not made where a merge joins a character to a following ▁', () => {
    const json = {model: {type: 'BPE', vocab: {'\u2581': 0, a: 1, 'a\u2581': 2}, merges: ['a \u2581']}, pre_tokenizer: {type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false}}
    assert.equal(withMetaspaceWords(json), json)
    const safe = {...json, model: {...json.model, vocab: {'\u2581': 0, a: 1, '\u2581a': 2}, merges: ['\u2581 a']}}
    assert.notEqual(withMetaspaceWords(safe), safe)
  })
})
