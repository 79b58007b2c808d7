// Starts a worker thread on a sibling module, from dist/ (.js) or from the TypeScript sources under tsx (tests, scripts), and stops one.
import {createRequire} from 'node:module'
import {extname} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {Worker} from 'node:worker_threads'

/**
 * `callerUrl` is the caller's import.meta.url and `name` the worker module's name without extension, in the same
 * folder. A worker does not inherit tsx's loader, so under the sources it registers it before importing the module.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const runningSources = extname(fileURLToPath(callerUrl)) === '.ts'
  const moduleUrl = new URL(`./${name}${runningSources ? '.ts' : '.js'}`, callerUrl)
  if (!runningSources) return new Worker(moduleUrl, {workerData})
  // Resolved from here, not from the worker's working directory, which need not be this checkout.
  const tsxApi = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm/api')).href
  const source = `import(${JSON.stringify(tsxApi)}).then(({register}) => (register(), import(${JSON.stringify(moduleUrl.href)})))`
  return new Worker(source, {eval: true, workerData})
}

/**
 * Stops a worker. Node does not always keep the process alive while a worker terminates: a script awaiting an engine's
 * shutdown exited with code 13 ("unsettled top-level await") about one run in three. A timer holds the loop until it
 * settles.
 */
export async function terminateWorker(worker: Worker): Promise<void> {
  const keepAlive = setInterval(() => {}, 1000)
  try {
    await worker.terminate()
  } finally {
    clearInterval(keepAlive)
  }
}
