// A scripted stand-in for LLMEngine: one character per token, one token per step, with block accounting, so server tests run in milliseconds.
import {ContextLengthError} from '../../src/engine/errors.js'
import type {SamplingParams} from '../../src/engine/sampling-params.js'
import type {
  ChatMessage,
  CompletionOutput,
  EngineHealth,
  EngineLike,
  EngineStats,
  RequestHandleLike,
  RequestOutput,
  TokenizerLike,
} from '../../src/server/engine-like.js'

export const FAKE_BOS = 1
/** What every sequence generates, starting at a different place per sample index. */
export const FAKE_SCRIPT = 'the quick brown fox jumps over the lazy dog. '

/** Token id = character code; id 1 is BOS and decodes to nothing. */
export class FakeTokenizer implements TokenizerLike {
  readonly vocabSize = 256

  encode(text: string, opts: {addSpecialTokens?: boolean} = {}): number[] {
    const ids = [...text].map((char) => char.charCodeAt(0) % this.vocabSize)
    return opts.addSpecialTokens === false ? ids : [FAKE_BOS, ...ids]
  }

  decode(ids: number[]): string {
    return ids
      .filter((id) => id !== FAKE_BOS)
      .map((id) => String.fromCharCode(id))
      .join('')
  }

  tokenBytes(id: number): Uint8Array {
    return new Uint8Array(Buffer.from(this.decode([id]), 'utf8'))
  }

  applyChatTemplate(messages: ChatMessage[], opts: {addGenerationPrompt?: boolean; documents?: readonly object[]; variables?: Readonly<Record<string, unknown>>} = {}): string {
    const documents = (opts.documents ?? []).map((document) => `<document>${JSON.stringify(document)}\n`).join('')
    const rendered = documents + messages.map((message) => `<${message.role}>${message.content}\n`).join('')
    // The template writes the BOS itself, as real ones do; char code 1 encodes to FAKE_BOS. chat_template_kwargs may
    // set add_generation_prompt, as with a real template.
    const generationPrompt = opts.variables?.add_generation_prompt ?? opts.addGenerationPrompt
    return String.fromCharCode(FAKE_BOS) + rendered + (generationPrompt === false ? '' : '<assistant>')
  }

  /** One token per code point: at most 4 UTF-8 bytes each. */
  maxTextBytes(tokens: number): number {
    return tokens * 4
  }
}

interface FakeRequest {
  requestId: string
  promptTokenIds: number[]
  params: SamplingParams
  outputs: CompletionOutput[]
  arrivalTime: number
  firstTokenTime: number | null
  finished: boolean
  listeners: (() => void)[]
  emitted: RequestOutput[]
}

export interface FakeEngineOptions {
  maxModelLen?: number
  blockSize?: number
  totalBlocks?: number
  /** Time between steps; every running request gains one token per step. */
  stepMs?: number
  /** Sequences that run at once, first come first served (as the scheduler's --max-num-seqs); the rest wait. */
  maxNumSeqs?: number
  /** What every sequence generates instead of FAKE_SCRIPT (repeated, starting at a different place per sample index). */
  script?: string
}

export class FakeEngine implements EngineLike {
  readonly modelName = 'fake-model'
  readonly tokenizer = new FakeTokenizer()
  readonly maxModelLen: number
  readonly blockSize: number
  readonly totalBlocks: number
  /** Request ids aborted through a handle or engine.abort, in order. */
  readonly abortedRequestIds: string[] = []
  /** Every SamplingParams the server handed over, in order (tests check the field mapping). */
  readonly receivedParams: SamplingParams[] = []
  shutdownCalled = false
  /** What health() reports; tests set it to play a stuck engine. */
  currentHealth: EngineHealth = {healthy: true}
  private readonly stepMs: number
  private readonly maxNumSeqs: number
  private readonly script: string
  private readonly running = new Map<string, FakeRequest>()
  private timer: NodeJS.Timeout | null = null
  private promptTokens = 0
  private generationTokens = 0
  private steps = 0
  private nextId = 0

  constructor(options: FakeEngineOptions = {}) {
    this.maxModelLen = options.maxModelLen ?? 256
    this.blockSize = options.blockSize ?? 4
    this.totalBlocks = options.totalBlocks ?? 1024
    this.stepMs = options.stepMs ?? 1
    this.maxNumSeqs = options.maxNumSeqs ?? Number.POSITIVE_INFINITY
    this.script = options.script ?? FAKE_SCRIPT
  }

  addRequest(request: {requestId?: string; prompt: string | number[]; params: SamplingParams; arrivalTime?: number}): RequestHandleLike {
    const promptTokenIds = typeof request.prompt === 'string' ? this.tokenizer.encode(request.prompt) : request.prompt
    if (promptTokenIds.length + request.params.maxTokens > this.maxModelLen)
      throw new ContextLengthError(`fake engine: prompt + max_tokens exceed ${this.maxModelLen}`, 'prompt')
    this.receivedParams.push(request.params)
    const requestId = request.requestId ?? `fake-${this.nextId++}`
    const fake: FakeRequest = {
      requestId,
      promptTokenIds,
      params: request.params,
      outputs: Array.from({length: request.params.n}, (_, index) => ({
        index,
        text: '',
        tokenIds: [],
        cumulativeLogprob: 0,
        logprobs: request.params.logprobs === null ? null : [],
        finishReason: null,
        stopReason: null,
      })),
      arrivalTime: request.arrivalTime ?? performance.now() / 1000,
      firstTokenTime: null,
      finished: false,
      listeners: [],
      emitted: [],
    }
    this.running.set(requestId, fake)
    this.promptTokens += promptTokenIds.length
    this.scheduleStep()
    return this.handleFor(fake)
  }

