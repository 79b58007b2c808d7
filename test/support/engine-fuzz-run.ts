// Runs a fuzz workload on one engine (arrivals between steps, aborts at chosen points) and checks what must hold after
// any run: every request settled, the loop stopped, every KV block back, the pools' bookkeeping intact.
import assert from 'node:assert/strict'
import {makeEngineConfig, type EngineConfig} from '../../src/engine/config.js'
import {PagedLLMError} from '../../src/engine/errors.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import type {BlockMovesArrays, ForwardBatchArrays} from '../../src/engine/native.js'
import type {RequestHandle, RequestOutput} from '../../src/engine/request-output.js'
import type {FuzzRequest} from './engine-fuzz-workload.js'

/** What is compared between runs: everything a caller sees of the request's result but its timings and id. */
export function comparable(output: RequestOutput) {
  return {
    promptLogprobs: output.promptLogprobs,
    outputs: output.outputs.map((o) => ({tokens: o.tokenIds, text: o.text, logprobs: o.logprobs, cumulative: o.cumulativeLogprob, finish: o.finishReason, stop: o.stopReason})),
  }
}
export type Comparable = ReturnType<typeof comparable>

export type Outcome = {kind: 'done'; output: Comparable} | {kind: 'rejected'; error: unknown} | {kind: 'failed'; error: unknown}

export interface FuzzRun {
  outcomes: Outcome[]
  numPreemptions: number
  numStepsQueuedAhead: number
  numSteps: number
}

/** Batch-invariant CPU forward: a request's tokens and logprobs are the same in any batch, so runs compare exactly. */
export function fuzzEngineConfig(modelDir: string, config: Partial<EngineConfig>): EngineConfig {
  return makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1, weightDtype: 'f32', batchInvariant: true, ...config})
}

/**
 * The first native step `fails` picks gets slots outside the KV pool (the backend throws on its worker, after its
 * block moves), or with `beforeMoves` a swap-in pair outside the swap pool (it throws before moving any block, as
 * the CUDA backend does on any bad batch).
 */
export function failNativeStepWhen(engine: LLMEngine, fails: StepFailure, beforeMoves = false): void {
  const native = engine.native
  let failed = false
  const corrupt = (moves: BlockMovesArrays, batch: ForwardBatchArrays): [BlockMovesArrays, ForwardBatchArrays] => {
    if (failed || !fails(batch, moves)) return [moves, batch]
    failed = true
    if (beforeMoves) return [{...moves, swapIn: Int32Array.from([...(moves.swapIn ?? []), 1 << 30, 0])}, batch]
    return [moves, {...batch, slotMapping: batch.slotMapping.map(() => 1 << 30)}]
  }
  const step = native.step.bind(native)
  const stepAndSample = native.stepAndSample.bind(native)
  native.step = ((moves, batch) => step(...corrupt(moves, batch))) as typeof native.step
  native.stepAndSample = (moves, batch, sampling) => stepAndSample(...corrupt(moves, batch), sampling)
}
export type StepFailure = (batch: ForwardBatchArrays, moves: BlockMovesArrays) => boolean
/** Which native step fails (its 1-based number, or the first the predicate picks), and how. */
export interface NativeStepFailure {
  when: number | StepFailure
  beforeMoves: boolean
}

