// The part of LLMEngine the server uses, so the server can be tested against a scripted fake engine.
import type {EngineStats} from '../engine/llm-engine.js'
import type {ChatMessage} from '../engine/model/tokenizer.js'
import type {RequestOutput} from '../engine/request-output.js'
import type {SamplingParams} from '../engine/sampling-params.js'

// The engine's own output and stats types, re-exported so server modules and the fake engine name one source.
export type {ChatMessage, EngineStats, RequestOutput}
export type {CompletionOutput} from '../engine/request-output.js'

export interface TokenizerLike {
  encode(text: string, opts?: {addSpecialTokens?: boolean}): number[]
  decode(ids: number[], opts?: {skipSpecialTokens?: boolean}): string
  /** The chat template rendered and tokenized without a double BOS. */
  encodeChat(messages: ChatMessage[], opts?: {addGenerationPrompt?: boolean; tools?: readonly object[]}): number[]
}

export interface RequestHandleLike extends AsyncIterable<RequestOutput> {
  result(): Promise<RequestOutput>
  abort(): void
}

export interface EngineLike {
  readonly modelName: string
  readonly maxModelLen: number
  readonly tokenizer: TokenizerLike
  /** Compiles a request's grammar before it is queued (a bad one throws InvalidRequestError); absent = no guided decoding. */
  prepareRequest?(params: SamplingParams): Promise<void>
  /** Throws InvalidRequestError / ContextLengthError synchronously for bad input. */
  addRequest(request: {requestId?: string; prompt: string | number[]; params: SamplingParams; arrivalTime?: number}): RequestHandleLike
  abort(requestId: string): void
  stats(): EngineStats
  shutdown(): Promise<void>
}
