// GPU KV sizing: blocks from free memory, utilization, weights and activation reserve; CUDA byte counts.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cudaActivationReserveBytes, cudaKvBytesPerBlock, cudaWeightBytes, gpuKvBlocks} from '../src/engine/gpu-memory.js'
import type {ModelConfig} from '../src/engine/model/model-config.js'

const GiB = 2 ** 30

// Llama-2-7B's shape: 32 layers, 32 heads of 128, no GQA, 32000 vocab.
const llama7b = {
  architecture: 'LlamaForCausalLM', modelType: 'llama', vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008,
  numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: {type: 'none'},
  tieWordEmbeddings: false, attentionBias: false, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [2], torchDtype: 'float16',
} satisfies ModelConfig

describe('gpuKvBlocks', () => {
  it('gives the blocks that fit in free * utilization after weights and activations', () => {
    const blocks = gpuKvBlocks({freeBytes: 80 * GiB, gpuMemoryUtilization: 0.9, weightBytes: 13 * GiB, activationReserveBytes: GiB, kvBytesPerBlock: 8 * 2 ** 20})
    assert.equal(blocks, Math.floor((0.9 * 80 * GiB - 14 * GiB) / (8 * 2 ** 20)))
  })

  it('floors partial blocks and never goes negative', () => {
    assert.equal(gpuKvBlocks({freeBytes: 1000, gpuMemoryUtilization: 1, weightBytes: 100, activationReserveBytes: 0, kvBytesPerBlock: 300}), 3)
    assert.equal(gpuKvBlocks({freeBytes: GiB, gpuMemoryUtilization: 0.5, weightBytes: GiB, activationReserveBytes: 0, kvBytesPerBlock: 1}), 0)
  })

  it('rejects a utilization outside (0, 1] and a non-positive block size', () => {
    const base = {freeBytes: GiB, weightBytes: 0, activationReserveBytes: 0, kvBytesPerBlock: 1}
    assert.throws(() => gpuKvBlocks({...base, gpuMemoryUtilization: 0}), RangeError)
    assert.throws(() => gpuKvBlocks({...base, gpuMemoryUtilization: 1.5}), RangeError)
    assert.throws(() => gpuKvBlocks({...base, gpuMemoryUtilization: 0.9, kvBytesPerBlock: 0}), RangeError)
  })
})

describe('CUDA byte counts', () => {
  it('KV block of a 7B model: 32 layers x 2 x 16 tokens x 4096 x 2 bytes = 8 MiB', () => {
    assert.equal(cudaKvBytesPerBlock(llama7b, 16), 8 * 2 ** 20)
    assert.equal(cudaKvBytesPerBlock({...llama7b, numKvHeads: 8}, 16), 2 * 2 ** 20)  // GQA: a quarter
  })

  it('weights of a 7B model: 6.74e9 parameters in 2 bytes', () => {
    const params = cudaWeightBytes(llama7b) / 2
    assert.ok(Math.abs(params - 6.738e9) / 6.738e9 < 1e-3, `got ${params}`)
    assert.equal(cudaWeightBytes({...llama7b, tieWordEmbeddings: true}), cudaWeightBytes(llama7b) - 2 * 32000 * 4096)
  })

  it('activation reserve grows with the token budget and adds the partition workspace for long contexts', () => {
    const small = cudaActivationReserveBytes(llama7b, 512, 64, 512)
    const large = cudaActivationReserveBytes(llama7b, 2048, 64, 512)
    assert.ok(large > small)
    assert.ok(cudaActivationReserveBytes(llama7b, 2048, 64, 4096) > large)
    // 2048 tokens of a 7B model: under 1 GiB of scratch, so the KV pool keeps almost all the free memory
    assert.ok(large < GiB, `got ${large}`)
  })
})
