// The model's tokenizer: tokenizer.json (or what transformers builds from older files) via @huggingface/tokenizers plus the chat template (chat-template.ts).
import {Tokenizer as HfTokenizer} from '@huggingface/tokenizers'
import {existsSync} from 'node:fs'
import {readRegularFile} from './regular-file.js'
import {join} from 'node:path'
import {InvalidRequestError, ModelLoadError, quotedValue} from '../errors.js'
import {isGgufFile, readGguf} from './gguf-file.js'
import {tokenizerFromGguf} from './gguf-tokenizer.js'
import {readSentencePieceModel, sentencePieceTokenizerJson} from './sentencepiece-model.js'
import {readJsonObject} from './model-config.js'
import {gpt2VocabFilesTokenizerJson, hasGpt2VocabFiles, MERGES_FILE, VOCAB_FILE} from './gpt2-vocab-files.js'
import {specialTokensPostProcessor} from './byte-level-bpe.js'
import {maxTextBytes, type TextSizeBound, textSizeBound} from './text-size-bound.js'
import {tokenBytes} from './token-bytes.js'
import {withMetaspaceSplit, withMetaspaceWords} from './metaspace-words.js'
import {fixTokenizerLibrary} from './tokenizer-library-fixes.js'
import {checkTokenIds, checkTokenizerModel} from './tokenizer-json-checks.js'
import {ChatTemplate, type ChatMessage, type ChatTemplateOptions, parseRequestTemplate} from './chat-template.js'

export type {ChatMessage, ChatTemplateOptions}

export interface TokenizerLoadOptions {
  extraEosTokenIds?: number[]
  /** A chat template replacing the model's (vLLM's --chat-template, read by chat-template-source.ts). */
  chatTemplate?: string
}

type Json = Record<string, unknown>

export interface DecoderKind {
  /** byte_level: GPT-2 byte-to-unicode strings; byte_fallback: SentencePiece pieces with <0xNN> bytes; raw: plain text. */
  vocabType: 'byte_level' | 'byte_fallback' | 'raw'
  /** SentencePiece-style tokenizers put a space (a leading U+2581) in front of the text. */
  prependSpace: boolean
}

export class Tokenizer {
  readonly vocabSize: number
  readonly bosTokenId: number | null
  readonly eosTokenIds: number[]
  readonly specialTokenIds: ReadonlySet<number>
  /** Ids of tokenizer.json's added_tokens (special or not): matched whole in text, outside the BPE vocabulary. */
  readonly addedTokenIds: ReadonlySet<number>
  /** How token strings map to text, as grammar engines need it (xgrammar's vocab types). */
  readonly decoderKind: DecoderKind
  private readonly inner: HfTokenizer
  private readonly sizeBound: TextSizeBound | null
  private readonly chatTemplate: ChatTemplate | null
  /** A list of named templates' "tool_use" one, which transformers renders chats that pass tools with. */
  private readonly toolUseTemplate: ChatTemplate | null
  private readonly specialTokenText: {bos_token: string; eos_token: string; unk_token: string; pad_token: string}

  /**
   * Loads <dir>/tokenizer.json and <dir>/tokenizer_config.json, or a GGUF file's vocabulary (so whatever takes a model
   * path, the server's tokenizer workers among them, gets the model's tokenizer); extraEosTokenIds come from
   * config/generation_config; options.chatTemplate replaces the model's template (its own is then not read).
   */
  static load(dir: string, options: TokenizerLoadOptions = {}): Tokenizer {
    if (isGgufFile(dir)) return tokenizerFromGguf(readGguf(dir, {metadataOnly: true}).metadata, options)
    const configPath = join(dir, 'tokenizer_config.json')
    // Older checkpoints name their special tokens in special_tokens_map.json only; tokenizer_config.json wins where both do.
    const mapPath = join(dir, 'special_tokens_map.json')
    const specialTokensMap = existsSync(mapPath) ? readJsonObject(mapPath) : {}
    const tokenizerConfig = {...specialTokensMap, ...(existsSync(configPath) ? readJsonObject(configPath) : {})}
    const tokenizerJson = readTokenizerJson(dir, tokenizerConfig)
    if (options.chatTemplate !== undefined) return new Tokenizer(tokenizerJson, tokenizerConfig, options)
    // Newer checkpoints keep the template in its own file instead of tokenizer_config.json.
    const templatePath = join(dir, 'chat_template.jinja')
    const templateFile = existsSync(templatePath) ? readModelFileBytes(templatePath).toString('utf8') : null
    const chatTemplate = templateFile ?? (tokenizerConfig.chat_template == null ? processorChatTemplate(dir) : null)
    return new Tokenizer(tokenizerJson, tokenizerConfig, {...options, chatTemplate})
  }

