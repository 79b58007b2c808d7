// The grammar worker thread: owns xgrammar (compiled grammars and one matcher per guided sequence), so grammar
// compilation and per-step masks never run on the engine's event loop.
import {parentPort, workerData} from 'node:worker_threads'
import {InvalidRequestError} from '../errors.js'
import {GrammarCompiler, type VocabInfo} from './grammar-compiler.js'
import type {GuidedSpec} from './guided-spec.js'
import type {XgGrammarMatcher} from './xgrammar.js'

/** One guided sequence's step: the tokens it took since the last step, then its next mask. */
export interface StepItem {
  matcherId: number
  key: string
  accept: number[]
}

export type WorkerRequest =
  | {id: number; op: 'compile'; spec: GuidedSpec}
  | {id: number; op: 'step'; items: StepItem[]}
  | {id: number; op: 'forget'; matcherIds: number[]}

/** A null mask: the sequence took a token its grammar rejects (cannot happen when its masks were applied). */
export type WorkerReply = {id: number; error?: {message: string; invalidParam: string | null; corrupt?: boolean}; masks?: (Int32Array | null)[]}

/** After a WebAssembly trap or a stack overflow, whether the instance is now corrupt (the engine then replaces this worker). */
async function leftCorrupt(error: unknown): Promise<boolean> {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  const trapped = cause instanceof RangeError || (cause instanceof Error && cause.name === 'RuntimeError')
  return trapped && !(await compiler.stillCompiles())
}

const compiler = new GrammarCompiler(workerData as VocabInfo)
const matchers = new Map<number, XgGrammarMatcher>()

async function step(items: StepItem[]): Promise<(Int32Array | null)[]> {
  const masks: (Int32Array | null)[] = []
  for (const {matcherId, key, accept} of items) {
    let matcher = matchers.get(matcherId)
    if (!matcher) matchers.set(matcherId, (matcher = await compiler.newMatcher(key)))
    const accepted = accept.every((tokenId) => matcher.acceptToken(tokenId))
    masks.push(accepted ? await matcher.getNextTokenBitmask() : null)
  }
  return masks
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.op) {
    case 'compile':
      await compiler.compile(request.spec)
      return {id: request.id}
    case 'step':
      return {id: request.id, masks: await step(request.items)}
    case 'forget':
      for (const matcherId of request.matcherIds) {
        matchers.get(matcherId)?.dispose()
        matchers.delete(matcherId)
      }
      return {id: request.id}
  }
}

// Requests are handled one at a time, in order: a step never overtakes the compile or forget sent before it.
let queue: Promise<unknown> = Promise.resolve()
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    try {
      const reply = await handle(request)
      const buffers = (reply.masks ?? []).flatMap((mask) => (mask ? [mask.buffer as ArrayBuffer] : []))
      parentPort!.postMessage(reply, buffers)
    } catch (error) {
      // A spec the user got wrong comes back as an InvalidRequestError on its field; anything else is internal.
      const invalidParam = error instanceof InvalidRequestError ? (error.param ?? '') : null
      parentPort!.postMessage({id: request.id, error: {message: (error as Error).message, invalidParam, corrupt: await leftCorrupt(error)}} satisfies WorkerReply)
    }
  })
})
