// Builds a tokenizer.json (and the special-token config) from GGUF tokenizer metadata: SPM "llama", GPT-2 BPE "gpt2" and
// Gemma 4's SentencePiece-style BPE "gemma4" vocabularies.
import {ModelLoadError, quotedValue} from '../errors.js'
import {specialAddedToken, specialTokensPostProcessor} from './byte-level-bpe.js'
import {ggufFlag, type GgufValue} from './gguf-file.js'
import {ggufPreTokenizer, preTokenizerJson} from './gguf-pre-tokenizers.js'
import {Tokenizer, type TokenizerLoadOptions} from './tokenizer.js'

/**
 * Tokens that end generation whatever eos_token_id says, as llama.cpp decides (its end-of-generation set): chat turn ends
 * of the common templates. A ChatML fine-tune whose eos is </s> stops at <|im_end|>.
 */
const END_OF_GENERATION_TOKENS = [
  '<|eot_id|>', '<|eom_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<EOT>', '_<EOT>', '<\uff5cend\u2581of\u2581sentence\uff5c>',
  // Gemma 4's turn end and tool-response start.
  '<turn|>', '<|tool_response>',
]

/** tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
const TOKEN_TYPE = {normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6}

function stringArray(metadata: Map<string, GgufValue>, key: string): string[] {
  const value = metadata.get(key)
  if (!Array.isArray(value)) throw new ModelLoadError(`GGUF metadata ${key} is missing or not an array`)
  if (value.some((item) => typeof item !== 'string')) throw new ModelLoadError(`GGUF metadata ${key} is not an array of strings`)
  return value as string[]
}

/** A per-token array (scores, types): absent, the fallback for every token; else one finite number per token. */
function numberArray(metadata: Map<string, GgufValue>, key: string, length: number, fallback: number): number[] {
  const value = metadata.get(key)
  if (value === undefined) return new Array(length).fill(fallback)
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'number' || !Number.isFinite(item))) throw new ModelLoadError(`GGUF metadata ${key} is not an array of numbers`)
  // llama.cpp reads one entry per token without checking the count: a short array would be read past its end.
  if (value.length !== length) throw new ModelLoadError(`GGUF metadata ${key} has ${value.length} entries for ${length} tokens`)
  return value as number[]
}

const optionalFlag = (metadata: Map<string, GgufValue>, key: string): boolean | undefined => ggufFlag(metadata.get(key), key)

/** A special token id; one outside the vocabulary counts as absent (as llama.cpp does), or it would reach the model as a token. */
function optionalId(metadata: Map<string, GgufValue>, key: string, vocabSize: number): number | null {
  const raw = metadata.get(key)
  if (raw === undefined) return null
  const value = typeof raw === 'bigint' ? Number(raw) : raw
  // A float, bool, string or negative id is no token id (llama.cpp aborts on a key of the wrong type).
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ModelLoadError(`GGUF metadata ${key} is ${quotedValue(raw)}, not a token id`)
  return value < vocabSize ? value : null
}

/** Control and user-defined tokens must match as one piece, never through BPE. */
function addedTokens(tokens: string[], types: number[]) {
  return tokens
    .map((content, id) => ({id, content, type: types[id]}))
    .filter((t) => t.type === TOKEN_TYPE.control || t.type === TOKEN_TYPE.userDefined || t.type === TOKEN_TYPE.unknown)
    .map(({id, content, type}) => ({...specialAddedToken(id, content), special: type !== TOKEN_TYPE.userDefined}))
}

/** A BPE vocabulary's tokens, merges and token types as the file lists them, and each token's id by its text. */
function bpeVocabulary(metadata: Map<string, GgufValue>) {
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens')
  const merges = stringArray(metadata, 'tokenizer.ggml.merges')
  const types = numberArray(metadata, 'tokenizer.ggml.token_type', tokens.length, TOKEN_TYPE.normal)
  const vocab: Record<string, number> = {}
  tokens.forEach((token, id) => (vocab[token] = id))
  return {tokens, merges, types, vocab}
}

