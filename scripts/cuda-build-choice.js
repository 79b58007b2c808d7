// Decides whether `npm run build:native` compiles the CUDA backend: PAGEDLLM_CUDA=ON|OFF, else nvcc plus an NVIDIA driver.
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {delimiter, join} from 'node:path'

// Where distributions, containers (nvidia-container-toolkit) and WSL put the driver library.
const DRIVER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib']

/**
 * @param {{setting: string | undefined, nvcc: string | null, driver: string | null}} found
 * @returns {{cuda: boolean, why: string}}
 */
export function chooseCudaBuild({setting, nvcc, driver}) {
  const value = (setting ?? '').trim().toUpperCase()
  if (value === 'OFF') return {cuda: false, why: 'PAGEDLLM_CUDA=OFF'}
  if (value === 'ON') {
    if (nvcc === null) throw new Error('PAGEDLLM_CUDA=ON but nvcc was not found (PATH, CUDACXX, /usr/local/cuda/bin)')
    return {cuda: true, why: `PAGEDLLM_CUDA=ON (nvcc ${nvcc})`}
  }
  if (value !== '') throw new Error(`PAGEDLLM_CUDA must be ON or OFF, got "${setting}"`)
  if (nvcc === null) return {cuda: false, why: 'no nvcc found (set PAGEDLLM_CUDA=ON to require CUDA)'}
  if (driver === null) return {cuda: false, why: `nvcc found (${nvcc}) but no NVIDIA driver (libcuda.so.1); PAGEDLLM_CUDA=ON builds CUDA anyway`}
  return {cuda: true, why: `nvcc ${nvcc} and NVIDIA driver ${driver} found`}
}

/** The CUDA compiler: $CUDACXX, nvcc on PATH, or the toolkit's default location; null when there is none. */
export function findNvcc(env = process.env) {
  if (env.CUDACXX && existsSync(env.CUDACXX)) return env.CUDACXX
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'nvcc'))) return join(dir, 'nvcc')
  }
  return existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null
}

/** The driver library the CUDA runtime loads (libcuda.so.1, never the toolkit's link stub); null when absent. */
export function findNvidiaDriver(env = process.env) {
  const ldconfig = spawnSync('ldconfig', ['-p'], {encoding: 'utf8'})
  const listed = ldconfig.status === 0 ? /\slibcuda\.so\.1\s.*=>\s*(\S+)/.exec(ldconfig.stdout) : null
  if (listed) return listed[1]
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((dir) => dir && !dir.includes('stubs')), ...DRIVER_DIRS]
  for (const dir of dirs) {
    if (existsSync(join(dir, 'libcuda.so.1'))) return join(dir, 'libcuda.so.1')
  }
  return null
}
