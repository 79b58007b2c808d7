// The part of LLMEngine the server uses, so the server can be tested against a scripted fake engine.
import type {EngineStats} from '../engine/llm-engine.js'
import type {EngineHealth} from '../engine/step-watchdog.js'
import type {ModelSamplingDefaults} from '../engine/model/load-model.js'
import type {ChatMessage, ChatTemplateOptions} from '../engine/model/tokenizer.js'
import type {RequestOutput} from '../engine/request-output.js'
import type {SamplingParams} from '../engine/sampling-params.js'

// The engine's own output and stats types, re-exported so server modules and the fake engine name one source.
export type {ChatMessage, EngineHealth, EngineStats, RequestOutput}
export type {CompletionOutput} from '../engine/request-output.js'

export interface TokenizerLike {
  readonly vocabSize: number
  encode(text: string, opts?: {addSpecialTokens?: boolean}): number[]
  decode(ids: number[], opts?: {skipSpecialTokens?: boolean}): string
  /** The chat template rendered to text (tokenize it without adding special tokens: no double BOS). */
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string
  /** A token as the vocabulary writes it ('Ġhello', '▁The'); absent on tokenizers without a vocabulary (the fake engine's). */
  idToToken?(id: number): string | undefined
  /** The most UTF-8 bytes a text of `tokens` tokens can have; null when unknown. */
  maxTextBytes(tokens: number): number | null
  /** The bytes a token adds to the text (logprobs' `bytes`: part of a UTF-8 character, possibly). */
  tokenBytes(id: number): Uint8Array
}

export interface RequestHandleLike extends AsyncIterable<RequestOutput> {
  result(): Promise<RequestOutput>
  abort(): void
}

export interface EngineLike {
  readonly modelName: string
  readonly maxModelLen: number
  readonly tokenizer: TokenizerLike
  /** The model's recommended sampling (generation_config.json); absent = none. */
  readonly samplingDefaults?: ModelSamplingDefaults
  /** Compiles a request's grammar before it is queued (a bad one throws InvalidRequestError); absent = no guided decoding. */
  prepareRequest?(params: SamplingParams, signal?: AbortSignal): Promise<void>
  /** Throws InvalidRequestError / ContextLengthError synchronously for bad input. */
  addRequest(request: {requestId?: string; prompt: string | number[]; params: SamplingParams; arrivalTime?: number}): RequestHandleLike
  abort(requestId: string): void
  stats(): EngineStats
  /** Unhealthy while the engine's step loop is stuck; GET /health answers 503 with the reason. */
  health(): EngineHealth
  shutdown(): Promise<void>
}
