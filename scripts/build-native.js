#!/usr/bin/env node
// Builds the native addon with cmake-js (offline: native/package.json pins napi_versions so no headers are fetched).
// Runs as the package's `install` script, so a global install builds the addon too. CUDA is built when nvcc and an
// NVIDIA driver are present, or when PAGEDLLM_CUDA=ON; PAGEDLLM_CUDA=OFF forces CPU-only.
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {chooseCudaBuild, findNvcc, findNvidiaDriver} from './cuda-build-choice.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// Resolved as Node resolves it: npm may place cmake-js in this package's node_modules or in one above it.
let cmakeJs
try {
  cmakeJs = join(dirname(createRequire(join(root, 'package.json')).resolve('cmake-js/package.json')), 'bin', 'cmake-js')
} catch {
  console.error('cmake-js is missing: run `npm install` first.')
  process.exit(1)
}
const nvcc = findNvcc()
let choice
try {
  choice = chooseCudaBuild({setting: process.env.PAGEDLLM_CUDA, nvcc, driver: findNvidiaDriver()})
} catch (error) {
  console.error(`pagedllm native build: ${/** @type {Error} */ (error).message}`)
  process.exit(1)
}
console.log(`pagedllm native build: ${choice.cuda ? 'CPU + CUDA' : 'CPU only'}: ${choice.why}`)
const wanted = choice.cuda ? 'ON' : 'OFF'
// cmake-js configures only a new build folder: one configured the other way would keep its old choice.
const cache = join(root, 'native', 'build', 'CMakeCache.txt')
const configured = existsSync(cache) ? /^PAGEDLLM_CUDA:BOOL=(\w+)$/m.exec(readFileSync(cache, 'utf8'))?.[1] : undefined
if (configured !== undefined && configured !== wanted) {
  console.log(`pagedllm native build: native/build was configured with PAGEDLLM_CUDA=${configured}; reconfiguring`)
  rmSync(join(root, 'native', 'build'), {recursive: true, force: true})
}
const args = [cmakeJs, 'build', '-d', join(root, 'native'), '--CDPAGEDLLM_CUDA=' + wanted]
if (choice.cuda && process.env.CUDACXX === undefined && nvcc !== null) process.env.CUDACXX = nvcc
const result = spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root, env: process.env})
if (result.status !== 0) {
  console.error('\nNative build failed. It needs cmake >= 3.18 and a C++17 compiler (g++ or clang++).')
  console.error('On Debian/Ubuntu: apt-get install -y cmake g++')
  process.exit(result.status ?? 1)
}
