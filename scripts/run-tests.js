#!/usr/bin/env node
// Runs the test suite with node:test through tsx, after type-checking src/, test/ and scripts/ (tsconfig.check.json).
// With test files named on the command line it runs only those and leaves the type-check to the full run.
// PAGEDLLM_TEST_BUILT=1 (.ci/run sets it after `npm ci` built dist/) tests the build instead of transpiling the sources:
// test/ is compiled once with its imports of src/ pointing at dist/ (compile-tests.js) and run with plain node, and
// commands run as bin/run.js (test/support/run-command.ts).
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {compileTests, TEST_BUILD_DIR} from './compile-tests.js'

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
const testBuilt = process.env.PAGEDLLM_TEST_BUILT === '1'
if (testBuilt) {
  assertBuildIsCurrent()
  await compileTests()
}
const args = testBuilt ? ['--test', '--test-concurrency=1', ...files.map(compiledPath)] : ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]
const result = spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root})
process.exit(result.status ?? 1)

/**
 * The compiled counterpart of a test file named as test/x.test.ts (or by any path to it).
 * @param {string} file
 */
function compiledPath(file) {
  const inTest = relative(join(root, 'test'), resolve(root, file))
  return join(TEST_BUILD_DIR, inTest.replace(/\.ts$/, '.js'))
}

/**
 * `npm run build:ts` writes oclif.manifest.json after compiling every source, so the build is current when the manifest
 * is newer than every file under src/ (~250 stats, a few ms). A stale one stops the run by name rather than being
 * tested in the sources' place.
 */
function assertBuildIsCurrent() {
  /** @param {string} why */
  const fail = (why) => {
    console.error(`PAGEDLLM_TEST_BUILT=1 tests dist/, but ${why}: run npm run build:ts, or unset PAGEDLLM_TEST_BUILT to test the sources`)
    process.exit(1)
  }
  let builtAt = 0
  try {
    builtAt = statSync(join(root, 'oclif.manifest.json')).mtimeMs
  } catch {
    fail('oclif.manifest.json is missing')
  }
  for (const entry of readdirSync(join(root, 'src'), {recursive: true, withFileTypes: true})) {
    const path = join(entry.parentPath, entry.name)
    if (entry.isFile() && statSync(path).mtimeMs > builtAt) fail(`${path} changed after the last build`)
  }
}
