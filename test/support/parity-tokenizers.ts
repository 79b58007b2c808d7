// The tokenizers the parity fixtures cover, rebuilt without files: the test-model families and other checkpoints' shapes over them.
import {TOKENIZER_FAMILIES, buildTokenizerConfig, type TokenizerFamilyName} from '../../src/engine/model/tokenizer-families.js'

type Json = Record<string, unknown>

export interface TokenizerFiles {
  tokenizerJson: Json
  tokenizerConfig: Json
}

/** A family at a vocabulary size (seed 0, as test-model.ts writes it): "llama2-512", "qwen2-8192"... */
function familyFiles(name: string): TokenizerFiles | null {
  const match = /^(llama2|llama3|qwen2)-(\d+)$/.exec(name)
  if (match === null) return null
  const family = TOKENIZER_FAMILIES[match[1] as TokenizerFamilyName]
  return {tokenizerJson: family.buildTokenizerJson(Number(match[2]), 0), tokenizerConfig: buildTokenizerConfig(family, 2048)}
}

/**
 * Other checkpoints' shapes over the families' vocabularies: the tokenizer classes transformers rebuilds the pipeline
 * for, the legacy flag, and added tokens that are normalized or strip the spaces around them.
 */
export const CLASS_VARIANTS: Record<string, {base: string; config: Json; addedTokens?: Json}> = {
  'llama2-legacy': {base: 'llama2-8192', config: {legacy: true}},
  'llama2-normalized-added': {base: 'llama2-8192', config: {legacy: false}, addedTokens: {normalized: true}},
  'llama2-strip-added': {base: 'llama2-8192', config: {}, addedTokens: {lstrip: true, rstrip: true}},
  'llama2-no-prefix': {base: 'llama2-8192', config: {add_prefix_space: false}},
  'llama2-as-codellama': {base: 'llama2-8192', config: {tokenizer_class: 'CodeLlamaTokenizer'}},
  'llama2-as-gemma': {base: 'llama2-8192', config: {tokenizer_class: 'GemmaTokenizerFast'}},
  'llama3-as-gpt2': {base: 'llama3-8192', config: {tokenizer_class: 'GPT2Tokenizer'}},
  'llama3-as-gpt-neox': {base: 'llama3-8192', config: {tokenizer_class: 'GPTNeoXTokenizer'}},
  'llama3-as-qwen2': {base: 'llama3-8192', config: {tokenizer_class: 'Qwen2TokenizerFast'}},
  'qwen2-strip-added': {base: 'qwen2-8192', config: {}, addedTokens: {lstrip: true, rstrip: true}},
}

/** The tokenizer.json and tokenizer_config.json of a family or class variant by name; null for an unknown name. */
export function parityTokenizerFiles(name: string): TokenizerFiles | null {
  const variant = Object.hasOwn(CLASS_VARIANTS, name) ? CLASS_VARIANTS[name]! : null
  if (variant === null) return familyFiles(name)
  const base = familyFiles(variant.base)!
  const added = base.tokenizerJson.added_tokens as Json[]
  // The edits apply to every added token but the first three (unk/bos/eos or the like stay as they are).
  const edited = variant.addedTokens === undefined ? added : added.map((token, i) => (i < 3 ? token : {...token, ...variant.addedTokens}))
  // transformers takes added tokens' flags from tokenizer_config.json's added_tokens_decoder, so both say the same.
  const decoderEntries = edited.map(({id, ...token}) => [String(id), token])
  const tokenizerConfig = {...base.tokenizerConfig, added_tokens_decoder: Object.fromEntries(decoderEntries), ...variant.config}
  return {tokenizerJson: {...base.tokenizerJson, added_tokens: edited}, tokenizerConfig}
}

export const FAMILY_TOKENIZERS = ['llama2-512', 'llama2-8192', 'llama3-512', 'llama3-8192', 'qwen2-512', 'qwen2-8192']
