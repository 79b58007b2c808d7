// Starts a worker thread on a sibling module, from dist/ (.js) or from the TypeScript sources under tsx (tests, scripts).
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