  abort(requestId: string): void {
    const fake = this.running.get(requestId)
    if (!fake) return
    this.abortedRequestIds.push(requestId)
    for (const output of fake.outputs) output.finishReason ??= 'abort'
    this.finish(fake)
  }

  health(): EngineHealth {
    return this.currentHealth
  }

  stats(): EngineStats {
    let usedBlocks = 0
    let tokensStored = 0
    for (const fake of this.running.values())
      for (const output of fake.outputs) {
        const tokens = fake.promptTokenIds.length + output.tokenIds.length
        tokensStored += tokens
        usedBlocks += Math.ceil(tokens / this.blockSize)
      }
    const reservedSlots = usedBlocks * this.blockSize
    return {
      numRunning: this.running.size,
      numWaiting: 0,
      numSwapped: 0,
      kv: {
        blockSize: this.blockSize,
        totalBlocks: this.totalBlocks,
        usedBlocks,
        freeBlocks: this.totalBlocks - usedBlocks,
        cachedBlocks: 0,
        tokensStored,
        reservedSlots,
        wasteSlots: reservedSlots - tokensStored,
        sharedBlocks: 0,
        savedBySharing: 0,
      },
      numPreemptions: 0,
      prefixCacheHitRate: 0,
      prefixCacheQueries: this.promptTokens,
      prefixCacheHits: 0,
      swapBlocks: {used: 0, total: 0},
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
      numSteps: this.steps,
      numStepsQueuedAhead: 0,
      specDecode: {numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0},
    }
  }

  async shutdown(): Promise<void> {
    this.shutdownCalled = true
    for (const requestId of [...this.running.keys()]) this.abort(requestId)
  }

  private scheduleStep(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null
      this.step()
      if (this.running.size > 0) this.scheduleStep()
    }, this.stepMs)
  }

  private step(): void {
    this.steps += 1
    const now = performance.now() / 1000
    let sequences = 0
    for (const fake of this.running.values()) {
      sequences += fake.params.n
      if (sequences > this.maxNumSeqs) break
      fake.firstTokenTime ??= now
      for (const output of fake.outputs) {
        if (output.finishReason !== null) continue
        const char = this.script[(output.index + output.tokenIds.length) % this.script.length]!
        const tokenId = char.charCodeAt(0)
        output.tokenIds = [...output.tokenIds, tokenId]
        output.text += char
        output.cumulativeLogprob -= 0.5
        if (output.logprobs) output.logprobs = [...output.logprobs, new Map([[tokenId, -0.5], [0x5f, -1.5]])]
        this.generationTokens += 1
        const stop = fake.params.stop.find((candidate) => output.text.endsWith(candidate))
        if (stop !== undefined) {
          output.text = output.text.slice(0, -stop.length)
          output.finishReason = 'stop'
          output.stopReason = stop
        } else if (output.tokenIds.length >= fake.params.maxTokens) {
          output.finishReason = 'length'
        }
      }
      if (fake.outputs.every((output) => output.finishReason !== null)) this.finish(fake)
      else this.emit(fake)
    }
  }

  private finish(fake: FakeRequest): void {
    fake.finished = true
    this.running.delete(fake.requestId)
    this.emit(fake)
  }

  private emit(fake: FakeRequest): void {
    fake.emitted.push({
      requestId: fake.requestId,
      prompt: null,
      promptTokenIds: fake.promptTokenIds,
      outputs: fake.outputs.map((output) => ({...output})),
      finished: fake.finished,
      promptLogprobs: fake.params.promptLogprobs === null ? null : fake.promptTokenIds.map((id, i) => (i === 0 ? null : new Map([[id, -1]]))),
      numCachedTokens: 0,
      metrics: {
        arrivalTime: fake.arrivalTime,
        firstScheduledTime: fake.arrivalTime,
        firstTokenTime: fake.firstTokenTime,
        finishedTime: fake.finished ? performance.now() / 1000 : null,
      },
    })
    for (const listener of fake.listeners.splice(0)) listener()
  }

  private handleFor(fake: FakeRequest): RequestHandleLike {
    const engine = this
    return {
      abort: () => engine.abort(fake.requestId),
      result: async () => {
        while (!fake.finished) await new Promise<void>((resolve) => fake.listeners.push(resolve))
        return fake.emitted.at(-1)!
      },
      async *[Symbol.asyncIterator]() {
        let next = 0
        while (true) {
          while (next < fake.emitted.length) {
            const output = fake.emitted[next++]!
            yield output
            if (output.finished) return
          }
          await new Promise<void>((resolve) => fake.listeners.push(resolve))
        }
      },
    }
  }
}

/** A fake engine whose every request fails right after its first output (an engine step that throws mid-stream). */
export function failingAfterFirstOutput(engine: FakeEngine): FakeEngine {
  const original = engine.addRequest.bind(engine)
  engine.addRequest = (request) => {
    const handle = original(request)
    return {
      ...handle,
      async *[Symbol.asyncIterator]() {
        for await (const output of handle) {
          yield output
          throw new Error('engine step failed')
        }
      },
    }
  }
  return engine
}
