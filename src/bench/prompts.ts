// Turns a trace into prompts the engine can run: token ids of the traced length, max_tokens = output length.
import {BenchRandom} from './random.js'
import type {TraceRequest} from './trace.js'

export interface BenchRequest {
  requestId: string
  promptTokenIds: number[]
  /** max_tokens; generation runs to it because ignore_eos is set (vLLM's benchmark convention). */
  outputLen: number
  /** Seconds after the start of the run. */
  arrivalOffset: number
}

/**
 * Seeded random token ids from the model's vocab (special tokens left out, so a prompt never holds an
 * EOS or a chat marker) unless the trace carries the dataset's own tokens. Random prompts share no
 * prefix, so prefix caching neither helps nor hurts them.
 */
export function buildBenchRequests(
  trace: readonly TraceRequest[],
  arrivalOffsets: readonly number[],
  vocab: {vocabSize: number; specialTokenIds: ReadonlySet<number>},
  seed: number,
): BenchRequest[] {
  const random = new BenchRandom(seed ^ 0x5bd1e995)
  const drawToken = () => {
    for (;;) {
      const id = random.int(vocab.vocabSize)
      if (!vocab.specialTokenIds.has(id)) return id
    }
  }
  return trace.map((request, index) => ({
    requestId: `bench-${index}`,
    promptTokenIds: request.promptTokenIds ?? Array.from({length: request.promptLen}, drawToken),
    outputLen: request.outputLen,
    arrivalOffset: arrivalOffsets[index],
  }))
}
