// Where the CUDA backend looks for libcublas (dlopen at run time), in order, and the --gemm choice; no GPU needed.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cublasCandidates, defaultCublasCandidates, parseGemmMode, pythonSitePackages} from '../src/engine/cublas-search.js'
import {InvalidRequestError} from '../src/engine/errors.js'

// A fake file system: only the listed files exist; directories are the listed dirs.
function fakeFs(files: string[], dirs: string[] = []) {
  const fileSet = new Set(files)
  const dirSet = new Set(dirs)
  return {exists: (path: string) => fileSet.has(path) || dirSet.has(path), isDirectory: (path: string) => dirSet.has(path)}
}

describe('cublasCandidates', () => {
  it('tries PAGEDLLM_CUBLAS, then toolkit dirs, then dlopen sonames, then Python wheels, in that order', () => {
    const candidates = cublasCandidates({
      env: {PAGEDLLM_CUBLAS: '/opt/mine/libcublas.so.13', CUDA_HOME: '/opt/cuda-13'},
      sitePackages: ['/py/site-packages', '/home/u/.local/site-packages'],
      ...fakeFs([
        '/opt/cuda-13/lib64/libcublas.so.13',
        '/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12',
        '/py/site-packages/nvidia/cu13/lib/libcublas.so.13',
        '/home/u/.local/site-packages/nvidia/cublas/lib/libcublas.so.12',
      ]),
    })
    assert.deepEqual(candidates, [
      '/opt/mine/libcublas.so.13',
      '/opt/cuda-13/lib64/libcublas.so.13',
      '/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12',
      'libcublas.so.13',
      'libcublas.so.12',
      '/py/site-packages/nvidia/cu13/lib/libcublas.so.13',
      '/home/u/.local/site-packages/nvidia/cublas/lib/libcublas.so.12',
    ])
  })

  it('PAGEDLLM_CUBLAS may name a directory: the sonames found in it come first', () => {
    const candidates = cublasCandidates({
      env: {PAGEDLLM_CUBLAS: '/wheel/lib'},
      sitePackages: [],
      ...fakeFs(['/wheel/lib/libcublas.so.13'], ['/wheel/lib']),
    })
    assert.deepEqual(candidates, ['/wheel/lib/libcublas.so.13', 'libcublas.so.13', 'libcublas.so.12'])
  })

  it('with nothing installed only the bare sonames remain (dlopen still searches LD_LIBRARY_PATH)', () => {
    assert.deepEqual(cublasCandidates({env: {}, sitePackages: ['/nowhere'], ...fakeFs([])}), ['libcublas.so.13', 'libcublas.so.12'])
  })

  it('lists a library reachable two ways once', () => {
    const candidates = cublasCandidates({
      env: {CUDA_HOME: '/usr/local/cuda', CUDA_PATH: '/usr/local/cuda'},
      sitePackages: [],
      ...fakeFs(['/usr/local/cuda/lib64/libcublas.so.13']),
    })
    assert.deepEqual(candidates, ['/usr/local/cuda/lib64/libcublas.so.13', 'libcublas.so.13', 'libcublas.so.12'])
  })
})

describe('Python site-packages and the real file system', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-cublas-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('finds a wheel layout through a python that reports a site-packages dir', () => {
    const site = join(dir, 'site-packages')
    mkdirSync(join(site, 'nvidia', 'cu13', 'lib'), {recursive: true})
    writeFileSync(join(site, 'nvidia', 'cu13', 'lib', 'libcublas.so.13'), '')
    // A stand-in python3: prints the directory the real one would, whatever it is asked.
    const python = join(dir, 'python3')
    writeFileSync(python, `#!/bin/sh\necho ${site}\necho /not/a/site/dir\n`, {mode: 0o755})
    assert.deepEqual(pythonSitePackages({PAGEDLLM_PYTHON: python}), [site])
    const candidates = defaultCublasCandidates({PAGEDLLM_PYTHON: python, PAGEDLLM_CUBLAS: dir})
    assert.equal(candidates.at(-1), join(site, 'nvidia', 'cu13', 'lib', 'libcublas.so.13'))
    assert.ok(candidates.includes('libcublas.so.13'))
  })

  it('no python: no site-packages, no error', () => {
    assert.deepEqual(pythonSitePackages({PAGEDLLM_PYTHON: join(dir, 'no-such-python')}), [])
  })
})

describe('parseGemmMode', () => {
  it('takes auto, cublas, wmma (any case); defaults to auto', () => {
    assert.equal(parseGemmMode(undefined), 'auto')
    assert.equal(parseGemmMode('CUBLAS'), 'cublas')
    assert.equal(parseGemmMode(' wmma '), 'wmma')
  })

  it('refuses anything else with a clear error', () => {
    assert.throws(() => parseGemmMode('cutlass'), (error: unknown) => error instanceof InvalidRequestError && /--gemm must be one of auto, cublas, wmma/.test(error.message))
  })
})
