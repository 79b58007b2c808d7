// Loaded by run-tests.js after tsx when PAGEDLLM_TEST_BUILT=1 (CI, right after `npm ci` built dist/ from the same
// checkout): the tests' imports of src/*.ts load the compiled dist/*.js instead, so a test process does not transpile
// the engine through tsx (~0.3 CPU s a file) and the worker threads it starts run from dist/ (~0.8 CPU s less each,
// src/engine/module-worker.ts). The test files themselves still run through tsx.
import {readFile} from 'node:fs/promises'
import {register} from 'node:module'
import {isMainThread} from 'node:worker_threads'

const SOURCES = new URL('../src/', import.meta.url).href
const BUILD = new URL('../dist/', import.meta.url).href

// The hooks run in a thread of their own, which imports this file again: only the main thread registers them.
if (isMainThread) register(import.meta.url)

/** @type {import('node:module').ResolveHook} */
export const resolve = async (specifier, context, nextResolve) => {
  // tsc wrote dist/'s relative imports with their extensions: they are the files' URLs as they stand.
  if (context.parentURL?.startsWith(BUILD) && /^\.\.?\//.test(specifier)) return {url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true}
  const resolved = await nextResolve(specifier, context)
  if (!resolved.url.startsWith(SOURCES) || !resolved.url.endsWith('.ts')) return resolved
  return {url: `${BUILD}${resolved.url.slice(SOURCES.length, -'.ts'.length)}.js`, format: 'module', shortCircuit: true}
}

/** @type {import('node:module').LoadHook} */
export const load = async (url, context, nextLoad) => {
  if (!url.startsWith(BUILD)) return nextLoad(url, context)
  return {format: 'module', source: await readFile(new URL(url)), shortCircuit: true}
}
