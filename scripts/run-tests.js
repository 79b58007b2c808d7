#!/usr/bin/env node
// Runs the test suite with node:test through tsx, after type-checking src/, test/ and scripts/ (tsconfig.check.json).
// With test files named on the command line it runs only those and leaves the type-check to the full run.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
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
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]
const result = spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root})
process.exit(result.status ?? 1)
