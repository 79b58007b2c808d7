// A GPT-2 tokenizer from a GGUF vocab file, for counting tokens of benchmark datasets as the papers did.
import {Tokenizer as HfTokenizer} from '@huggingface/tokenizers'
import {ModelLoadError} from '../engine/errors.js'
import {readGguf} from '../engine/model/gguf-file.js'
import {gpt2TokenizerJson} from '../engine/model/gguf-tokenizer.js'

/**
 * A GPT-2 tokenizer from a GGUF vocab file. `prependBosId` mimics OPT's tokenizer, which is GPT-2's BPE plus a
 * BOS token (`</s>`, id 2 in OPT's vocab) before every encoded text: the dataset README's figures count it.
 */
export function loadGpt2TokenizerFromGguf(
  path: string,
  options: {prependBosId?: number} = {},
): {encode(text: string): number[]; vocabSize: number} {
  const {metadata} = readGguf(path, {metadataOnly: true})
  const kind = metadata.get('tokenizer.ggml.model')
  if (kind !== 'gpt2') throw new ModelLoadError(`${path}: tokenizer.ggml.model is ${JSON.stringify(kind)}, not a GPT-2 BPE vocab ("gpt2")`)
  const json = gpt2TokenizerJson(metadata) as {model: {vocab: object}}
  const tokenizer = new HfTokenizer(json, {})
  const bos = options.prependBosId === undefined ? [] : [options.prependBosId]
  return {
    encode: (text: string) => [...bos, ...tokenizer.encode(text, {add_special_tokens: false}).ids],
    vocabSize: Object.keys(json.model.vocab).length,
  }
}
