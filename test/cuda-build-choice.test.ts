// The native build's CUDA decision: ON/OFF win; otherwise CUDA only with both nvcc and an NVIDIA driver.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {chooseCudaBuild} from '../scripts/cuda-build-choice.js'

const nvcc = '/usr/local/cuda/bin/nvcc'
const driver = '/usr/lib/x86_64-linux-gnu/libcuda.so.1'

describe('chooseCudaBuild', () => {
  it('builds CUDA by default only when nvcc and the driver are both present', () => {
    assert.equal(chooseCudaBuild({setting: undefined, nvcc, driver}).cuda, true)
    const noDriver = chooseCudaBuild({setting: undefined, nvcc, driver: null})
    assert.equal(noDriver.cuda, false)
    assert.match(noDriver.why, /no NVIDIA driver/)
    const noCompiler = chooseCudaBuild({setting: '', nvcc: null, driver})
    assert.equal(noCompiler.cuda, false)
    assert.match(noCompiler.why, /no nvcc/)
  })

  it('PAGEDLLM_CUDA=ON builds CUDA without a driver (CI) and fails clearly without nvcc', () => {
    assert.deepEqual(chooseCudaBuild({setting: 'on', nvcc, driver: null}), {cuda: true, why: `PAGEDLLM_CUDA=ON (nvcc ${nvcc})`})
    assert.throws(() => chooseCudaBuild({setting: 'ON', nvcc: null, driver}), /PAGEDLLM_CUDA=ON but nvcc was not found/)
  })

  it('PAGEDLLM_CUDA=OFF wins over everything; other values are refused', () => {
    assert.deepEqual(chooseCudaBuild({setting: 'OFF', nvcc, driver}), {cuda: false, why: 'PAGEDLLM_CUDA=OFF'})
    assert.throws(() => chooseCudaBuild({setting: 'yes', nvcc, driver}), /must be ON or OFF/)
  })
})
