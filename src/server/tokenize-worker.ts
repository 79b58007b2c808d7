// Worker thread entry: loads the model's tokenizer once, then runs the tokenize jobs TokenizerWorkers posts, off the server's event loop.
import {parentPort, workerData} from 'node:worker_threads'
import {badWordTokenSequences} from '../engine/guided/bad-words.js'
import {settleText} from '../engine/guided/spec-handoff.js'
import {Tokenizer} from '../engine/model/tokenizer.js'
import {installCheckpoint, JobCancelled} from './job-checkpoint.js'
import {runTokenizeJob, serializeJobError, type TokenizeJob} from './prompt-tokenizer.js'
import {jsonText} from './request-body.js'
import {checkBodyText, checkContinuation, type CheckOptions, packForTransfer, type RouteName} from './request-checks.js'
import type {ConversationText} from './response-store.js'

const {modelDir, maxModelLen, chatTemplate, cancel} = workerData as {modelDir: string; maxModelLen: number; chatTemplate?: string; cancel: SharedArrayBuffer}
/** The id of the job the pool cancelled (its client left): the running job stops at its next checkpoint if it is that one. */
const cancelled = new Int32Array(cancel)
let runningId = -1
installCheckpoint(() => {
  if (Atomics.load(cancelled, 0) === runningId) throw new JobCancelled()
})
const tokenizer = Tokenizer.load(modelDir, {chatTemplate})
// The pool times a worker's start to the end of this load: what replacing a worker costs (TokenizerWorkers.stopGoneJob).
parentPort!.postMessage({ready: true})

export type WorkerJob =
  | TokenizeJob
  | {kind: 'body'; body: Uint8Array; route: RouteName; options: CheckOptions}
  | {kind: 'badWords'; words: readonly string[]}
  | {kind: 'settleSpec'; text: string}
  | {kind: 'continuation'; bodyText: string; conversation: readonly ConversationText[]}

parentPort!.on('message', ({id, job}: {id: number; job: WorkerJob}) => {
  runningId = id
  try {
    if (job.kind === 'body') {
      const text = jsonText(job.body)
      const checked = checkBodyText(tokenizer, text, job.route, job.options, maxModelLen)
      // A body left for its handler to check comes back as its text or its parsed value, whichever is cheaper to rebuild.
      if ('body' in checked) return parentPort!.postMessage({id, value: rebuiltCheaperFromText(checked.body) ? {bodyText: text} : {checked}})
      const {value, transfer} = packForTransfer(checked)
      return parentPort!.postMessage({id, value: {checked: value}}, transfer)
    }
    if (job.kind === 'continuation') {
      const {value, transfer} = packForTransfer(checkContinuation(job.bodyText, job.conversation))
      return parentPort!.postMessage({id, value}, transfer)
    }
    if (job.kind === 'badWords') return parentPort!.postMessage({id, value: badWordTokenSequences(tokenizer, job.words)})
    if (job.kind === 'settleSpec') return parentPort!.postMessage({id, value: settleText(job.text)})
    const ids = Int32Array.from(runTokenizeJob(tokenizer, job, maxModelLen))
    parentPort!.postMessage({id, ids}, [ids.buffer])
  } catch (error) {
    // A job stopped at a checkpoint says so, whatever a caller between made of the JobCancelled it threw.
    if (Atomics.load(cancelled, 0) === id) return parentPort!.postMessage({id, cancelled: true})
    parentPort!.postMessage({id, error: serializeJobError(error)})
  }
})

/**
 * Whether the event loop rebuilds this body faster by JSON.parse of its text than by deserializing the parsed value: a
 * clone's objects cost 2-3x their text's parse (10^5 messages: 61 against 30 ms; 200,000 logit_bias keys: 40 against
 * 12 ms), its short strings a fifth of it (10^5 stop strings: 6 against 31 ms). So: text where object properties are
 * at least as many as strings.
 */
function rebuiltCheaperFromText(parsed: unknown): boolean {
  const counts = {properties: 0, strings: 0}
  const walk = (value: unknown): void => {
    if (typeof value === 'string') counts.strings++
    else if (Array.isArray(value)) value.forEach(walk)
    else if (typeof value === 'object' && value !== null)
      for (const key in value) {
        counts.properties++
        walk((value as Record<string, unknown>)[key])
      }
  }
  walk(parsed)
  return counts.properties >= counts.strings
}
