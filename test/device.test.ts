// --device selection: auto picks CUDA only when built and available, cpu is always honoured, cuda fails clearly.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {selectDevice} from '../src/engine/device.js'
import {InvalidRequestError} from '../src/engine/errors.js'

const noDriver = {available: false, detail: 'CUDA driver version is insufficient for CUDA runtime version'}
const h100 = {available: true, detail: 'NVIDIA H100 80GB HBM3'}

describe('selectDevice', () => {
  it('auto uses CUDA with the GPU name when the build has it and a device answers', () => {
    assert.deepEqual(selectDevice('auto', {cuda: true}, h100), {device: 'cuda', message: 'using CUDA: NVIDIA H100 80GB HBM3'})
  })

  it('auto falls back to CPU and says why', () => {
    const noDevice = selectDevice('auto', {cuda: true}, noDriver)
    assert.equal(noDevice.device, 'cpu')
    assert.match(noDevice.message, /CUDA not available \(CUDA driver version is insufficient.*\), using CPU/)
    const noBuild = selectDevice('auto', {cuda: false}, {available: false, detail: 'built without CUDA'})
    assert.equal(noBuild.device, 'cpu')
    assert.match(noBuild.message, /built without CUDA/)
  })

  it('cpu stays on CPU even with a GPU present', () => {
    assert.equal(selectDevice('cpu', {cuda: true}, h100).device, 'cpu')
  })

  it('cuda without a usable device is a clear error naming the reason', () => {
    assert.throws(() => selectDevice('cuda', {cuda: true}, noDriver), (error: unknown) =>
      error instanceof InvalidRequestError && /driver version is insufficient/.test(error.message))
    assert.throws(() => selectDevice('cuda', {cuda: false}, noDriver), (error: unknown) =>
      error instanceof InvalidRequestError && /built without CUDA/.test(error.message))
    assert.equal(selectDevice('cuda', {cuda: true}, h100).device, 'cuda')
  })
})
