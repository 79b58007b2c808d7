// The tokenizers generated test models imitate (Llama 2, Llama 3, Qwen2, GPT-2, OPT): their pre-tokenizers, normalizers, decoders, specials and templates.
import {bosPostProcessor, buildByteLevelBpe, specialAddedToken} from './byte-level-bpe.js'
import {buildSentencePieceBpe} from './sentencepiece-bpe.js'

export type TokenizerFamilyName = 'llama2' | 'llama3' | 'qwen2' | 'gpt2' | 'opt'

export interface TokenizerFamily {
  name: TokenizerFamilyName
  /** Special tokens, ids 0.. in this order. */
  specialTokens: readonly string[]
  bosToken: string | null
  /** The chat turn's end, which tokenizer_config.json names eos_token. */
  eosToken: string
  /** What generation_config.json lists as EOS (the turn end first). */
  generationEosTokens: readonly string[]
  /** transformers picks the tokenizer class by this name; the class rebuilds the pipeline, so ours must equal it. */
  tokenizerClass: string
  /** Empty: the family ships no chat template (GPT-2, OPT). */
  chatTemplate: string
  buildTokenizerJson(vocabSize: number, seed: number): Record<string, unknown>
}

/** ChatML, opening with BOS as Llama-family chat fine-tunes (tinychat among them) do. */
const CHATML_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/** Qwen2's ChatML: no BOS (Qwen2 has none). */
const QWEN2_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

const LLAMA3_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

/** Llama 3's split (tiktoken cl100k style): digits in groups of up to three, letters with one leading non-letter. */
export const LLAMA3_SPLIT_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/** Qwen2's split: Llama 3's with every digit on its own. */
export const QWEN2_SPLIT_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/** The same split in JS syntax (no inline (?i:) group), for training merges on the words encoding will see. */
function jsSplit(pattern: string): RegExp {
  const caseless = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
  return new RegExp(pattern.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", caseless), 'gu')
}

/** A tokenizer.json pre-tokenizer: split by the family's regex, then map bytes to GPT-2's alphabet. */
export function splitThenByteLevel(pattern: string, trimOffsets: boolean) {
  return {
    type: 'Sequence',
    pretokenizers: [
      {type: 'Split', pattern: {Regex: pattern}, behavior: 'Isolated', invert: false},
      {type: 'ByteLevel', add_prefix_space: false, trim_offsets: trimOffsets, use_regex: false},
    ],
  }
}

const LLAMA2: TokenizerFamily = {
  name: 'llama2',
  // Llama 2's three, then ChatML's two as a chat fine-tune adds them.
  specialTokens: ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'],
  bosToken: '<s>',
  eosToken: '<|im_end|>',
  generationEosTokens: ['</s>', '<|im_end|>'],
  tokenizerClass: 'LlamaTokenizer',
  chatTemplate: CHATML_TEMPLATE,
  buildTokenizerJson(vocabSize, seed) {
    return buildSentencePieceBpe({vocabSize, seed, specialTokens: this.specialTokens, bosToken: '<s>'})
  },
}

const LLAMA3: TokenizerFamily = {
  name: 'llama3',
  specialTokens: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
  bosToken: '<|begin_of_text|>',
  eosToken: '<|eot_id|>',
  generationEosTokens: ['<|end_of_text|>', '<|eot_id|>'],
  tokenizerClass: 'PreTrainedTokenizerFast',
  chatTemplate: LLAMA3_CHAT_TEMPLATE,
  buildTokenizerJson(vocabSize, seed) {
    return buildByteLevelBpe({
      vocabSize,
      seed,
      specialTokens: this.specialTokens,
      trainingSplit: jsSplit(LLAMA3_SPLIT_REGEX),
      normalizer: null,
      preTokenizer: splitThenByteLevel(LLAMA3_SPLIT_REGEX, true),
      postProcessor: {
        type: 'Sequence',
        processors: [{type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true}, bosPostProcessor('<|begin_of_text|>', 0)],
      },
      decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
      ignoreMerges: true,
    })
  },
}

const QWEN2: TokenizerFamily = {
  name: 'qwen2',
  specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
  bosToken: null,
  eosToken: '<|im_end|>',
  generationEosTokens: ['<|im_end|>', '<|endoftext|>'],
  tokenizerClass: 'Qwen2Tokenizer',
  chatTemplate: QWEN2_CHAT_TEMPLATE,
  buildTokenizerJson(vocabSize, seed) {
    const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false}
    return buildByteLevelBpe({
      vocabSize,
      seed,
      specialTokens: this.specialTokens,
      trainingSplit: jsSplit(QWEN2_SPLIT_REGEX),
      normalizer: {type: 'NFC'},
      preTokenizer: splitThenByteLevel(QWEN2_SPLIT_REGEX, false),
      postProcessor: byteLevel,
      decoder: byteLevel,
      ignoreMerges: false,
    })
  },
}

