// Loads the native addon for the GPU scripts, or exits 0 with the reason there is no usable CUDA device.
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const addonPath = join(root, 'native', 'build', 'Release', 'pagedllm.node')

function skip(reason) {
  console.log(`no CUDA device: skipped (${reason})`)
  process.exit(0)
}

/** The addon with a usable CUDA device, and that device's description. */
export function loadCudaAddon() {
  if (!existsSync(addonPath)) skip(`native addon not built at ${addonPath}; run npm run build:native`)
  const addon = createRequire(import.meta.url)(addonPath)
  if (!addon.buildInfo().cuda || !addon.cuda) skip('the native addon was built without CUDA (no nvcc at build time)')
  const status = addon.cudaStatus()
  if (!status.available) skip(status.detail)
  return {addon, device: status.detail}
}