  constructor(
    tokenizerJson: Json,
    tokenizerConfig: Json,
    options: {extraEosTokenIds?: number[]; chatTemplate?: string | null} = {},
  ) {
    checkTokenIds(tokenizerJson)
    tokenizerJson = withMetaspaceWords(withMetaspaceSplit(tokenizerJson))
    try {
      // transformers defaults clean_up_tokenization_spaces to false (the library to true); llama.cpp never cleans up.
      this.inner = new HfTokenizer(withSpecialTokenFlags(tokenizerJson, tokenizerConfig), {clean_up_tokenization_spaces: false, ...tokenizerConfig})
      fixTokenizerLibrary(this.inner)
    } catch (error) {
      throw new ModelLoadError(`Cannot build the tokenizer from tokenizer.json: ${(error as Error).message}`, {cause: error})
    }
    // A post-processor naming a token the vocabulary lacks adds an undefined id to every prompt.
    if (!this.inner.encode('a', {add_special_tokens: true}).ids.every((id: number) => Number.isInteger(id))) {
      throw new ModelLoadError('The tokenizer adds a special token (BOS or a template token) that is not in its vocabulary.')
    }
    this.sizeBound = textSizeBound(tokenizerJson)
    const vocab = this.inner.get_vocab(true)
    let maxId = -1
    for (const id of vocab.values()) maxId = Math.max(maxId, id)
    this.vocabSize = maxId + 1

    const special = new Set<number>()
    const added = new Set<number>()
    for (const [id, token] of this.inner.get_added_tokens_decoder()) {
      added.add(id)
      if (token.special) special.add(id)
    }
    this.specialTokenIds = special
    this.addedTokenIds = added
    this.decoderKind = decoderKindOf(tokenizerJson)

    this.specialTokenText = {
      bos_token: tokenContent(tokenizerConfig.bos_token),
      eos_token: tokenContent(tokenizerConfig.eos_token),
      unk_token: tokenContent(tokenizerConfig.unk_token),
      pad_token: tokenContent(tokenizerConfig.pad_token),
    }
    this.bosTokenId = this.tokenId(this.specialTokenText.bos_token)
    const eos = this.tokenId(this.specialTokenText.eos_token)
    this.eosTokenIds = [...new Set([...(eos === null ? [] : [eos]), ...(options.extraEosTokenIds ?? [])])]

    const templates = options.chatTemplate != null ? {chat: options.chatTemplate, toolUse: null} : namedChatTemplates(tokenizerConfig.chat_template)
    try {
      this.chatTemplate = templates.chat === null ? null : new ChatTemplate(templates.chat)
      this.toolUseTemplate = templates.toolUse === null ? null : new ChatTemplate(templates.toolUse)
    } catch (error) {
      throw new ModelLoadError(`The chat_template does not parse: ${(error as Error).message}`, {cause: error})
    }
  }

  encode(text: string, opts: {addSpecialTokens?: boolean} = {}): number[] {
    // A lone surrogate (a JSON "\ud800" escape) is U+FFFD, as in the text's UTF-8; left in, byte fallback would spell
    // out U+FFFD's bytes where the vocabulary has the character.
    text = text.replace(LONE_SURROGATE, '\ufffd')
    return this.inner.encode(text, {add_special_tokens: opts.addSpecialTokens ?? true}).ids
  }

  /** The most UTF-8 bytes a text of `tokens` tokens can have; null when this tokenizer can drop unbounded text. */
  maxTextBytes(tokens: number): number | null {
    return this.sizeBound === null ? null : maxTextBytes(this.sizeBound, tokens)
  }

  /** Whether `id` names a token; one that does not (a padded vocabulary's) decodes to nothing. */
  hasToken(id: number): boolean {
    return this.inner.id_to_token(id) !== undefined
  }

