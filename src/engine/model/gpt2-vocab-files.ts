// Builds the tokenizer.json transformers builds from GPT-2-style "slow" tokenizer files: vocab.json + merges.txt.
import {existsSync} from 'node:fs'
import {readRegularFile} from './regular-file.js'
import {join} from 'node:path'
import {ModelLoadError, quotedValue} from '../errors.js'
import {specialTokensPostProcessor} from './byte-level-bpe.js'
import {readJsonObject} from './model-config.js'
import {decodeUtf8Strictly} from '../strict-utf8.js'

type Json = Record<string, unknown>

export const VOCAB_FILE = 'vocab.json'
export const MERGES_FILE = 'merges.txt'
const ADDED_TOKENS_FILE = 'added_tokens.json'

/** Far above any real vocabulary's files (GPT-2's vocab.json is 1 MB, a 256k vocabulary's about 10 MB): reading stays bounded. */
const MAX_FILE_BYTES = 64 << 20

/** The classes transformers builds from these files; each is GPT-2's byte-level BPE with its own defaults. */
const CLASSES: Record<string, {normalizer: Json | null; defaults: Json}> = {
  GPT2Tokenizer: {normalizer: null, defaults: {unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>'}},
  GPTNeoXTokenizer: {normalizer: {type: 'NFC'}, defaults: {unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', pad_token: '<|padding|>'}},
}

export function hasGpt2VocabFiles(dir: string): boolean {
  return existsSync(join(dir, VOCAB_FILE)) && existsSync(join(dir, MERGES_FILE))
}

/**
 * The tokenizer.json of transformers' GPT2Tokenizer (or GPTNeoXTokenizer) for <dir>/vocab.json + merges.txt:
 * ByteLevel pre-tokenizer (GPT-2's regex, add_prefix_space from the config), BPE with the merges in file order,
 * the added tokens of the config (or added_tokens.json) and its named special tokens, and BOS/EOS from add_bos_token /
 * add_eos_token (default off). `tokenizerConfig` is tokenizer_config.json over special_tokens_map.json.
 */
export function gpt2VocabFilesTokenizerJson(dir: string, tokenizerConfig: Json): Json {
  const className = String(tokenizerConfig.tokenizer_class ?? classOfModelType(dir)).replace(/Fast$/, '')
  const tokenizerClass = CLASSES[className]
  if (tokenizerClass === undefined) {
    throw new ModelLoadError(`tokenizer_config.json names ${className}, but only ${Object.keys(CLASSES).join(' and ')} are built from ${VOCAB_FILE} + ${MERGES_FILE}; the checkpoint needs a tokenizer.json.`)
  }
  const config = {...tokenizerClass.defaults, ...Object.fromEntries(Object.entries(tokenizerConfig).filter(([, value]) => value !== null && value !== undefined))}
  const vocabPath = join(dir, VOCAB_FILE)
  const vocab = readVocab(vocabPath)
  const merges = readMerges(join(dir, MERGES_FILE), vocab)
  const addedTokens = addedTokensOf(dir, config, vocab)
  const idOf = (token: string) => addedTokens.find((added) => added.content === token)?.id ?? (Object.hasOwn(vocab, token) ? vocab[token] : undefined)
  const flagged = (flag: unknown, key: 'bos_token' | 'eos_token') => {
    const token = tokenText(config[key])
    const id = token === '' ? undefined : idOf(token)
    return flag === true && id !== undefined ? {token, id} : null
  }
  const addPrefixSpace = config.add_prefix_space === true
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: tokenizerClass.normalizer,
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: config.trim_offsets !== false, use_regex: true},
    post_processor: specialTokensPostProcessor(flagged(config.add_bos_token, 'bos_token'), flagged(config.add_eos_token, 'eos_token')),
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  }
}

/** Without tokenizer_class transformers picks the class by config.json's model_type: GPT-NeoX's own, else (gpt2, opt) GPT-2's. */
function classOfModelType(dir: string): string {
  const configPath = join(dir, 'config.json')
  return existsSync(configPath) && readJsonObject(configPath).model_type === 'gpt_neox' ? 'GPTNeoXTokenizer' : 'GPT2Tokenizer'
}

/** A file's text: bounded in size and valid UTF-8, or a ModelLoadError naming it. */
function readTextFile(path: string): string {
  try {
    return decodeUtf8Strictly(readRegularFile(path, MAX_FILE_BYTES))
  } catch (error) {
    throw new ModelLoadError(`Cannot read ${path}: ${(error as Error).message}`, {cause: error})
  }
}

function readJsonFile(path: string): Json {
  let parsed: unknown
  try {
    parsed = JSON.parse(readTextFile(path))
  } catch (error) {
    if (error instanceof ModelLoadError) throw error
    throw new ModelLoadError(`Cannot parse ${path} as JSON: ${(error as Error).message}`, {cause: error})
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ModelLoadError(`${path} must hold a JSON object of token -> id.`)
  return parsed as Json
}

/** vocab.json: token -> id, ids distinct non-negative integers. */
function readVocab(path: string): Record<string, number> {
  const vocab = readJsonFile(path)
  const owner = new Map<number, string>()
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new ModelLoadError(`${path} gives ${quotedValue(token)} the id ${quotedValue(id)}, which is not a non-negative integer.`)
    const other = owner.get(id)
    if (other !== undefined) throw new ModelLoadError(`${path} gives both ${quotedValue(other)} and ${quotedValue(token)} the id ${id}.`)
    owner.set(id, token)
  }
  if (owner.size === 0) throw new ModelLoadError(`${path} holds no tokens.`)
  // Ids are dense in a real vocabulary; one far past the entries would make the tokenizer library walk every id up to it.
  let largest = 0
  for (const id of owner.keys()) largest = Math.max(largest, id)
  if (largest >= 2 * owner.size + 65536) throw new ModelLoadError(`${path} gives ${quotedValue(owner.get(largest))} the id ${largest}, far beyond its ${owner.size} entries.`)
  return vocab as Record<string, number>
}

/** merges.txt: "left right" a line, rank by line; the "#version" header skipped, both halves and their join in the vocabulary. */
function readMerges(path: string, vocab: Record<string, number>): [string, string][] {
  const lines = readTextFile(path).split(/\r?\n/)
  if (lines.at(-1) === '') lines.pop()
  const merges: [string, string][] = []
  lines.forEach((line, index) => {
    if (line.startsWith('#version')) return
    const parts = line.split(' ')
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new ModelLoadError(`${path} line ${index + 1} is not two tokens separated by one space: ${quotedValue(line.slice(0, 80))}.`)
    const [left, right] = parts as [string, string]
    for (const token of [left, right, left + right]) {
      if (!Object.hasOwn(vocab, token)) throw new ModelLoadError(`${path} line ${index + 1} merges into or from ${quotedValue(token)}, which is not in ${VOCAB_FILE}.`)
    }
    merges.push([left, right])
  })
  return merges
}

interface AddedToken {
  id: number
  content: string
  single_word: boolean
  lstrip: boolean
  rstrip: boolean
  normalized: boolean
  special: boolean
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']

/**
 * transformers' added tokens: tokenizer_config's added_tokens_decoder (or else added_tokens.json) in id order, then
 * the named and extra special tokens not among them. As in the tokenizers library, a token in the vocabulary keeps its
 * vocabulary id and any other takes the next free id, whatever id the file gave it.
 */
function addedTokensOf(dir: string, config: Json, vocab: Record<string, number>): AddedToken[] {
  const named = SPECIAL_KEYS.map((key) => config[key]).filter((value) => tokenText(value) !== '')
  const extra = [config.additional_special_tokens, config.extra_special_tokens].flatMap((list) => (Array.isArray(list) ? list : []))
  const specials = new Set([...named, ...extra].map(tokenText))
  const declared: Array<[number, Partial<AddedToken> & {content: string}]> = []
  const decoder = config.added_tokens_decoder
  if (decoder !== null && typeof decoder === 'object' && !Array.isArray(decoder)) {
    for (const [id, token] of Object.entries(decoder as Json)) {
      const content = tokenText(token)
      if (content === '' || !/^\d+$/.test(id)) throw new ModelLoadError(`tokenizer_config.json's added_tokens_decoder entry ${quotedValue(id)} is not an id with a token.`)
      declared.push([Number(id), {...(token as Partial<AddedToken>), content}])
    }
  } else if (existsSync(join(dir, ADDED_TOKENS_FILE))) {
    const path = join(dir, ADDED_TOKENS_FILE)
    for (const [content, id] of Object.entries(readJsonFile(path))) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new ModelLoadError(`${path} gives ${quotedValue(content)} the id ${quotedValue(id)}, which is not a non-negative integer.`)
      const special = specials.has(content)
      declared.push([id, {content, normalized: !special, special}])
    }
  }
  declared.sort(([a], [b]) => a - b)
  const wanted = declared.map(([, token]) => token)
  for (const value of [...named, ...extra]) {
    const content = tokenText(value)
    if (!wanted.some((token) => token.content === content)) wanted.push({...(typeof value === 'object' ? (value as Partial<AddedToken>) : {}), content, special: true, normalized: false})
  }
  const added: AddedToken[] = []
  let nextId = Object.keys(vocab).length
  for (const token of wanted) {
    if (added.some((other) => other.content === token.content)) continue
    const special = token.special === true || specials.has(token.content)
    const id = Object.hasOwn(vocab, token.content) ? vocab[token.content]! : nextId++
    added.push({
      id,
      content: token.content,
      single_word: token.single_word === true,
      lstrip: token.lstrip === true,
      rstrip: token.rstrip === true,
      normalized: typeof token.normalized === 'boolean' ? token.normalized : !special,
      special,
    })
  }
  return added
}

/** Special tokens are written as strings or as AddedToken objects. */
function tokenText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value !== null && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string
  return ''
}
