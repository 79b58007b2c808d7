// Submits one HTTP request's prompts to the engine and merges their output streams, aborting them all when the client goes away.
import {InvalidRequestError, UnavailableError} from '../engine/errors.js'
import type {SamplingParams} from '../engine/sampling-params.js'
import type {EngineLike, RequestHandleLike, RequestOutput} from './engine-like.js'

export interface PreparedPrompt {
  tokenIds: number[]
  /** The prompt's text, for echo: as sent, or decoded from the token ids sent. */
  text: string
  params: SamplingParams
}

/** Compiles the prompts' grammars before anything is queued, so a bad schema is a 400 with nothing to undo. */
export async function prepareGuided(engine: EngineLike, prompts: readonly PreparedPrompt[]): Promise<void> {
  for (const {params} of prompts) {
    if (params.guided === null) continue
    if (!engine.prepareRequest) throw new InvalidRequestError('this engine does not support guided decoding', {param: params.guided.param})
    await engine.prepareRequest(params)
  }
}

/** Adds every prompt or none: if the engine rejects one, the ones already added are aborted. */
export function submitPrompts(
  engine: EngineLike,
  requestId: string,
  prompts: readonly PreparedPrompt[],
  arrivalTime: number,
): RequestHandleLike[] {
  const handles: RequestHandleLike[] = []
  try {
    prompts.forEach((prompt, index) => {
      const id = prompts.length === 1 ? requestId : `${requestId}-${index}`
      handles.push(engine.addRequest({requestId: id, prompt: prompt.tokenIds, params: prompt.params, arrivalTime}))
    })
  } catch (error) {
    for (const handle of handles) handle.abort()
    throw error
  }
  return handles
}

export interface IndexedOutput {
  promptIndex: number
  output: RequestOutput
}

/**
 * Yields each prompt's outputs as they arrive, interleaved. Ends early when `signal` aborts (client gone);
 * whatever way it ends (done, abort, error, consumer stops), unfinished requests are aborted so their
 * KV blocks are freed at once.
 */
export async function* mergeOutputs(
  handles: readonly RequestHandleLike[],
  signal: AbortSignal,
  onFinished: (output: RequestOutput) => void,
): AsyncGenerator<IndexedOutput> {
  const iterators = handles.map((handle) => handle[Symbol.asyncIterator]())
  const finished = handles.map(() => false)
  type Pulled = {index: number; result: IteratorResult<RequestOutput>} | {index: number; error: unknown}
  const pending = new Map<number, Promise<Pulled>>()
  // Failures become values so that a second failing stream cannot surface as an unhandled rejection.
  const pull = (index: number) =>
    pending.set(index, iterators[index]!.next().then((result) => ({index, result}), (error: unknown) => ({index, error})))
  let removeAbortListener = () => {}
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) return resolve('aborted')
    const listener = () => resolve('aborted')
    signal.addEventListener('abort', listener, {once: true})
    removeAbortListener = () => signal.removeEventListener('abort', listener)
  })
  try {
    iterators.forEach((_, index) => pull(index))
    while (pending.size > 0) {
      const next = await Promise.race([aborted, ...pending.values()])
      if (next === 'aborted') return
      pending.delete(next.index)
      if ('error' in next) throw next.error
      const {index, result} = next
      if (result.done) {
        finished[index] = true
        continue
      }
      if (result.value.finished) {
        finished[index] = true
        onFinished(result.value)
      } else {
        pull(index)
      }
      yield {promptIndex: index, output: result.value}
    }
  } finally {
    removeAbortListener()
    handles.forEach((handle, index) => {
      if (finished[index]) return
      handle.abort()
      // Not awaited: an engine that never settles the pending next() must not hang the reply.
      void iterators[index]!.return?.().catch(() => {})
    })
  }
}

/**
 * Runs every prompt to its end and returns the final output of each, in prompt order. Throws the abort
 * reason when the request was aborted, and an UnavailableError when the engine aborted a prompt itself.
 */
export async function collectFinalOutputs(
  handles: readonly RequestHandleLike[],
  signal: AbortSignal,
  onFinished: (output: RequestOutput) => void,
): Promise<RequestOutput[]> {
  const finals: (RequestOutput | null)[] = handles.map(() => null)
  for await (const {promptIndex, output} of mergeOutputs(handles, signal, onFinished)) {
    if (output.finished) finals[promptIndex] = output
  }
  signal.throwIfAborted()
  return finals.map((final) => {
    if (final === null || final.outputs.some((output) => output.finishReason === 'abort'))
      throw new UnavailableError('the request was aborted by the engine before it finished', {code: 'request_aborted'})
    return final
  })
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

/** Prompt tokens count once per prompt; completion tokens count every returned sequence. */
export function usageOf(promptLengths: readonly number[], completionLengths: readonly number[]): Usage {
  const promptTokens = promptLengths.reduce((sum, length) => sum + length, 0)
  const completionTokens = completionLengths.reduce((sum, length) => sum + length, 0)
  return {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens}
}
