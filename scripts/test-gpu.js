#!/usr/bin/env node
// npm run test:gpu: every CUDA kernel against float64 references, then the CUDA backend against the CPU backend
// step by step and the engine end to end. Without a CUDA build or a usable device it says why and exits 1.
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {loadCudaAddon, root} from './gpu/cuda-addon.js'

const {tests, device} = loadCudaAddon()
console.log(`CUDA device: ${device}`)

// Fresh inputs on every run (method: a fast kernel must compute the same function on any valid input);
// the seed is printed so a failure can be replayed with PAGEDLLM_GPU_SEED.
const seed = Number(process.env.PAGEDLLM_GPU_SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`seed ${seed}\n\nkernel checks (relative L2 error vs float64 reference; outputs poisoned with NaN first)`)
const checks = JSON.parse(tests.kernelChecks(seed))
let failures = 0
for (const check of checks) {
  const error = check.relError < 0 ? 'non-finite' : check.relError.toExponential(2)
  console.log(`${check.pass ? 'ok  ' : 'FAIL'} ${check.kernel.padEnd(20)} ${check.dtype.padEnd(5)} ${error.padStart(10)} <= ${String(check.bound).padEnd(7)} ${check.case}`)
  if (!check.pass) failures += 1
}
console.log(`${checks.length - failures}/${checks.length} kernel checks passed\n`)

// Backend and engine comparisons import the TypeScript engine, so they run under tsx in a child process.
const engineCheck = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'gpu', 'engine-check.ts'), String(seed)], {
  stdio: 'inherit',
  cwd: root,
})
if (engineCheck.status !== 0) failures += 1
if (failures > 0) {
  console.error(`test:gpu FAILED (${failures} failing part${failures === 1 ? '' : 's'})`)
  process.exit(1)
}
console.log('test:gpu passed')