  /**
   * Ids without a token (a model's vocabulary padded past the tokenizer's) decode to nothing, as in HF's Rust tokenizers.
   * cleanUpSpaces overrides clean_up_tokenization_spaces (" ," -> ","), which only whole-text decodes apply.
   */
  decode(ids: number[], opts: {skipSpecialTokens?: boolean; cleanUpSpaces?: boolean} = {}): string {
    const known = ids.every((id) => this.hasToken(id)) ? ids : ids.filter((id) => this.hasToken(id))
    if (known.length === 0) return '' // the library rejects an empty list; detokenizers ask for it at the start of a stream
    return this.inner.decode(known, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      ...(opts.cleanUpSpaces === undefined ? {} : {clean_up_tokenization_spaces: opts.cleanUpSpaces}),
    })
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null || this.toolUseTemplate !== null
  }

  /** Renders the chat template (or the request's, opts.chatTemplate) to text; the text already holds any BOS the template writes. */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (opts.chatTemplate !== undefined) return parseRequestTemplate(opts.chatTemplate).render(messages, this.specialTokenText, opts)
    const template = opts.tools?.length && this.toolUseTemplate !== null ? this.toolUseTemplate : this.chatTemplate
    if (template === null) {
      const why = this.toolUseTemplate === null ? 'no chat template' : 'only a "tool_use" chat template, for chats with tools (no "default")'
      throw new InvalidRequestError(`This model has ${why}; use the completions endpoint with a plain prompt (or start the server with --chat-template).`, {param: 'messages'})
    }
    return template.render(messages, this.specialTokenText, opts)
  }

  /** Renders and tokenizes without adding special tokens, as transformers' apply_chat_template(tokenize=True) does (no double BOS). */
  encodeChat(messages: ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), {addSpecialTokens: false})
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id)
  }

  /** The bytes token `id` adds to the text (part of a UTF-8 character, possibly); an added token's are its text's. */
  tokenBytes(id: number): Uint8Array {
    const token = this.inner.id_to_token(id) ?? ''
    return this.addedTokenIds.has(id) ? new Uint8Array(Buffer.from(token, 'utf8')) : tokenBytes(token, this.decoderKind.vocabType)
  }

  private tokenId(content: string): number | null {
    return content === '' ? null : (this.inner.token_to_id(content) ?? null)
  }
}

/**
 * tokenizer.json, or without it the one transformers builds from GPT-2-style vocab.json + merges.txt (GPT-2, OPT) or
 * from a SentencePiece tokenizer.model (older Llama checkpoints).
 */
function readTokenizerJson(dir: string, tokenizerConfig: Json): Json {
  const tokenizerPath = join(dir, 'tokenizer.json')
  if (existsSync(tokenizerPath)) {
    const tokenizerJson = readJsonObject(tokenizerPath)
    checkTokenizerModel(tokenizerJson, tokenizerPath)
    return tokenizerJson
  }
  if (hasGpt2VocabFiles(dir)) return gpt2VocabFilesTokenizerJson(dir, tokenizerConfig)
  const modelPath = join(dir, 'tokenizer.model')
  if (existsSync(modelPath)) return sentencePieceTokenizerJson(readSentencePieceModel(readModelFileBytes(modelPath), modelPath), modelPath)
  throw new ModelLoadError(
    `No tokenizer.json (nor ${VOCAB_FILE} + ${MERGES_FILE}, nor a SentencePiece tokenizer.model) in ${dir}: the model directory needs its tokenizer.`,
  )
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (UTF-16 code units, no u flag). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** transformers' Llama and Gemma tokenizer classes rebuild the post-processor from these flags, whatever tokenizer.json says. */
const FLAG_DRIVEN_CLASSES = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/

/**
 * tokenizer.json with the post-processor transformers' LlamaTokenizerFast builds (update_post_processor): BOS when
 * add_bos_token (default true), EOS when add_eos_token (default false). Other classes keep tokenizer.json's.
 */
function withSpecialTokenFlags(tokenizerJson: Json, tokenizerConfig: Json): Json {
  const tokenizerClass = tokenizerConfig.tokenizer_class
  if (typeof tokenizerClass !== 'string' || !FLAG_DRIVEN_CLASSES.test(tokenizerClass)) return tokenizerJson
  const special = (flag: unknown, fallback: boolean, key: 'bos_token' | 'eos_token') => {
    if ((typeof flag === 'boolean' ? flag : fallback) === false) return null
    const token = tokenContent(tokenizerConfig[key])
    const id = token === '' ? undefined : tokenIdIn(tokenizerJson, token)
    if (id === undefined) throw new ModelLoadError(`tokenizer_config.json asks for ${key} on every text (add_${key}), but ${key} "${token}" is not a token.`)
    return {token, id}
  }
  const bos = special(tokenizerConfig.add_bos_token, true, 'bos_token')
  const eos = special(tokenizerConfig.add_eos_token, false, 'eos_token')
  return {...tokenizerJson, post_processor: specialTokensPostProcessor(bos, eos)}
}

/** A token's id in tokenizer.json: an added token, or an entry of a BPE/WordPiece (object) or Unigram (list) vocabulary. */
function tokenIdIn(tokenizerJson: Json, content: string): number | undefined {
  const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as {id?: unknown; content?: unknown}[]).find((t) => t.content === content) : undefined
  if (typeof added?.id === 'number') return added.id
  const vocab = (tokenizerJson.model as Json | undefined)?.vocab
  if (Array.isArray(vocab)) {
    const index = vocab.findIndex((entry) => Array.isArray(entry) && entry[0] === content)
    return index >= 0 ? index : undefined
  }
  const id = vocab !== null && typeof vocab === 'object' ? (vocab as Record<string, unknown>)[content] : undefined
  return typeof id === 'number' ? id : undefined
}

