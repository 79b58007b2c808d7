// The CUDA kernels run on the CPU: each native/cuda/emulation/*.cpp program includes cuda_emulation.h (a fiber per
// CUDA thread) and a kernel file's .cuh, runs the very kernels and holds them to float64 or exact references, so their
// logic is checked on every machine, GPU or not. The programs build concurrently with the compiler the addon was built
// with (CXX, else c++); each then runs with a fixed seed and must pass every case it prints.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, before, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const run = promisify(execFile)

/** The repository's root: the first folder above this file with a package.json (tests also run compiled, a level deeper). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return dir
}

/** What each program must show beyond passing: at least `cases` case lines, and every `paths` string in its output. */
const expected: Record<string, {cases: number; paths?: string[]}> = {
  // The plans the decode cases were built to reach: each head grouping, cut and long partitions, one partition.
  decode_attention: {cases: 14, paths: ['8 heads/block', '4 heads/block', '2 heads/block', '1 heads/block', 'x 64-token', 'x 512-token', ' 1 x 256-token', ' 1 x 512-token', '32 lanes/token', '2 lanes/token']},
  head_norm: {cases: 6},
  moe: {cases: 13},
  pos_encoding: {cases: 10},
  sparsemixer: {cases: 3},
}

const root = repoRoot()
const emulation = join(root, 'native/cuda/emulation')
const programs = readdirSync(emulation).filter((name) => name.endsWith('.cpp')).map((name) => name.slice(0, -4)).sort()
const dir = mkdtempSync(join(tmpdir(), 'pagedllm-cuda-emulation-'))
const builds = new Map<string, Promise<{stderr?: string} | null>>()  // a build's error, held so none goes unhandled

before(() => {
  for (const program of programs)
    builds.set(program, run(process.env.CXX ?? 'c++', ['-std=c++17', '-O2', '-Wno-unknown-pragmas', '-I', join(root, 'native/include'), '-o', join(dir, program), join(emulation, `${program}.cpp`)]).then(() => null, (error: {stderr?: string}) => error))
})
after(() => rmSync(dir, {recursive: true, force: true}))

it('every emulation program states what it must show', () => {
  assert.deepEqual(programs, Object.keys(expected).sort())
})

for (const program of programs) {
  it(`${program}: the kernels, run on the CPU, pass every case`, async () => {
    const error = await builds.get(program)!
    if (error) assert.fail(`compiling ${program}.cpp failed: ${error.stderr ?? error}`)
    const {stdout} = await run(join(dir, program), ['1']).catch((error: {stdout?: string; stderr?: string}) =>
      assert.fail(`${program} failed:\n${error.stdout ?? ''}${error.stderr ?? error}`))
    const cases = stdout.split('\n').filter((line) => /^(ok|FAIL)/.test(line))
    assert.ok(cases.length >= expected[program].cases && cases.every((line) => line.startsWith('ok')), stdout)
    for (const path of expected[program].paths ?? []) assert.ok(stdout.includes(path), `no case ran ${path}:\n${stdout}`)
  })
}
