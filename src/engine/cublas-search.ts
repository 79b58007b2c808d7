// Where the CUDA backend looks for libcublas at run time (it is dlopen'ed, never linked), in the order tried.
import {spawnSync} from 'node:child_process'
import {existsSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {InvalidRequestError} from './errors.js'

export type GemmMode = 'auto' | 'cublas' | 'wmma'
export const GEMM_MODES: readonly GemmMode[] = ['auto', 'cublas', 'wmma']

// cuBLAS 13 ships with CUDA 13 (what we build with); 12 has the same GemmEx ABI, so a CUDA 12 install also serves.
const SONAMES = ['libcublas.so.13', 'libcublas.so.12']
// Wheel layouts: nvidia-cublas 13.x puts the library in nvidia/cu13/lib, the cu12 wheels in nvidia/cublas/lib.
const WHEEL_LIB_DIRS = [join('nvidia', 'cu13', 'lib'), join('nvidia', 'cublas', 'lib')]

export interface CublasSearchInputs {
  env: Record<string, string | undefined>
  /** Python site-packages directories (pythonSitePackages()); [] when there is no Python. */
  sitePackages: string[]
  exists: (path: string) => boolean
  isDirectory: (path: string) => boolean
}

/**
 * Candidates for dlopen, first that loads wins: $PAGEDLLM_CUBLAS (a library file or a directory holding one), the
 * CUDA toolkit's lib dirs ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda), the bare sonames (dlopen's own search:
 * LD_LIBRARY_PATH, then ld.so.cache), then Python's nvidia-cublas wheels (PyTorch installs them).
 */
export function cublasCandidates({env, sitePackages, exists, isDirectory}: CublasSearchInputs): string[] {
  const candidates: string[] = []
  const override = env.PAGEDLLM_CUBLAS?.trim()
  if (override) {
    if (isDirectory(override)) candidates.push(...SONAMES.map((name) => join(override, name)).filter(exists))
    else candidates.push(override)
  }
  const toolkits = [env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda'].filter((dir): dir is string => Boolean(dir))
  for (const toolkit of toolkits) {
    for (const lib of ['lib64', join('targets', 'x86_64-linux', 'lib'), join('targets', 'sbsa-linux', 'lib')]) {
      candidates.push(...SONAMES.map((name) => join(toolkit, lib, name)).filter(exists))
    }
  }
  candidates.push(...SONAMES)
  for (const site of sitePackages) {
    for (const dir of WHEEL_LIB_DIRS) candidates.push(...SONAMES.map((name) => join(site, dir, name)).filter(exists))
  }
  return [...new Set(candidates)]
}

/** Python's site-packages dirs (system and user), asked of python3 once; [] when there is no python3. */
export function pythonSitePackages(env: Record<string, string | undefined> = process.env): string[] {
  const python = env.PAGEDLLM_PYTHON ?? 'python3'
  const script = 'import site, sys; print("\\n".join(site.getsitepackages() + [site.getusersitepackages()] + sys.path))'
  const result = spawnSync(python, ['-c', script], {encoding: 'utf8', timeout: 10_000})
  if (result.status !== 0 || typeof result.stdout !== 'string') return []
  return [...new Set(result.stdout.split('\n').map((line) => line.trim()).filter((line) => line.endsWith('-packages')))]
}

/** The candidates for this process (real file system, real Python). */
export function defaultCublasCandidates(env: Record<string, string | undefined> = process.env): string[] {
  const isDirectory = (path: string) => existsSync(path) && statSync(path).isDirectory()
  return cublasCandidates({env, sitePackages: pythonSitePackages(env), exists: existsSync, isDirectory})
}

/** --gemm (or $PAGEDLLM_GEMM): auto takes cuBLAS when it loads, else the WMMA kernel. */
export function parseGemmMode(value: string | undefined): GemmMode {
  const mode = (value ?? 'auto').trim().toLowerCase()
  if ((GEMM_MODES as readonly string[]).includes(mode)) return mode as GemmMode
  throw new InvalidRequestError(`--gemm must be one of ${GEMM_MODES.join(', ')}, got "${value}"`, {param: 'gemm'})
}
