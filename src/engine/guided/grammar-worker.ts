// The grammar worker thread: owns xgrammar (compiled grammars and one matcher per guided sequence), so grammar
// compilation and per-step masks never run on the engine's event loop.
import {performance} from 'node:perf_hooks'
import {parentPort, workerData} from 'node:worker_threads'
import {InvalidRequestError} from '../errors.js'
import {GATE_QUEUED, GATE_STARTED} from './compile-in-worker.js'
import {GrammarCompiler, type VocabInfo} from './grammar-compiler.js'
import {type GrammarRef, keyOfRef} from './grammar-ref.js'
import type {GuidedSpec} from './guided-spec.js'
import {Utf8Bound, type Utf8Run} from './utf8-bound.js'
import {WhitespaceBound, type WhitespaceRun} from './whitespace-bound.js'
import type {XgGrammarMatcher} from './xgrammar.js'

/**
 * One guided sequence's step: the tokens it took since the last step, then its next mask, written to slot `slot`.
 * `grammar` (a ref: its text is shared memory, so it costs the same whatever the grammar's size) is read only to start
 * the sequence's matcher.
 */
export interface StepItem {
  matcherId: number
  grammar: GrammarRef
  accept: number[]
  slot: number
}

/**
 * A step writes each mask into `masks` (shared with the engine, so nothing is copied or transferred back), `words`
 * 32-bit words per slot.
 */
export type WorkerRequest =
  | {id: number; op: 'compile'; grammar: GrammarRef; param: string; gate: Int32Array}
  | {id: number; op: 'step'; items: StepItem[]; masks: SharedArrayBuffer; words: number; budget: MaskBudget; progress: Int32Array}
  | {id: number; op: 'forget'; matcherIds: number[]}

/**
 * How long one sequence's grammar may hold its worker: one step's tokens and mask, and all its steps together. Some
 * grammars (ambiguous ones, as `(a*)*(a*)*...`) make each mask dearer than the last, and every request in the
 * engine's step waits for the slowest mask.
 */
export interface MaskBudget {
  stepMs: number
  totalMs: number
  /** A step not answered after this long stops its worker (the only way to stop WebAssembly): see GrammarService. */
  stopMs: number
}

/**
 * `left`: slots of sequences that took a token their grammar rejects (cannot happen when their masks were applied).
 * `overBudget`: slots of sequences whose grammar went over its MaskBudget (their masks are written all the same).
 * `busyMs`: time the worker spent on the request (for the benchmark: the rest of a round trip is message passing).
 * `started`: sent (before the reply) when the worker takes a compile; `cancelled`: the engine cancelled it while queued.
 */
export type WorkerReply = {
  id: number
  error?: {message: string; invalidParam: string | null; code?: string | null; corrupt?: boolean}
  left?: number[]
  overBudget?: number[]
  busyMs?: number
  started?: boolean
  cancelled?: boolean
}

/** Whitespace characters allowed between two JSON tokens: enough for pretty-printed JSON nested a few levels deep. */
const MAX_WHITESPACE_RUN = 16

/** After a WebAssembly trap or a stack overflow, whether the instance is now corrupt (the engine then replaces this worker). */
async function leftCorrupt(error: unknown): Promise<boolean> {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  const trapped = cause instanceof RangeError || (cause instanceof Error && cause.name === 'RuntimeError')
  return trapped && !(await compiler.stillCompiles())
}

const vocabInfo = workerData as VocabInfo
const compiler = new GrammarCompiler(vocabInfo)
/** Each sequence's matcher, whitespace run, place in a UTF-8 character and the worker time its steps took so far. */
interface MatcherEntry {
  matcher: XgGrammarMatcher
  whitespace: WhitespaceRun | null
  utf8: Utf8Run
  busyMs: number
}
const matchers = new Map<number, MatcherEntry>()
// Built as the worker starts (with the tokenizer tables its first compile needs), not in some sequence's first step.
const whitespaceBound = compiler.decodedVocab().then((texts) => new WhitespaceBound(texts, vocabInfo.vocab.length, MAX_WHITESPACE_RUN))
whitespaceBound.catch(() => {}) // a failure here surfaces in the first step that needs it
const utf8Bound = new Utf8Bound(vocabInfo.vocab, vocabInfo.vocabType)

