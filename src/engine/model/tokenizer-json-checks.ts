// Refuses a tokenizer.json the Rust tokenizers library would not load (and @huggingface/tokenizers would run silently wrong): its model, vocabulary, merges and ids.
import {ModelLoadError, quotedValue} from '../errors.js'

type Json = Record<string, unknown>

/** The model types of the Rust library (tokenizers/src/models); the JS library runs an unknown one as BPE. */
const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram']

/** Checks the model section of a tokenizer.json file (those we build from other formats are made right); `source` names the file. */
export function checkTokenizerModel(tokenizerJson: Json, source: string): void {
  const model = tokenizerJson.model
  if (model === null || typeof model !== 'object' || Array.isArray(model)) throw new ModelLoadError(`${source} has no "model" object.`)
  const {type, vocab, merges} = model as Json
  // The Rust library infers a missing type from the fields; only a named type it does not know is refused.
  if (type !== undefined && !MODEL_TYPES.includes(type as string)) {
    throw new ModelLoadError(`${source}: "model.type" ${quotedValue(type)} is not a tokenizer model (${MODEL_TYPES.join(', ')}).`)
  }
  const unigram = type === 'Unigram' || (type === undefined && Array.isArray(vocab))
  if (unigram ? !Array.isArray(vocab) || vocab.some((entry) => !Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') : vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
    const shape = unigram ? 'a list of [piece, score] pairs' : 'an object of token -> id'
    throw new ModelLoadError(`${source}: "model.vocab" must be ${shape} for a ${type ?? 'Unigram'} model.`)
  }
  if ((unigram ? (vocab as unknown[]).length : Object.keys(vocab as Json).length) === 0) throw new ModelLoadError(`${source}: "model.vocab" is empty.`)
  if (type === 'BPE' || (type === undefined && merges !== undefined)) checkMerges(merges, vocab as Json, source)
}

/** Each merge is "a b" or [a, b] of two vocabulary tokens (the Rust library's MergeTokenOutOfVocabulary otherwise). */
function checkMerges(merges: unknown, vocab: Json, source: string): void {
  // The Rust library's "Missing vocab/merges"; the JS library failed on it with a TypeError of its own.
  if (merges === undefined) throw new ModelLoadError(`${source}: a BPE model needs "model.merges" (a list, empty if there are none).`)
  if (!Array.isArray(merges)) throw new ModelLoadError(`${source}: "model.merges" must be a list.`)
  for (const [index, merge] of merges.entries()) {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge
    const known = Array.isArray(pair) && pair.length === 2 && pair.every((token) => typeof token === 'string' && Object.hasOwn(vocab, token))
    if (!known) throw new ModelLoadError(`${source}: merge ${index} ${quotedValue(merge)} is not a pair of vocabulary tokens.`)
  }
}

/**
 * Ids of a real vocabulary are dense (padding aside); one far past the entries would make the tokenizer library walk,
 * and allocate, every id up to it.
 */
export function checkTokenIds(tokenizerJson: Json, source = 'tokenizer.json'): void {
  const vocab = (tokenizerJson.model as Json | undefined)?.vocab
  const ids = Array.isArray(vocab) ? [] : Object.values((vocab ?? {}) as Json)
  if (tokenizerJson.added_tokens != null && !Array.isArray(tokenizerJson.added_tokens)) throw new ModelLoadError(`${source}: "added_tokens" must be a list.`)
  for (const token of (tokenizerJson.added_tokens ?? []) as unknown[]) {
    if (token === null || typeof token !== 'object' || typeof (token as Json).content !== 'string') {
      throw new ModelLoadError(`${source}: added token ${quotedValue(token)} is not an object with a "content" string.`)
    }
    ids.push((token as Json).id)
  }
  const entries = ids.length + (Array.isArray(vocab) ? vocab.length : 0)
  let largest = Array.isArray(vocab) ? vocab.length - 1 : -1
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new ModelLoadError(`${source} gives a token the id ${quotedValue(id)}, which is not a non-negative integer.`)
    largest = Math.max(largest, id)
  }
  if (largest >= 2 * entries + 65536) throw new ModelLoadError(`${source} gives a token the id ${largest}, far beyond its ${entries} entries.`)
}