/** GPT-2 byte-level BPE: the GGUF tokens are already in GPT-2's byte-to-unicode alphabet, so they go in as they are. */
export function gpt2TokenizerJson(metadata: Map<string, GgufValue>): Record<string, unknown> {
  const {tokens, merges, types, vocab} = bpeVocabulary(metadata)
  const spec = ggufPreTokenizer(metadata)
  return {
    version: '1.0', truncation: null, padding: null,
    // Control tokens as special ones; user-defined ones (Qwen3's <think>, <tool_call>: plain text, as llama.cpp's converter
    // writes them) as ordinary added tokens, which still match as one piece and are kept when decoding.
    added_tokens: addedTokens(tokens, types),
    normalizer: null,
    pre_tokenizer: preTokenizerJson(spec),
    post_processor: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true},
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: spec.ignoreMerges, vocab, merges,
    },
  }
}

/**
 * SentencePiece BPE (Llama): the vocabulary with its scores becomes a BPE model whose merges are every split of a
 * token into two vocabulary tokens, ranked by the merged token's score (as transformers converts a .model file),
 * with byte fallback to the <0xXX> tokens and "▁" for spaces.
 */
export function spmTokenizerJson(metadata: Map<string, GgufValue>): Record<string, unknown> {
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens')
  const scores = numberArray(metadata, 'tokenizer.ggml.scores', tokens.length, 0)
  const types = numberArray(metadata, 'tokenizer.ggml.token_type', tokens.length, TOKEN_TYPE.normal)
  const vocab: Record<string, number> = {}
  tokens.forEach((token, id) => (vocab[token] = id))
  const merges: {pair: string; score: number; id: number}[] = []
  tokens.forEach((token, id) => {
    if (types[id] !== TOKEN_TYPE.normal && types[id] !== TOKEN_TYPE.userDefined) return
    const chars = Array.from(token)
    for (let split = 1; split < chars.length; split++) {
      const left = chars.slice(0, split).join('')
      const right = chars.slice(split).join('')
      if (vocab[left] !== undefined && vocab[right] !== undefined) merges.push({pair: `${left} ${right}`, score: scores[id], id})
    }
  })
  merges.sort((a, b) => b.score - a.score || a.id - b.id)
  const unknownId = types.indexOf(TOKEN_TYPE.unknown)
  // SentencePiece's dummy prefix: a space before the text, dropped again when decoding (llama.cpp: add_space_prefix).
  const spacePrefix = optionalFlag(metadata, 'tokenizer.ggml.add_space_prefix') !== false
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: addedTokens(tokens, types),
    normalizer: {type: 'Sequence', normalizers: [...(spacePrefix ? [{type: 'Prepend', prepend: '▁'}] : []), {type: 'Replace', pattern: {String: ' '}, content: '▁'}]},
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        {type: 'Replace', pattern: {String: '▁'}, content: ' '}, {type: 'ByteFallback'}, {type: 'Fuse'},
        ...(spacePrefix ? [{type: 'Strip', content: ' ', start: 1, stop: 0}] : []),
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: unknownId >= 0 ? tokens[unknownId] : null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map((m) => m.pair),
    },
  }
}

/**
 * Gemma 4's "gemma4" vocabulary, as llama-vocab.cpp runs it (LLAMA_VOCAB_PRE_TYPE_GEMMA4): BPE with the file's merges
 * over raw UTF-8 characters (no GPT-2 byte alphabet), spaces escaped to "▁" first and no dummy prefix, the text split
 * only into runs of newlines and runs of anything else, a character no token spells as its <0xXX> byte tokens.
 * llama.cpp keeps a run of newlines that is itself a token whole, whatever the merges say; here such tokens match as
 * added tokens, which agrees with it except on runs longer than any such token (llama.cpp merges those, the added
 * tokens take the longest first): an inference from the two algorithms, not a measured difference. llama.cpp also
 * sets clean_spaces for BPE vocabularies; decoding here cleans up no spaces, as for the gpt2 ones.
 */
