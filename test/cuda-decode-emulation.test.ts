// The CUDA decode attention kernels (native/cuda/decode_attention.cuh) run on the CPU under
// native/cuda/emulation/decode_attention.cpp, a fiber per CUDA thread, against float64: their logic (block tables,
// GQA head groups, lanes per token, partitions and the reduce, windows, soft-cap, ALiBi, row lists) is checked on every
// machine, GPU or not. The C++ compiler is the one the addon was built with (CXX, else c++).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {it} from 'node:test'
import {fileURLToPath} from 'node:url'

/** The repository's root: the first folder above this file with a package.json (tests also run compiled, a level deeper). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return dir
}

it('the decode attention kernels, run on the CPU, match float64 in every case and take every launch path', () => {
  const root = repoRoot()
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-decode-emulation-'))
  try {
    const binary = join(dir, 'decode_attention')
    const source = join(root, 'native/cuda/emulation/decode_attention.cpp')
    const build = spawnSync(process.env.CXX ?? 'c++', ['-std=c++17', '-O2', '-Wno-unknown-pragmas', '-I', join(root, 'native/include'), '-o', binary, source], {encoding: 'utf8'})
    assert.equal(build.status, 0, `compiling the emulation failed: ${build.error ?? ''}${build.stderr}`)
    const run = spawnSync(binary, ['1'], {encoding: 'utf8'})
    assert.equal(run.status, 0, run.stdout + run.stderr)
    const cases = run.stdout.split('\n').filter((line) => /^(ok|FAIL)/.test(line))
    assert.ok(cases.length >= 14 && cases.every((line) => line.startsWith('ok')), run.stdout)
    // The plans the cases were built to reach: each head grouping, cut and long partitions, one partition.
    for (const path of ['8 heads/block', '4 heads/block', '2 heads/block', '1 heads/block', 'x 64-token', 'x 512-token', ' 1 x 256-token', ' 1 x 512-token', '32 lanes/token', '2 lanes/token'])
      assert.ok(run.stdout.includes(path), `no case ran ${path}:\n${run.stdout}`)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
