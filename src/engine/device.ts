// Picks the compute backend for --device auto|cpu|cuda, and says why.
import type {DeviceKind} from './config.js'
import {InvalidRequestError} from './errors.js'

export interface DeviceChoice {
  device: 'cpu' | 'cuda'
  message: string
}

export function selectDevice(
  requested: DeviceKind,
  build: {cuda: boolean},
  cuda: {available: boolean; detail: string},
): DeviceChoice {
  const cudaReady = build.cuda && cuda.available
  if (requested === 'cuda' && !cudaReady) {
    const why = build.cuda ? cuda.detail : 'the native addon was built without CUDA (no nvcc at install time)'
    throw new InvalidRequestError(`--device cuda: CUDA is not available: ${why}`, {param: 'device'})
  }
  if (requested === 'cpu') return {device: 'cpu', message: 'using CPU (--device cpu)'}
  if (cudaReady) return {device: 'cuda', message: `using CUDA: ${cuda.detail}`}
  const why = build.cuda ? cuda.detail : 'built without CUDA'
  return {device: 'cpu', message: `CUDA not available (${why}), using CPU`}
}
