// The CUDA kernels run on the CPU: each native/cuda/emulation/*.cpp program includes cuda_emulation.h (a fiber per
// CUDA thread) and a kernel file's .cuh, runs the very kernels and holds them to float64 or exact references, so their
// logic is checked on every machine, GPU or not. The programs build and run concurrently, with the compiler the addon
// was built with (CXX, else c++) and a fixed seed; each must pass every case it prints and exit 0.
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
  decode_attention: {cases: 16, paths: ['8 heads/block', '4 heads/block', '2 heads/block', '1 heads/block', 'x 64-token', 'x 512-token', ' 1 x 256-token', ' 1 x 512-token', '32 lanes/token', '2 lanes/token', 'graph band: 4 heads/block, 8 lanes/token, 4 x 64-token']},
  elementwise: {cases: 36},
  head_norm: {cases: 6},
  layernorm_family: {cases: 24},
  moe: {cases: 13},
  pos_encoding: {cases: 10},
  prefill_attention: {cases: 15},
  sparsemixer: {cases: 3},
}

const root = repoRoot()
const emulation = join(root, 'native/cuda/emulation')
const programs = readdirSync(emulation).filter((name) => name.endsWith('.cpp')).map((name) => name.slice(0, -4)).sort()
const dir = mkdtempSync(join(tmpdir(), 'pagedllm-cuda-emulation-'))
/** A program's outcome: its compiler's error, or its exit status and output. */
type Outcome = {built: false; stderr: string} | {built: true; status: number; output: string}

/** Builds one program and runs it with seed 1 (-O1: half the compile time of -O2 for the same run time). */
async function buildAndRun(program: string): Promise<Outcome> {
  const binary = join(dir, program)
  try {
    await run(process.env.CXX ?? 'c++', ['-std=c++17', '-O1', '-Wno-unknown-pragmas', '-I', join(root, 'native/include'), '-o', binary, join(emulation, `${program}.cpp`)])
  } catch (error) {
    return {built: false, stderr: String((error as {stderr?: string}).stderr ?? error)}
  }
  try {
    const {stdout} = await run(binary, ['1'])
    return {built: true, status: 0, output: stdout}
  } catch (error) {
    const failed = error as {code?: number; stdout?: string; stderr?: string}
    return {built: true, status: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? error}`}
  }
}

// Every program builds and runs as soon as the test file starts, all at once: the cases below only wait for theirs.
const outcomes = new Map<string, Promise<Outcome>>()
before(() => {
  for (const program of programs) outcomes.set(program, buildAndRun(program))
})
after(() => rmSync(dir, {recursive: true, force: true}))

it('every emulation program states what it must show', () => {
  assert.deepEqual(programs, Object.keys(expected).sort())
})

for (const program of programs) {
  it(`${program}: the kernels, run on the CPU, pass every case`, async () => {
    const outcome = await outcomes.get(program)!
    if (!outcome.built) assert.fail(`compiling ${program}.cpp failed: ${outcome.stderr}`)
    assert.equal(outcome.status, 0, outcome.output)
    const cases = outcome.output.split('\n').filter((line) => /^(ok|FAIL)/.test(line))
    assert.ok(cases.length >= expected[program].cases && cases.every((line) => line.startsWith('ok')), outcome.output)
    for (const path of expected[program].paths ?? []) assert.ok(outcome.output.includes(path), `no case ran ${path}:\n${outcome.output}`)
  })
}
