// llama.cpp's BPE pre-tokenizer names (GGUF tokenizer.ggml.pre) and the tokenizer.json pre_tokenizer each stands for.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GgufValue} from './gguf-file.js'
import {LLAMA3_SPLIT_REGEX, QWEN2_SPLIT_REGEX, splitThenByteLevel} from './tokenizer-families.js'

/** How a BPE pre-tokenizer splits text before the merges. */
export interface PreTokenizerSpec {
  /** Regexes applied one after another, each isolating its matches (a tokenizer.json Split); none: GPT-2's alone. */
  splits: string[]
  /** Whether the ByteLevel step then splits by GPT-2's regex too (use_regex). */
  gpt2Regex: boolean
  /** Whether a word that is a whole token skips the merges (Llama 3, Tekken). */
  ignoreMerges: boolean
  /** Regexes applied after the ByteLevel step, on its byte alphabet (Falcon's digit steps); none by default. */
  byteLevelSplits?: string[]
}

/**
 * A Digits pre-tokenizer with individual_digits: every character Rust's char::is_numeric takes (\p{N}) on its own.
 * Written as a Split because the library's Digits counts only ASCII digits.
 */
const EACH_DIGIT = '\\p{N}'

const GPT2: PreTokenizerSpec = {splits: [], gpt2Regex: true, ignoreMerges: false}
const LLAMA3: PreTokenizerSpec = {splits: [LLAMA3_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: true}
const QWEN2: PreTokenizerSpec = {splits: [QWEN2_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: false}
/** Every digit on its own, then GPT-2's split (StarCoder, SmolLM and the others llama.cpp groups with them). */
const DIGITS_THEN_GPT2: PreTokenizerSpec = {splits: [EACH_DIGIT], gpt2Regex: true, ignoreMerges: false}
/** Mistral's Tekken (Nemo, Pixtral): words split at case changes, digits one by one. */
const TEKKEN_SPLIT_REGEX =
  '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+'
/** GPT-4o's o200k split (Phi-4-mini): Tekken's words with contractions kept on them, digits in threes. */
const GPT4O_SPLIT_REGEX =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const GPT4O: PreTokenizerSpec = {splits: [GPT4O_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: false}
/** ByteDance Seed-Coder: Qwen2's split whose punctuation runs stop before a line break (HF writes \r\n as the characters). */
const SEED_CODER_SPLIT_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
/** DeepSeek V3 / R1: digits in threes, runs of CJK ideographs and kana, then its word regex. */
const DEEPSEEK_V3_SPLITS = [
  '\\p{N}{1,3}',
  '[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+',
  '[!"#$%&\'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
]
/**
 * Kimi K2 / Kimi Linear (kimi-k2): llama.cpp splits by its own code (unicode.cpp, after Moonshot's tiktoken pattern),
 * written here as the regex that code runs: runs of its Han ranges, then letters other than those with one leading
 * non-letter and a contraction kept on them (no case-change cuts, unlike Moonshot's pattern), digits in threes,
 * punctuation runs, line breaks, spaces.
 */
const KIMI_K2_HAN = '[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2a6df}\u{2a700}-\u{2ebef}\u{2f800}-\u{2fa1f}]'
const KIMI_K2_SPLIT_REGEX =
  `${KIMI_K2_HAN}+|[^\\r\\n\\p{L}\\p{N}]?(?:(?!${KIMI_K2_HAN})\\p{L})+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`
/** DeepSeek LLM / Coder 1.x: each line break apart, CJK ideographs and Hangul in runs, every digit on its own. */
const DEEPSEEK_CJK_HANGUL = '[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+'
const DEEPSEEK_LLM_SPLITS = [
  '[\r\n]',
  // Cased letters (the Unicode ranges DeepSeek's tokenizer.json lists), with one whitespace before them.
  '\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+',
  // ASCII punctuation and letters (:-~ takes both), full-width forms, curly quotes, CJK punctuation.
  '\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+',
  '\\s+$',
  DEEPSEEK_CJK_HANGUL,
  EACH_DIGIT,
]
const DEEPSEEK_CODER_SPLITS = ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', DEEPSEEK_CJK_HANGUL, EACH_DIGIT]
/** LumiOpen Viking: BLOOM's split (runs up to whitespace or . , ! ? and their CJK / Indic / Arabic forms), then every digit. */
/** BLOOM's runs up to whitespace and . , ! ? (and their CJK, Devanagari, Urdu and Arabic forms); Viking's adds every digit. */
const BLOOM_SPLIT = ' ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+'
const VIKING_SPLITS = [BLOOM_SPLIT, EACH_DIGIT]
/**
 * Falcon (falcon-7b/40b/rw): Punctuation (Contiguous: runs of ASCII punctuation or \p{P}), GPT-2's split, then on the
 * byte alphabet Digits (runs of what Rust's char::is_numeric takes, \p{N}: there the digits and the bytes B2 B3 B9
 * BC BD BE, which map to ² ³ ¹ ¼ ½ ¾, so a character holding one is cut inside) and digits in threes; as Splits.
 */
const FALCON: PreTokenizerSpec = {
  splits: ['[\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E]+'], gpt2Regex: true, ignoreMerges: false,
  byteLevelSplits: ['\\p{N}+', '[0-9][0-9][0-9]'],
}

/**
 * llama.cpp's names for the BPE pre-tokenizers we know, with the splits llama.cpp documents for each (llama-vocab.cpp)
 * as the tokenizer.json pre-tokenizers of the models they come from write them. Names whose models' architectures
 * load here; the rest (ChatGLM3's chatglm-spm, ...) are refused. Files without the key are older GPT-2-style
 * conversions.
 */
const PRE_TOKENIZERS: Record<string, PreTokenizerSpec> = {
  default: GPT2,
  'gpt-2': GPT2,
  'llama-bpe': LLAMA3,
  llama3: LLAMA3,
  'llama-v3': LLAMA3,
  falcon3: LLAMA3,
  pixtral: LLAMA3,
  'midm-2.0': LLAMA3,
  // LFM2 and LFM2-MoE: llama.cpp groups them with Llama 3 (its split, merges skipped for whole-token words).
  lfm2: LLAMA3,
  // Llama 3's split without skipping the merges.
  'smaug-bpe': {...LLAMA3, ignoreMerges: false},
  dbrx: {...LLAMA3, ignoreMerges: false},
  // GLM-4-0414 and GLM-4-9B (llama.cpp's CHATGLM4, which both names select): the same.
  glm4: {...LLAMA3, ignoreMerges: false},
  'chatglm-bpe': {...LLAMA3, ignoreMerges: false},
  'phi-2': GPT2,
  mpt: GPT2,
  olmo: GPT2,
  // GPT-2's split in llama.cpp (JetBrains Mellum, SK Telecom A.X 4.0, Trillion, Granite-Docling's text model, EXAONE 4).
  mellum: GPT2,
  'a.x-4.0': GPT2,
  trillion: GPT2,
  'granite-docling': GPT2,
  exaone4: GPT2,
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
  megrez: QWEN2,
  stablelm2: QWEN2,
  f2llmv2: QWEN2,
  tekken: {splits: [TEKKEN_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: true},
  'gpt-4o': GPT4O,
  'seed-coder': {splits: [SEED_CODER_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: false},
  'deepseek-llm': {splits: DEEPSEEK_LLM_SPLITS, gpt2Regex: false, ignoreMerges: false},
  'deepseek-coder': {splits: DEEPSEEK_CODER_SPLITS, gpt2Regex: false, ignoreMerges: false},
  'deepseek-v3': {splits: DEEPSEEK_V3_SPLITS, gpt2Regex: false, ignoreMerges: false},
  // Hunyuan dense (Hunyuan-7B and its smaller ones): DeepSeek V3's splits in llama.cpp.
  'hunyuan-dense': {splits: DEEPSEEK_V3_SPLITS, gpt2Regex: false, ignoreMerges: false},
  'kimi-k2': {splits: [KIMI_K2_SPLIT_REGEX], gpt2Regex: false, ignoreMerges: false},
  viking: {splits: VIKING_SPLITS, gpt2Regex: false, ignoreMerges: false},
  bloom: {splits: [BLOOM_SPLIT], gpt2Regex: false, ignoreMerges: false},
  falcon: FALCON,
  smollm: DIGITS_THEN_GPT2,
  starcoder: DIGITS_THEN_GPT2,
  refact: DIGITS_THEN_GPT2,
  'command-r': DIGITS_THEN_GPT2,
  codeshell: DIGITS_THEN_GPT2,
  'minerva-7b': DIGITS_THEN_GPT2,
  // Llama 4: GPT-4o's split in llama.cpp.
  llama4: GPT4O,
}

/** The tokenizer.json pre_tokenizer a spec stands for. */
export function preTokenizerJson({splits, gpt2Regex, byteLevelSplits = []}: PreTokenizerSpec): Record<string, unknown> {
  const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: gpt2Regex}
  if (splits.length === 0 && byteLevelSplits.length === 0) return byteLevel
  if (splits.length === 1 && !gpt2Regex && byteLevelSplits.length === 0) return splitThenByteLevel(splits[0]!, true)
  const split = (pattern: string) => ({type: 'Split', pattern: {Regex: pattern}, behavior: 'Isolated', invert: false})
  return {type: 'Sequence', pretokenizers: [...splits.map(split), byteLevel, ...byteLevelSplits.map(split)]}
}

/** The tokenizer.ggml.pre name of a tokenizer.json whose pre-tokenizer splits by one of the regexes above, else "default" (GGUF writers). */
export function ggufPreTokenizerName(tokenizerJson: {pre_tokenizer?: unknown}): string {
  const preTokenizer = JSON.stringify(tokenizerJson.pre_tokenizer ?? null)
  const match = Object.entries(PRE_TOKENIZERS).find(([, {splits}]) => splits.length > 0 && splits.every((split) => preTokenizer.includes(JSON.stringify(split))))
  return match?.[0] ?? 'default'
}

/** The split of a GGUF file's tokenizer.ggml.pre; a name we do not know is refused rather than tokenized differently from llama.cpp. */
export function ggufPreTokenizer(metadata: Map<string, GgufValue>): PreTokenizerSpec {
  const name = metadata.get('tokenizer.ggml.pre') ?? 'default'
  const known = typeof name === 'string' && Object.hasOwn(PRE_TOKENIZERS, name) ? PRE_TOKENIZERS[name] : undefined
  if (known === undefined) {
    throw new ModelLoadError(`GGUF pre-tokenizer ${quotedValue(name)} (tokenizer.ggml.pre) is not supported; supported: ${Object.keys(PRE_TOKENIZERS).join(', ')}.`)
  }
  return known
}
