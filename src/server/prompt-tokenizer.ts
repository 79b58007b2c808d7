// Turns request bodies and prompts into parsed JSON and token ids for the server: size checks first, then the work (inline, or in worker threads).
import {ContextLengthError, InvalidRequestError, NotFoundError} from '../engine/errors.js'
import type {ChatMessage, TokenizerLike} from './engine-like.js'
import type {ChatContentFormatOption} from '../engine/model/chat-content-format.js'
import {badWordTokenSequences} from '../engine/guided/bad-words.js'
import {jsonText} from './request-body.js'
import {renderOpenFinalMessage} from './open-final-message.js'
import {type CheckedByRoute, type CheckedResponses, checkBodyText, checkContinuation, type CheckOptions, type RouteName} from './request-checks.js'
import type {ConversationText} from './response-store.js'

export type TokenizeJob =
  | {kind: 'text'; text: string; param: string; addSpecialTokens?: boolean; truncate?: number; countOnly?: boolean}
  | {
      kind: 'chat'
      /** The messages, or their JSON text (a big request's, checked in a worker: parsed again only where it renders). */
      messages: ChatMessage[] | string
      addGenerationPrompt: boolean
      /** The tools as sent, or their JSON text (as messages). */
      tools?: readonly object[] | string
      /** RAG documents for templates that render them (vLLM's chat `documents`). */
      documents?: readonly object[]
      variables?: Readonly<Record<string, unknown>>
      contentFormat?: ChatContentFormatOption
      /** The request's chat_template, rendered instead of the tokenizer's. */
      chatTemplate?: string
      /** vLLM's continue_final_message: the rendering ends where the last message's text does (open-final-message.ts). */
      continueFinalMessage?: boolean
      /** BOS and the like on top of what the template writes (vLLM's chat add_special_tokens; off by default). */
      addSpecialTokens?: boolean
      truncate?: number
      countOnly?: boolean
    }

/**
 * Whether the job's text may be longer than the context holds: truncate_prompt_tokens keeps only its last `truncate`
 * tokens, and /tokenize (`countOnly`) counts tokens of any length, as vLLM's does, so a client learns how far over it is.
 */
export function mayExceedContext(job: {truncate?: number; countOnly?: boolean}): boolean {
  return job.truncate !== undefined || job.countOnly === true
}

/**
 * The server's way to tokenize; every method may throw an InvalidRequestError / ContextLengthError for the client.
 * `signal` is the request's: once it aborts (the client left) the call rejects with its reason, and work not yet
 * started is dropped rather than done for nobody.
 */
export interface PromptTokenizer {
  tokenize(job: TokenizeJob, signal?: AbortSignal): Promise<number[]>
  /** bad_words as the token sequences the engine bans (badWordTokenSequences), so the engine's thread need not tokenize them. */
  badWordSequences(words: readonly string[], signal?: AbortSignal): Promise<number[][]>
  /**
   * A JSON body decoded, parsed and checked as its route's request (request-checks.ts), refusing prompt text that cannot
   * fit the context first (big bodies: all of it off the event loop).
   */
  checkBody<R extends RouteName>(body: Buffer, route: R, options: CheckOptions, signal?: AbortSignal): Promise<CheckedByRoute[R]>
  /** A body continuing a stored response, checked with its conversation's texts (request-checks.ts checkContinuation). */
  checkContinuation(bodyText: string, conversation: readonly ConversationText[], signal?: AbortSignal): Promise<CheckedResponses>
  close(): Promise<void>
}

/**
 * A prompt to truncate (truncate_prompt_tokens) or count (/tokenize) may be longer than the context, as in vLLM, which
 * tokenizes it all; up to this many contexts' worth of text, since tokenizing costs time per byte.
 */
export const TRUNCATABLE_CONTEXTS = 16

/**
 * Refuses text that cannot fit `maxModelLen` tokens judged by its size alone (the tokenizer's bound on bytes per
 * token), or TRUNCATABLE_CONTEXTS of them when it may exceed the context (mayExceedContext). Costs one pass over the
 * string, not a tokenization.
 */
export function checkTextFits(tokenizer: Pick<TokenizerLike, 'maxTextBytes'>, text: string, maxModelLen: number, param: string, beyondContext = false): void {
  const tokens = beyondContext ? maxModelLen * TRUNCATABLE_CONTEXTS : maxModelLen
  const limit = tokenizer.maxTextBytes(tokens)
  if (limit === null) return
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes <= limit) return
  const room = beyondContext
    ? `the most that ${TRUNCATABLE_CONTEXTS} contexts (${tokens} tokens) of this model can hold, the longest text truncate_prompt_tokens or /tokenize takes`
    : `the most that ${maxModelLen} tokens of this model can hold`
  throw new ContextLengthError(
    `This model's maximum context length is ${maxModelLen} tokens. However, your prompt is ${bytes} bytes of text, more than ` +
      `${limit} bytes, ${room}. Please shorten the prompt.`,
    param,
  )
}

