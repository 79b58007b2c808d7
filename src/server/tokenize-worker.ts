// Worker thread entry: loads the model's tokenizer once, then runs the tokenize jobs TokenizerWorkers posts, off the server's event loop.
import {parentPort, workerData} from 'node:worker_threads'
import {badWordTokenSequences} from '../engine/guided/bad-words.js'
import {Tokenizer} from '../engine/model/tokenizer.js'
import {checkBodyJob, runTokenizeJob, serializeJobError, type TokenizeJob} from './prompt-tokenizer.js'
import {jsonText, type PromptField} from './request-body.js'

const {modelDir, maxModelLen} = workerData as {modelDir: string; maxModelLen: number}
const tokenizer = Tokenizer.load(modelDir)

export type WorkerJob = TokenizeJob | {kind: 'body'; body: Uint8Array; field: PromptField} | {kind: 'badWords'; words: readonly string[]}

parentPort!.on('message', ({id, job}: {id: number; job: WorkerJob}) => {
  try {
    if (job.kind === 'body') {
      // The checked text goes back, not the parsed body: the main thread's JSON.parse of it costs 2-3x less than
      // deserializing the parsed objects (10^5 messages: 30 against 60-75 ms).
      const text = jsonText(job.body)
      checkBodyJob(tokenizer, text, job.field, maxModelLen)
      return parentPort!.postMessage({id, value: text})
    }
    if (job.kind === 'badWords') return parentPort!.postMessage({id, value: badWordTokenSequences(tokenizer, job.words)})
    const ids = Int32Array.from(runTokenizeJob(tokenizer, job, maxModelLen))
    parentPort!.postMessage({id, ids}, [ids.buffer])
  } catch (error) {
    parentPort!.postMessage({id, error: serializeJobError(error)})
  }
})
