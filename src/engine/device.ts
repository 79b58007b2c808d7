// Picks the compute backend for --device auto|cpu|cuda, and says why.
import type {DeviceKind} from './config.js'
import {InvalidRequestError} from './errors.js'

/** What the addon's cudaStatus() reports: the device name or the runtime's reason, its error name, and whether libcuda.so.1 loads. */
export interface NativeCudaStatus {
  available: boolean
  detail: string
  error: string
  driverLoadable: boolean
}

// Static cudart answers "driver version is insufficient" (or "no device") when it finds no driver library at all:
// true to the letter, misleading on a machine that simply has no GPU.
const NO_DRIVER_ERRORS = new Set(['cudaErrorInsufficientDriver', 'cudaErrorNoDevice'])

/** The reason to show a user: "no NVIDIA GPU/driver found" when there is no driver, else the runtime's own words. */
export function describeCudaStatus(status: NativeCudaStatus): {available: boolean; detail: string} {
  if (!status.available && !status.driverLoadable && NO_DRIVER_ERRORS.has(status.error)) {
    return {available: false, detail: 'no NVIDIA GPU/driver found'}
  }
  return {available: status.available, detail: status.detail}
}

export interface DeviceChoice {
  device: 'cpu' | 'cuda'
  message: string
}

/**
 * `cpuOnly` names what this run needs that only the CPU backend has (a quantized format, Gemma's layers, ...): auto
 * then picks the CPU and says why, and --device cuda is refused before anything reaches the GPU.
 */
export function selectDevice(
  requested: DeviceKind,
  build: {cuda: boolean},
  cuda: {available: boolean; detail: string},
  cpuOnly: {reason: string; param: string} | null = null,
): DeviceChoice {
  const cudaReady = build.cuda && cuda.available
  if (requested === 'cuda' && !cudaReady) {
    const why = build.cuda ? cuda.detail : 'the native addon was built without CUDA (no nvcc at install time)'
    throw new InvalidRequestError(`--device cuda: CUDA is not available: ${why}`, {param: 'device'})
  }
  if (requested === 'cuda' && cpuOnly !== null) throw new InvalidRequestError(`${cpuOnly.reason}, which runs on the CPU backend only (pass --device cpu)`, {param: cpuOnly.param})
  if (requested === 'cpu') return {device: 'cpu', message: 'using CPU (--device cpu)'}
  if (cudaReady && cpuOnly !== null) return {device: 'cpu', message: `using CPU: ${cpuOnly.reason}, which runs on the CPU backend only`}
  if (cudaReady) return {device: 'cuda', message: `using CUDA: ${cuda.detail}`}
  const why = build.cuda ? cuda.detail : 'built without CUDA'
  return {device: 'cpu', message: `CUDA not available (${why}), using CPU`}
}
