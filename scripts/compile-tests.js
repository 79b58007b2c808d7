#!/usr/bin/env node
// Compiles test/ once with esbuild for PAGEDLLM_TEST_BUILT=1 runs (run-tests.js), so that each of the ~200 test
// processes starts on plain JavaScript instead of loading tsx and transpiling its file (~0.8 CPU s a file less).
// The output mirrors test/ one level under the repository root, so the tests' relative paths (../.cache,
// new URL('..', import.meta.url), fixtures/ beside the file) point where they do from test/. Imports of src/ are
// rewritten to dist/, which `npm run build:ts` compiled from the same sources; fixtures/ is a link to test/fixtures.
import {build} from 'esbuild'
import {mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const TEST_BUILD_DIR = join(root, '.test-build-dist')

/** Compiles every .ts file under test/ (fixtures aside) into TEST_BUILD_DIR, replacing what an earlier run left. */
export async function compileTests() {
  const testDir = join(root, 'test')
  const sources = readdirSync(testDir, {recursive: true, withFileTypes: true})
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !relative(testDir, entry.parentPath).startsWith('fixtures'))
    .map((entry) => join(entry.parentPath, entry.name))
  rmSync(TEST_BUILD_DIR, {recursive: true, force: true})
  const result = await build({entryPoints: sources, outbase: testDir, outdir: TEST_BUILD_DIR, format: 'esm', platform: 'node', target: 'node20', write: false, logLevel: 'error'})
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), {recursive: true})
    writeFileSync(file.path, importsOfSourcesToBuild(file.text, file.path))
  }
  symlinkSync(join('..', 'test', 'fixtures'), join(TEST_BUILD_DIR, 'fixtures'), 'dir')
}

/**
 * Static and dynamic imports of src/ become imports of dist/ (the build of those sources). Other strings that name a
 * src/ path, such as a .ts module handed to a child process that runs it through tsx, are left as written.
 * @param {string} code
 * @param {string} outputPath
 */
function importsOfSourcesToBuild(code, outputPath) {
  const sources = join(root, 'src') + sep
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)"(\.[^"]*)"/g, (whole, keyword, specifier) => {
    const target = resolve(dirname(outputPath), specifier)
    if (!target.startsWith(sources)) return whole
    const built = relative(dirname(outputPath), join(root, 'dist', target.slice(sources.length))).split(sep).join('/')
    return `${keyword}"${built}"`
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await compileTests()
