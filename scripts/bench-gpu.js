#!/usr/bin/env node
// GPU benchmarks: kernel bandwidth against the device-to-device copy bandwidth measured in the same run,
// PagedAttention decode at batch 64 x context 1024 on a 7B shape (MHA and GQA), then engine throughput
// with `pagedllm bench --device cuda` on the ShareGPT and Alpaca traces. Results go to .cache/bench-gpu/.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadCudaAddon, root} from './gpu/cuda-addon.js'

const {tests} = loadCudaAddon()
const outDir = join(root, '.cache', 'bench-gpu')
mkdirSync(outDir, {recursive: true})

const kernels = JSON.parse(tests.kernelBench())
writeFileSync(join(outDir, 'kernels.json'), JSON.stringify(kernels, null, 2))
console.log(`${kernels.device}: device-to-device copy ${kernels.copyGBs.toFixed(0)} GB/s (read + write), the bandwidth ceiling below\n`)
console.log(`${'kernel'.padEnd(62)} ${'ms'.padStart(8)} ${'GB/s'.padStart(7)} ${'of copy'.padStart(8)} ${'TFLOP/s'.padStart(8)}`)
for (const k of kernels.kernels) {
  const tflops = k.flops > 0 ? k.TFLOPs.toFixed(1) : ''
  console.log(`${k.name.padEnd(62)} ${k.ms.toFixed(3).padStart(8)} ${k.GBs.toFixed(0).padStart(7)} ${(100 * k.ofCopy).toFixed(0).padStart(7)}% ${tflops.padStart(8)}`)
}

// Engine throughput on the length traces; needs the compiled CLI (npm run build:ts).
const cli = join(root, 'bin', 'run.js')
if (!existsSync(join(root, 'dist', 'commands'))) {
  console.log('\nengine throughput skipped: dist/ not built (npm run build:ts)')
  process.exit(0)
}
let failed = false
for (const trace of ['sharegpt', 'alpaca']) {
  const json = join(outDir, `engine-${trace}.json`)
  console.log(`\npagedllm bench --device cuda --trace ${trace}`)
  const result = spawnSync(process.execPath, [cli, 'bench', '--device', 'cuda', '--trace', trace, '--num-prompts', '200', '--policies', 'paged,orca-max', '--json', json], {
    stdio: 'inherit',
    cwd: root,
  })
  if (result.status !== 0) failed = true
}
console.log(`\nfull results in ${outDir}`)
process.exit(failed ? 1 : 0)
