// Loads the production addon and the test-only CUDA addon for the GPU scripts, or exits 1 saying why CUDA cannot be tested.
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const releaseDir = join(root, 'native', 'build', 'Release')
const addonPath = join(releaseDir, 'pagedllm.node')
const testsAddonPath = join(releaseDir, 'pagedllm_cuda_tests.node')
const rebuild = 'rebuild with CUDA: PAGEDLLM_CUDA=ON npm run build:native'

/** Asked to test CUDA and cannot: a failure, never a skip, so a CPU-only build does not pass as tested. */
function fail(/** @type {string} */ reason) {
  console.error(`CUDA cannot be tested: ${reason}`)
  process.exit(1)
}

/**
 * The production addon, the test addon (kernelChecks, kernelBench) and the usable device's name.
 * @returns {{addon: any, tests: {kernelChecks(seed: number): string, kernelBench(): string}, device: string}}
 */
export function loadCudaAddon() {
  if (!existsSync(addonPath)) fail(`the native addon is not built at ${addonPath}; ${rebuild}`)
  const require = createRequire(import.meta.url)
  const addon = require(addonPath)
  if (!addon.buildInfo().cuda) fail(`the native addon was built without CUDA; ${rebuild}`)
  if (!existsSync(testsAddonPath)) fail(`the CUDA test addon is missing at ${testsAddonPath}; ${rebuild}`)
  const status = addon.cudaStatus()
  if (!status.available) fail(`no usable CUDA device: ${status.detail}${status.driverLoadable ? '' : ' (libcuda.so.1, the NVIDIA driver, cannot be loaded)'}`)
  return {addon, tests: require(testsAddonPath), device: status.detail}
}