/** One job on one tokenizer, size-checked before tokenizing: what the inline tokenizer and every worker run. */
export function runTokenizeJob(tokenizer: TokenizerLike, job: TokenizeJob, maxModelLen: number): number[] {
  if (job.kind === 'text') {
    checkTextFits(tokenizer, job.text, maxModelLen, job.param, mayExceedContext(job))
    return lastTokens(tokenizer.encode(job.text, {addSpecialTokens: job.addSpecialTokens ?? true}), job.truncate)
  }
  const messages: ChatMessage[] = typeof job.messages === 'string' ? JSON.parse(job.messages) : job.messages
  // Every message renders to at least one token (its role marker) in any useful template, so more messages than the
  // context has tokens cannot fit; refused before rendering, which costs time per message (100,000 took 5 s).
  if (messages.length > (mayExceedContext(job) ? maxModelLen * TRUNCATABLE_CONTEXTS : maxModelLen))
    throw new ContextLengthError(
      `This model's maximum context length is ${maxModelLen} tokens. However, your conversation has ${messages.length} messages, ` +
        'more than that many tokens can hold. Please shorten the conversation.',
      'messages',
    )
  const tools: readonly object[] | undefined = typeof job.tools === 'string' ? JSON.parse(job.tools) : job.tools
  const options = {addGenerationPrompt: job.addGenerationPrompt, tools, documents: job.documents, variables: job.variables, contentFormat: job.contentFormat, chatTemplate: job.chatTemplate}
  const render = (chat: ChatMessage[]) => tokenizer.applyChatTemplate(chat, options)
  const rendered = job.continueFinalMessage ? renderOpenFinalMessage(messages, render) : render(messages)
  checkTextFits(tokenizer, rendered, maxModelLen, 'messages', mayExceedContext(job))
  return lastTokens(tokenizer.encode(rendered, {addSpecialTokens: job.addSpecialTokens ?? false}), job.truncate)
}

/** The last `limit` tokens (vLLM truncates prompts on the left); all of them without a limit. */
export function lastTokens(tokenIds: number[], limit: number | undefined): number[] {
  return limit !== undefined && tokenIds.length > limit ? tokenIds.slice(tokenIds.length - limit) : tokenIds
}

/** Tokenizes on the calling thread: for the fake engine in tests, and for tokenizers too cheap to ship to a worker. */
export class InlinePromptTokenizer implements PromptTokenizer {
  constructor(
    private readonly tokenizer: TokenizerLike,
    private readonly maxModelLen: number,
  ) {}

  async tokenize(job: TokenizeJob, signal?: AbortSignal): Promise<number[]> {
    signal?.throwIfAborted()
    return runTokenizeJob(this.tokenizer, job, this.maxModelLen)
  }

  async badWordSequences(words: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    signal?.throwIfAborted()
    return badWordTokenSequences(this.tokenizer, words)
  }

  async checkBody<R extends RouteName>(body: Buffer, route: R, options: CheckOptions, signal?: AbortSignal): Promise<CheckedByRoute[R]> {
    signal?.throwIfAborted()
    return checkBodyText(this.tokenizer, jsonText(body), route, options, this.maxModelLen)
  }

  async checkContinuation(bodyText: string, conversation: readonly ConversationText[], signal?: AbortSignal): Promise<CheckedResponses> {
    signal?.throwIfAborted()
    return checkContinuation(bodyText, conversation)
  }

  async close(): Promise<void> {}
}

/** A tokenize error as it crosses a thread boundary: client mistakes keep their class, anything else becomes a plain Error (500). */
export interface SerializedJobError {
  kind: 'context' | 'invalid' | 'notFound' | 'internal'
  message: string
  param: string | null
  code: string | null
}

export function serializeJobError(error: unknown): SerializedJobError {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof ContextLengthError) return {kind: 'context', message, param: error.param, code: error.code}
  if (error instanceof InvalidRequestError) return {kind: 'invalid', message, param: error.param, code: error.code}
  if (error instanceof NotFoundError) return {kind: 'notFound', message, param: error.param, code: error.code}
  return {kind: 'internal', message: error instanceof Error ? (error.stack ?? message) : message, param: null, code: null}
}

export function deserializeJobError(error: SerializedJobError): Error {
  if (error.kind === 'context') return new ContextLengthError(error.message, error.param)
  if (error.kind === 'invalid') return new InvalidRequestError(error.message, {param: error.param, code: error.code})
  if (error.kind === 'notFound') return new NotFoundError(error.message, {param: error.param, code: error.code})
  return new Error(`tokenizer worker: ${error.message}`)
}