async function newMatcher(key: string): Promise<MatcherEntry> {
  const matcher = await compiler.newMatcher(key)
  const spec = JSON.parse(key) as Partial<GuidedSpec> & {anyWhitespace?: boolean}
  const whitespace = spec.kind === 'json' && spec.anyWhitespace ? (await whitespaceBound).start() : null
  return {matcher, whitespace, utf8: utf8Bound.start(), busyMs: 0}
}

/**
 * `progress[0]`: the matcher whose tokens and mask are being computed (-1 otherwise, a compile on demand included);
 * `progress[1]` counts those computations. The engine reads both while the worker is busy (GrammarService).
 */
async function step(items: StepItem[], masks: SharedArrayBuffer, words: number, budget: MaskBudget, progress: Int32Array): Promise<{left: number[]; overBudget: number[]}> {
  const left: number[] = []
  const overBudget: number[] = []
  for (const {matcherId, grammar, accept, slot} of items) {
    let entry = matchers.get(matcherId)
    if (!entry) matchers.set(matcherId, (entry = await newMatcher(keyOfRef(grammar))))
    const {matcher, whitespace, utf8} = entry
    Atomics.add(progress, 1, 1)
    Atomics.store(progress, 0, matcherId)
    const started = performance.now()
    const accepted = accept.every((tokenId) => (whitespace?.accept(tokenId), utf8.accept(tokenId), matcher.acceptToken(tokenId)))
    if (!accepted) {
      Atomics.store(progress, 0, -1)
      left.push(slot)
      continue
    }
    const mask = new Int32Array(masks, slot * words * 4, words)
    mask.set(await matcher.getNextTokenBitmask())
    whitespace?.applyTo(mask)
    utf8.applyTo(mask)
    Atomics.store(progress, 0, -1)
    const stepMs = performance.now() - started
    entry.busyMs += stepMs
    if (stepMs > budget.stepMs || entry.busyMs > budget.totalMs) overBudget.push(slot)
  }
  return {left, overBudget}
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.op) {
    case 'compile':
      // Taken from its gate (compile-in-worker.ts) only if the engine has not given up on it while it waited.
      if (Atomics.compareExchange(request.gate, 0, GATE_QUEUED, GATE_STARTED) !== GATE_QUEUED) return {id: request.id, cancelled: true}
      parentPort!.postMessage({id: request.id, started: true} satisfies WorkerReply)
      await compiler.compileKey(keyOfRef(request.grammar), request.param)
      return {id: request.id}
    case 'step':
      return {id: request.id, ...(await step(request.items, request.masks, request.words, request.budget, request.progress))}
    case 'forget':
      for (const matcherId of request.matcherIds) {
        matchers.get(matcherId)?.matcher.dispose()
        matchers.delete(matcherId)
      }
      return {id: request.id}
  }
}

// Requests are handled one at a time, in order: a step never overtakes the compile or forget sent before it.
let queue: Promise<unknown> = Promise.resolve()
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    const started = performance.now()
    try {
      const reply = await handle(request)
      parentPort!.postMessage({...reply, busyMs: performance.now() - started} satisfies WorkerReply)
    } catch (error) {
      // A spec the user got wrong comes back as an InvalidRequestError on its field; anything else is internal.
      const invalidParam = error instanceof InvalidRequestError ? (error.param ?? '') : null
      const code = error instanceof InvalidRequestError ? error.code : null
      parentPort!.postMessage({id: request.id, error: {message: (error as Error).message, invalidParam, code, corrupt: await leftCorrupt(error)}} satisfies WorkerReply)
    }
  })
})
