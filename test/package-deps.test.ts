// The published package's runtime needs: every package src/ imports at run time is a dependency, not a devDependency.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {builtinModules} from 'node:module'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  )
}

/** Package names of value imports (`import type` is erased by tsc), dynamic imports included. */
function runtimeImports(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/^\s*import\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm),
    ...source.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((match) => match[1])
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]))
}

describe('package manifest', () => {
  it('lists every package imported at run time under dependencies', () => {
    const missing = new Set<string>()
    for (const file of [...sourceFiles(join(ROOT, 'src')), join(ROOT, 'bin', 'run.js'), join(ROOT, 'scripts', 'build-native.js')])
      for (const name of runtimeImports(readFileSync(file, 'utf8'))) if (!manifest.dependencies[name]) missing.add(`${name} (${file.slice(ROOT.length)})`)
    assert.deepEqual([...missing], [])
  })

  it('builds the native addon at install time with cmake-js from dependencies, and packs the files that needs', () => {
    assert.equal(manifest.scripts.install, 'node scripts/build-native.js')
    assert.ok(manifest.dependencies['cmake-js'] && manifest.dependencies['node-addon-api'])
    for (const path of ['bin', 'dist', 'native/CMakeLists.txt', 'native/src', 'native/cpu', 'native/cuda', 'native/include', 'scripts/build-native.js', 'datasets'])
      assert.ok(manifest.files.includes(path), `files lacks ${path}`)
    assert.ok(!manifest.files.includes('native'), 'native/ as a whole would pack native/build')
  })
})
