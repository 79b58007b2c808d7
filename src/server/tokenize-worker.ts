// Worker thread entry: loads the model's tokenizer once, then runs the tokenize jobs TokenizerWorkers posts, off the server's event loop.
import {parentPort, workerData} from 'node:worker_threads'
import {Tokenizer} from '../engine/model/tokenizer.js'
import {runTokenizeJob, serializeJobError, type TokenizeJob} from './prompt-tokenizer.js'

const {modelDir, maxModelLen} = workerData as {modelDir: string; maxModelLen: number}
const tokenizer = Tokenizer.load(modelDir)

parentPort!.on('message', ({id, job}: {id: number; job: TokenizeJob}) => {
  try {
    const ids = Int32Array.from(runTokenizeJob(tokenizer, job, maxModelLen))
    parentPort!.postMessage({id, ids}, [ids.buffer])
  } catch (error) {
    parentPort!.postMessage({id, error: serializeJobError(error)})
  }
})
