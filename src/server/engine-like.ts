// The part of LLMEngine the server uses, so the server can be tested against a scripted fake engine.
import type {SamplingParams} from '../engine/sampling-params.js'
import type {TokenLogprobs} from '../engine/sequence.js'

export interface ChatMessage {
  role: string
  content: string
}

export interface TokenizerLike {
  encode(text: string, opts?: {addSpecialTokens?: boolean}): number[]
  decode(ids: number[], opts?: {skipSpecialTokens?: boolean}): string
  /** The chat template rendered and tokenized without a double BOS. */
  encodeChat(messages: ChatMessage[], opts?: {addGenerationPrompt?: boolean}): number[]
}

export interface CompletionOutput {
  index: number
  /** Cumulative: the whole text generated so far, not a delta. */
  text: string
  tokenIds: number[]
  cumulativeLogprob: number
  logprobs: TokenLogprobs[] | null
  finishReason: 'stop' | 'length' | 'abort' | null
  stopReason: string | number | null
}

export interface RequestOutput {
  requestId: string
  prompt: string | null
  promptTokenIds: number[]
  outputs: CompletionOutput[]
  finished: boolean
  promptLogprobs: (TokenLogprobs | null)[] | null
  metrics: {arrivalTime: number; firstScheduledTime: number | null; firstTokenTime: number | null; finishedTime: number | null}
}

export interface RequestHandleLike extends AsyncIterable<RequestOutput> {
  result(): Promise<RequestOutput>
  abort(): void
}

export interface KvMemoryStatsLike {
  blockSize: number
  totalBlocks: number
  usedBlocks: number
  freeBlocks: number
  cachedBlocks: number
  tokensStored: number
  reservedSlots: number
  wasteSlots: number
  sharedBlocks: number
  savedBySharing: number
}

export interface EngineStatsLike {
  numRunning: number
  numWaiting: number
  numSwapped: number
  kv: KvMemoryStatsLike
  numPreemptions: number
  prefixCacheHitRate: number
  promptTokens: number
  generationTokens: number
  numSteps: number
}

export interface EngineLike {
  readonly modelName: string
  readonly maxModelLen: number
  readonly tokenizer: TokenizerLike
  /** Throws InvalidRequestError / ContextLengthError synchronously for bad input. */
  addRequest(request: {requestId?: string; prompt: string | number[]; params: SamplingParams; arrivalTime?: number}): RequestHandleLike
  abort(requestId: string): void
  stats(): EngineStatsLike
  shutdown(): Promise<void>
}