/** tokenizer_config.json writes special tokens either as strings or as AddedToken objects. */
function tokenContent(value: unknown): string {
  if (typeof value === 'string') return value
  if (value !== null && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string
  return ''
}

/**
 * A vision-language checkpoint's processor may keep the template in chat_template.json ({"chat_template": "..."}) and the
 * tokenizer none (LLaVA's, Mistral Small 3.1's): used then, as vLLM falls back to the processor's template.
 */
function processorChatTemplate(dir: string): string | null {
  const path = join(dir, 'chat_template.json')
  if (!existsSync(path)) return null
  const template = readJsonObject(path).chat_template
  if (template == null) return null
  if (typeof template !== 'string') throw new ModelLoadError(`${path}: "chat_template" must be a string, got ${quotedValue(template)}.`)
  return template
}

/** chat_template.jinja or tokenizer.model, whose read errors (a directory, no permission, a FIFO) name the file like every other model file's. */
function readModelFileBytes(path: string): Buffer {
  try {
    return readRegularFile(path)
  } catch (error) {
    throw new ModelLoadError(`Cannot read ${path}: ${(error as Error).message}`, {cause: error})
  }
}

/**
 * chat_template is a string, or a list of {name, template}: transformers renders "tool_use" for chats with tools where
 * there is one, else "default", and refuses a chat when the one it needs is missing.
 */
function namedChatTemplates(value: unknown): {chat: string | null; toolUse: string | null} {
  if (value == null) return {chat: null, toolUse: null}
  if (typeof value === 'string') return {chat: value, toolUse: null}
  const named = Array.isArray(value) ? (value as {name?: unknown; template?: unknown}[]) : []
  const malformed = !Array.isArray(value) || named.some((t) => t === null || typeof t !== 'object' || typeof t.name !== 'string' || typeof t.template !== 'string')
  if (malformed) throw new ModelLoadError(`tokenizer_config.json: "chat_template" must be a string or a list of {"name", "template"} strings, got ${quotedValue(value)}.`)
  const find = (name: string) => (named.find((t) => t.name === name)?.template as string | undefined) ?? null
  return {chat: find('default'), toolUse: find('tool_use')}
}

/** Reads the decoder (and normalizer) of tokenizer.json to tell how token strings become text. */
function decoderKindOf(tokenizerJson: Json): DecoderKind {
  const types = (node: unknown): string[] => {
    if (node === null || typeof node !== 'object') return []
    const {type, decoders, normalizers} = node as Json
    const children = [...(Array.isArray(decoders) ? decoders : []), ...(Array.isArray(normalizers) ? normalizers : [])]
    return [...(typeof type === 'string' ? [type] : []), ...children.flatMap(types)]
  }
  const decoderTypes = types(tokenizerJson.decoder)
  const prependSpace = types(tokenizerJson.normalizer).includes('Prepend') || decoderTypes.includes('Metaspace')
  if (decoderTypes.includes('ByteLevel')) return {vocabType: 'byte_level', prependSpace: false}
  if (decoderTypes.includes('ByteFallback')) return {vocabType: 'byte_fallback', prependSpace}
  return {vocabType: 'raw', prependSpace}
}
