// Worker thread entry: loads the model's tokenizer once, then runs the tokenize jobs TokenizerWorkers posts, off the server's event loop.
import {parentPort, workerData} from 'node:worker_threads'
import {badWordTokenSequences} from '../engine/guided/bad-words.js'
import {Tokenizer} from '../engine/model/tokenizer.js'
import {parseBodyJob, runTokenizeJob, serializeJobError, type TokenizeJob} from './prompt-tokenizer.js'
import type {PromptField} from './request-body.js'

const {modelDir, maxModelLen} = workerData as {modelDir: string; maxModelLen: number}
const tokenizer = Tokenizer.load(modelDir)

export type WorkerJob = TokenizeJob | {kind: 'body'; body: Uint8Array; field: PromptField} | {kind: 'badWords'; words: readonly string[]}

parentPort!.on('message', ({id, job}: {id: number; job: WorkerJob}) => {
  try {
    if (job.kind === 'body') return parentPort!.postMessage({id, value: parseBodyJob(tokenizer, job.body, job.field, maxModelLen)})
    if (job.kind === 'badWords') return parentPort!.postMessage({id, value: badWordTokenSequences(tokenizer, job.words)})
    const ids = Int32Array.from(runTokenizeJob(tokenizer, job, maxModelLen))
    parentPort!.postMessage({id, ids}, [ids.buffer])
  } catch (error) {
    parentPort!.postMessage({id, error: serializeJobError(error)})
  }
})
