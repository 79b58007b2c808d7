// GPU KV sizing: blocks from free memory, utilization, weights and activation reserve; CUDA byte counts.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {
  CUDA_LOGITS_CHUNK_ROWS,
  CUDA_MAX_BATCHED_TOKENS,
  checkCudaBatchedTokens,
  cudaActivationReserveBytes,
  cudaPromptRankingBytes,
  cudaKvBytesPerBlock,
  cudaStepScratchBytes,
  cudaWeightBytes,
  gpuKvBlocks,
} from '../src/engine/gpu-memory.js'
import {expectedTensorShapes} from '../src/engine/model/load-model.js'
import {parseModelConfig, type ModelConfig} from '../src/engine/model/model-config.js'
import {testModelConfigJson} from '../src/engine/model/test-model.js'

const GiB = 2 ** 30

// Llama-2-7B's shape: 32 layers, 32 heads of 128, no GQA, 32000 vocab.
const llama7b = {
  architecture: 'LlamaForCausalLM', modelType: 'llama', vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008,
  numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: {type: 'none'},
  tieWordEmbeddings: false, attentionBias: false, qkNorm: false, hiddenAct: 'silu', normWeightOffset: 0, embeddingScale: 1, fusedProjections: false,
  sandwichNorms: false, attentionScale: 0, attnLogitSoftcap: 0, finalLogitSoftcap: 0,
  maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [2], torchDtype: 'float16',
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

  it('fp32 parts: MLP and o_proj biases, and Gemma 2\'s two more norms a layer', () => {
    const {hiddenSize: h, intermediateSize: inter, numLayers: layers} = llama7b
    assert.equal(cudaWeightBytes({...llama7b, mlpBias: true}) - cudaWeightBytes(llama7b), layers * 4 * (2 * inter + h))
    assert.equal(cudaWeightBytes({...llama7b, attentionOutputBias: true}) - cudaWeightBytes(llama7b), layers * 4 * h)
    assert.equal(cudaWeightBytes({...llama7b, sandwichNorms: true}) - cudaWeightBytes(llama7b), layers * 2 * 4 * h)
    // the step plans one more fp32 [tokens, hidden] buffer for the normed sublayer output
    assert.equal(cudaStepScratchBytes({...llama7b, sandwichNorms: true}, 64, 1, 512) - cudaStepScratchBytes(llama7b, 64, 1, 512), 64 * h * 4)
  })

  it('weight bytes of the RMS variants CUDA runs match their checkpoints: matrices in 2 bytes, norms in 4 (OLMo2: whole q/k norms)', () => {
    // Cohere: one norm a layer (parallel block); OLMo: none (weightless LayerNorms)
    for (const variant of ['llama', 'granite', 'smollm3', 'olmo2', 'cohere', 'cohere2', 'olmo'] as const) {
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      const bytes = expectedTensorShapes(config).reduce((sum, {shape}) => sum + shape.reduce((a, b) => a * b, 1) * (shape.length === 1 ? 4 : 2), 0)
      assert.equal(cudaWeightBytes(config), bytes, variant)
    }
    const olmo2 = parseModelConfig(testModelConfigJson('tiny', {variant: 'olmo2'}))
    // its normed sublayer outputs take the fp32 buffer Gemma 2's sandwich norms do
    assert.equal(cudaStepScratchBytes(olmo2, 64, 1, 512) - cudaStepScratchBytes({...olmo2, rmsVariant: undefined}, 64, 1, 512), 64 * olmo2.hiddenSize * 4)
  })

  it('LayerNorm family (layernorm_weights.cu): q/k/v stacked in one region, norms, biases and learned positions in fp32, each region 256-aligned', () => {
    const opt = parseModelConfig(testModelConfigJson('tiny', {variant: 'opt'}))
    const {hiddenSize: h, intermediateSize: inter, vocabSize: vocab, numLayers: layers} = opt
    const region = (bytes: number) => Math.ceil(bytes / 256) * 256
    const perLayer = 4 * region(h * 4) + region(3 * h * h * 2) + region(3 * h * 4) + region(h * h * 2) + region(h * 4) +
      region(inter * h * 2) + region(inter * 4) + region(h * inter * 2) + region(h * 4)
    const expected = 2 * region(vocab * h * 2) + region(opt.layerNorm!.learnedPositions * h * 4) + layers * perLayer + 2 * region(h * 4)
    assert.equal(cudaWeightBytes(opt), expected)
    // OPT-350m's project_in / project_out rows: two more scratch tensors in fp32, nothing else moves.
    const projected = {...opt, layerNorm: {...opt.layerNorm!, embedDim: h / 2}}
    assert.equal(cudaStepScratchBytes(projected, 64, 3, 512) - cudaStepScratchBytes(opt, 64, 3, 512), region(64 * (h / 2) * 4) + region(3 * (h / 2) * 4))
  })

  it('activation reserve grows with the token budget and adds the partition workspace for long contexts', () => {
    const small = cudaActivationReserveBytes(llama7b, 512, 512, 256)
    const large = cudaActivationReserveBytes(llama7b, 2048, 512, 256)
    assert.ok(large > small)
    assert.ok(cudaActivationReserveBytes(llama7b, 2048, 4096, 256) > large)
    // every token a prompt row ranked on the device (top N up to 64): its inputs and answers are reserved beside the scratch
    const plan = cudaStepScratchBytes(llama7b, 2048, 2048, 512, 256)
    assert.equal(large - (plan + Math.floor(plan / 2) + 256 * 2 ** 20), cudaPromptRankingBytes(2048))
    assert.ok(cudaPromptRankingBytes(2048) >= 2048 * (2 * 4 + 8 + 2 * 4 + 65 * 12))
    // 2048 tokens of a 7B model: under 1 GiB of scratch, so the KV pool keeps almost all the free memory
    assert.ok(large < GiB, `got ${large}`)
  })
})