/** Fails the run instead of letting a wedged engine hang the suite. */
async function withinMs<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** failNativeCall: the backend fails that native step, as a hostile model or a device error would. */
export async function runWorkload(config: EngineConfig, requests: readonly FuzzRequest[], failNativeCall: NativeStepFailure | null = null): Promise<FuzzRun> {
  const engine = await LLMEngine.create(config)
  try {
    let calls = 0
    if (failNativeCall !== null) {
      const {when, beforeMoves} = failNativeCall
      failNativeStepWhen(engine, typeof when === 'number' ? () => ++calls === when : when, beforeMoves)
    }
    for (const request of requests) await engine.prepareRequest(request.params)
    const outcomes: Outcome[] = new Array(requests.length)
    const added = new Set<number>()
    const settling: Promise<void>[] = []
    const abortAtStep = new Map<RequestHandle, number>()
    let steps = 0

    const follow = async (index: number, handle: RequestHandle) => {
      const {abort} = requests[index]!
      try {
        if (abort.kind === 'afterOutputs') {
          let seen = 0
          for await (const _ of handle) if (++seen === abort.outputs) handle.abort()
        }
        const output = await handle.result()
        if (abort.kind === 'afterFinish') handle.abort()
        outcomes[index] = {kind: 'done', output: comparable(output)}
      } catch (error) {
        outcomes[index] = {kind: 'failed', error}
      }
    }
    const add = (index: number) => {
      added.add(index)
      const request = requests[index]!
      let handle: RequestHandle
      try {
        handle = engine.addRequest({prompt: request.prompt, params: request.params})
      } catch (error) {
        outcomes[index] = {kind: 'rejected', error}
        return
      }
      settling.push(follow(index, handle))
      if (request.abort.kind === 'before') handle.abort()
      if (request.abort.kind === 'atStep') abortAtStep.set(handle, steps + request.abort.step)
    }
    // Between steps, as the server adds requests and aborts them.
    engine.onStep(() => {
      steps++
      requests.forEach((request, index) => {
        if (request.arriveAfterStep === steps && !added.has(index)) add(index)
      })
      for (const [handle, step] of abortAtStep) if (step === steps) handle.abort()
    })

    const run = async () => {
      requests.forEach((request, index) => {
        if (request.arriveAfterStep === 0) add(index)
      })
      while (true) {
        const count = settling.length
        await Promise.all(settling)
        if (settling.length !== count) continue
        // The engine went idle before a late arrival's step: it arrives now.
        const late = requests.map((request, index) => ({request, index})).filter(({index}) => !added.has(index))
        if (late.length === 0) break
        const first = Math.min(...late.map(({request}) => request.arriveAfterStep))
        for (const {request, index} of late) if (request.arriveAfterStep === first) add(index)
      }
      // The loop winds down (a step queued ahead still runs) and stops.
      await (engine as unknown as {loop: Promise<void> | null}).loop
    }
    await withinMs(60_000, 'the workload', run())

    assert.equal((engine as unknown as {loop: Promise<void> | null}).loop, null, 'the engine loop stopped')
    engine.checkKvInvariants()
    const stats = engine.stats()
    assert.equal(stats.kv.usedBlocks, 0, 'every KV block is free or cached at the end')
    assert.equal(stats.numRunning + stats.numWaiting + stats.numSwapped, 0, 'no request is left in the queues')
    assert.equal(stats.swapBlocks.used, 0, 'every swap block is free at the end')
    return {outcomes, numPreemptions: stats.numPreemptions, numStepsQueuedAhead: stats.numStepsQueuedAhead, numSteps: stats.numSteps}
  } finally {
    await engine.shutdown()
  }
}

/** A refusal at addRequest is fine when it is a client error naming a limit of this engine (a tight pool, --max-num-seqs). */
function assertClientError(error: unknown, what: string): void {
  assert.ok(error instanceof PagedLLMError && error.httpStatus >= 400 && error.httpStatus < 500, `${what}: ${String(error)}`)
}

/**
 * Checks a stressed run against the reference run of the same requests. Returns how many requests were refused at
 * admission, cut by an abort, and failed by a backend failure (allowed only when one was injected).
 */
export function compareRuns(requests: readonly FuzzRequest[], reference: FuzzRun, stressed: FuzzRun, backendFailed = false): {rejected: number; aborted: number; failed: number} {
  let rejected = 0
  let aborted = 0
  let failed = 0
  requests.forEach((request, i) => {
    const expected = reference.outcomes[i]!
    const got = stressed.outcomes[i]!
    assert.equal(expected.kind, 'done', `reference request ${i}: ${expected.kind === 'done' ? '' : String(expected.error)}`)
    if (expected.kind !== 'done') return
    if (got.kind === 'rejected') {
      assertClientError(got.error, `request ${i} refused`)
      rejected++
      return
    }
    // A failed backend step fails the requests in it (and in the step queued behind it); the others must be untouched.
    if (got.kind === 'failed' && backendFailed) {
      failed++
      return
    }
    assert.equal(got.kind, 'done', `request ${i} failed: ${got.kind === 'done' ? '' : String(got.error)}`)
    if (got.kind !== 'done') return
    const wasAborted = got.output.outputs.some((o) => o.finish === 'abort')
    if (!wasAborted) {
      assert.deepEqual(got.output, expected.output, `request ${i} differs from the reference run`)
      return
    }
    assert.notEqual(request.abort.kind, 'none', `request ${i} was aborted though nobody aborted it`)
    aborted++
    const {params} = request
    // One plain sequence: what it made before the abort is the start of what it makes uncut.
    if (params.n === 1 && params.bestOf === 1 && !params.useBeamSearch) {
      const cut = got.output.outputs[0]!
      const full = expected.output.outputs[0]!
      assert.deepEqual(cut.tokens, full.tokens.slice(0, cut.tokens.length), `aborted request ${i}'s tokens are a prefix of the reference's`)
    }
  })
  return {rejected, aborted, failed}
}