export function gemma4TokenizerJson(metadata: Map<string, GgufValue>): Record<string, unknown> {
  const {tokens, merges, types, vocab} = bpeVocabulary(metadata)
  const newlineRuns = tokens.flatMap((content, id) => (types[id] === TOKEN_TYPE.normal && /^\n+$/.test(content) ? [{...specialAddedToken(id, content), special: false}] : []))
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [...addedTokens(tokens, types), ...newlineRuns].sort((a, b) => a.id - b.id),
    normalizer: {type: 'Replace', pattern: {String: ' '}, content: '▁'},
    pre_tokenizer: {type: 'Split', pattern: {Regex: '\n+'}, behavior: 'Isolated', invert: false},
    post_processor: null,
    decoder: {type: 'Sequence', decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '}, {type: 'ByteFallback'}, {type: 'Fuse'}]},
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: true, ignore_merges: false, vocab, merges,
    },
  }
}

/** The model's tokenizer from GGUF metadata, with its chat template (tokenizer.chat_template) and special tokens. */
export function tokenizerFromGguf(metadata: Map<string, GgufValue>, options: TokenizerLoadOptions = {}): Tokenizer {
  const kind = metadata.get('tokenizer.ggml.model')
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens')
  const bosTokenId = optionalId(metadata, 'tokenizer.ggml.bos_token_id', tokens.length)
  const eosTokenId = optionalId(metadata, 'tokenizer.ggml.eos_token_id', tokens.length)
  let json: Record<string, unknown>
  if (kind === 'llama') json = spmTokenizerJson(metadata)
  else if (kind === 'gpt2') json = gpt2TokenizerJson(metadata)
  else if (kind === 'gemma4') json = gemma4TokenizerJson(metadata)
  else throw new ModelLoadError(`GGUF tokenizer model ${quotedValue(kind)} is not supported (llama SentencePiece, gpt2 BPE or gemma4 BPE)`)
  // BOS (by default for SentencePiece vocabularies; always for gemma4, which llama.cpp forces) and EOS around every
  // encoded text, as llama.cpp adds them.
  const special = (id: number | null, add: boolean) => (add && id !== null ? {token: tokens[id]!, id} : null)
  const addBos = optionalFlag(metadata, 'tokenizer.ggml.add_bos_token')
  const bos = special(bosTokenId, kind === 'gemma4' || (addBos ?? kind === 'llama'))
  const eos = special(eosTokenId, optionalFlag(metadata, 'tokenizer.ggml.add_eos_token') === true)
  if (bos !== null || eos !== null) json.post_processor = specialTokensPostProcessor(bos, eos)
  const name = (id: number | null) => (id === null ? '' : (tokens[id] ?? ''))
  const config = {bos_token: name(bosTokenId), eos_token: name(eosTokenId), unk_token: name(optionalId(metadata, 'tokenizer.ggml.unknown_token_id', tokens.length))}
  const template = metadata.get('tokenizer.chat_template')
  if (template !== undefined && typeof template !== 'string') throw new ModelLoadError(`GGUF metadata tokenizer.chat_template is ${quotedValue(template)}, not a string`)
  const endOfTurn = ['tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'].map((key) => optionalId(metadata, key, tokens.length))
  const endOfGeneration = tokens.flatMap((token, id) => (END_OF_GENERATION_TOKENS.includes(token) ? [id] : []))
  const extraEosTokenIds = [...endOfTurn.filter((id) => id !== null), ...endOfGeneration, ...(options.extraEosTokenIds ?? [])]
  return new Tokenizer(json, config, {extraEosTokenIds, chatTemplate: options.chatTemplate ?? template ?? null})
}