/** GPT-2's split, which its ByteLevel pre-tokenizer applies itself (use_regex). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

/** GPT-2's byte-level BPE (GPT-NeoX's is built alike); OPT's adds a BOS post-processor. */
function gpt2TokenizerJson(family: TokenizerFamily, vocabSize: number, seed: number, postProcessor: unknown): Record<string, unknown> {
  const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true}
  return buildByteLevelBpe({vocabSize, seed, specialTokens: family.specialTokens, trainingSplit: GPT2_SPLIT, normalizer: null, preTokenizer: byteLevel,
    postProcessor: postProcessor ?? byteLevel, decoder: byteLevel, ignoreMerges: false})
}

const GPT2: TokenizerFamily = {
  name: 'gpt2',
  specialTokens: ['<|endoftext|>'],
  bosToken: '<|endoftext|>',
  eosToken: '<|endoftext|>',
  generationEosTokens: ['<|endoftext|>'],
  tokenizerClass: 'GPT2Tokenizer',
  chatTemplate: '',
  buildTokenizerJson(vocabSize, seed) {
    return gpt2TokenizerJson(this, vocabSize, seed, null)
  },
}

/** OPT: GPT-2's BPE under fairseq's first four ids, and </s> (id 2) put before every text as BOS. */
const OPT: TokenizerFamily = {
  name: 'opt',
  specialTokens: ['<s>', '<pad>', '</s>', '<unk>'],
  bosToken: '</s>',
  eosToken: '</s>',
  generationEosTokens: ['</s>'],
  tokenizerClass: 'GPT2Tokenizer',
  chatTemplate: '',
  buildTokenizerJson(vocabSize, seed) {
    return gpt2TokenizerJson(this, vocabSize, seed, bosPostProcessor('</s>', 2))
  },
}

export const TOKENIZER_FAMILIES: Record<TokenizerFamilyName, TokenizerFamily> = {llama2: LLAMA2, llama3: LLAMA3, qwen2: QWEN2, gpt2: GPT2, opt: OPT}

export function specialTokenId(family: TokenizerFamily, token: string): number {
  const id = family.specialTokens.indexOf(token)
  if (id < 0) throw new Error(`${token} is not a special token of ${family.name}`)
  return id
}

/** tokenizer_config.json as the family's checkpoints ship it. */
export function buildTokenizerConfig(family: TokenizerFamily, maxLength: number): Record<string, unknown> {
  const {id: _id, ...asDecoderEntry} = specialAddedToken(0, '')
  return {
    ...(family.name === 'llama2' ? {add_bos_token: true, add_eos_token: false, legacy: false} : {}),
    ...(family.name === 'qwen2' ? {add_prefix_space: false, errors: 'replace', split_special_tokens: false} : {}),
    added_tokens_decoder: Object.fromEntries(family.specialTokens.map((content, id) => [String(id), {...asDecoderEntry, content}])),
    bos_token: family.bosToken,
    eos_token: family.eosToken,
    unk_token: family.name === 'llama2' ? '<unk>' : null,
    pad_token: family.name === 'qwen2' ? '<|endoftext|>' : null,
    ...(family.chatTemplate ? {chat_template: family.chatTemplate} : {}),
    ...(family.name === 'opt' ? {add_bos_token: true, pad_token: '<pad>', unk_token: '</s>'} : {}),
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
    tokenizer_class: family.tokenizerClass,
  }
}
