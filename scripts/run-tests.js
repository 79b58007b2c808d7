#!/usr/bin/env node
// Runs the test suite with node:test through tsx, after type-checking src/, test/ and scripts/ (tsconfig.check.json).
// With test files named on the command line it runs only those and leaves the type-check to the full run.
//
// Test files run two at a time (a node process each: start-up, tsx and the engine's imports are single-threaded, so
// two keep both cores of a CI machine busy). A file whose assertions race the wall clock (a timeout, deadline, time
// budget, an interrupt at a moment, or a sleep that work must be done by) has the line `// runs alone: <why>` near its
// top: such files run one after another with nothing beside them, so another file's load cannot move their outcome.
import {spawnSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const only = process.argv.slice(2)
if (only.length === 0) {
  // tsx strips types without checking them, so a type error in a test would otherwise never be seen.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const typeCheck = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.check.json')], {stdio: 'inherit', cwd: root})
  if (typeCheck.status !== 0) {
    console.error('type-check failed (tsc -p tsconfig.check.json): fix the errors above before the tests run')
    process.exit(typeCheck.status ?? 1)
  }
  console.log('type-check passed (src/, test/, scripts/)')
}
const files = (only.length > 0 ? only : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f)))
/** @param {string} file */
const runsAlone = (file) => /^\/\/ runs alone: \S/m.test(readFileSync(resolve(root, file), 'utf8'))
const alone = files.filter(runsAlone)
const together = files.filter((file) => !runsAlone(file))

/**
 * One node:test run of these files, `concurrency` files at a time; true when every test passed.
 * @param {string[]} batch
 * @param {number} concurrency
 */
function runFiles(batch, concurrency) {
  if (batch.length === 0) return true
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...batch]
  return spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root}).status === 0
}

const passedTogether = runFiles(together, Math.min(2, availableParallelism()))
const passedAlone = runFiles(alone, 1)
process.exit(passedTogether && passedAlone ? 0 : 1)