describe('CUDA scratch bounds', () => {
  // Qwen2.5-7B's shape: a 152k vocabulary makes every logits row 0.6 MB.
  const qwen7b = {...llama7b, vocabSize: 152064, hiddenSize: 3584, intermediateSize: 18944, numLayers: 28, numHeads: 28, numKvHeads: 4}

  it('the reserve covers the largest step with its 1.5x growth, even when every token wants prompt logprobs', () => {
    for (const config of [llama7b, qwen7b]) {
      for (const [budget, maxModelLen] of [[2048, 4096], [8192, 32768], [512, 512]] as const) {
        const reserve = cudaActivationReserveBytes(config, budget, maxModelLen, 256)
        // Any step within the limits: tokens <= budget, logits rows <= tokens, contexts <= maxModelLen, <= 256 sequences.
        for (const tokens of [1, 256, budget]) {
          for (const rows of [1, tokens]) {
            const plan = cudaStepScratchBytes(config, tokens, rows, maxModelLen, 256)
            assert.ok(plan * 1.5 <= reserve, `${tokens} tokens, ${rows} logits rows: ${plan * 1.5} > ${reserve}`)
          }
        }
      }
    }
  })

  it('the attention workspace is sized for decode rows (one per sequence), not for every token', () => {
    // 8192 tokens at a 32k context: a partial (max, sum, 128 floats) per decode row, head and 256-token partition.
    const partials = (rows: number) => rows * 28 * (32768 / 256) * 130 * 4
    const at = (maxSeqs: number) => cudaStepScratchBytes(qwen7b, 8192, 1, 32768, maxSeqs)
    assert.equal(at(512) - at(256), partials(512) - partials(256))
    assert.equal(at(8192) - at(256), partials(8192) - partials(256))  // 15 GiB more if every token were a decode row
  })

  it('logits rows beyond one LM-head chunk do not grow the scratch', () => {
    const chunk = cudaStepScratchBytes(qwen7b, 8192, CUDA_LOGITS_CHUNK_ROWS, 8192, 256)
    assert.equal(cudaStepScratchBytes(qwen7b, 8192, 8192, 8192, 256), chunk)
    assert.ok(cudaStepScratchBytes(qwen7b, 8192, 8, 8192, 256) < chunk)
    // 8192 prompt-logprob rows at once would take 8192 x 152064 x 4 bytes = 4.6 GiB; chunked, the logits take 149 MiB.
    assert.ok(chunk < 4 * GiB, `got ${chunk}`)
  })

  it('--max-num-batched-tokens above the CUDA grid limit is refused with the limit named', () => {
    checkCudaBatchedTokens(CUDA_MAX_BATCHED_TOKENS)
    assert.throws(
      () => checkCudaBatchedTokens(CUDA_MAX_BATCHED_TOKENS + 1),
      (error: unknown) => error instanceof InvalidRequestError && error.param === 'max-num-batched-tokens' && /limit of 4194240 tokens per step/.test(error.message),
    )
  })
})
