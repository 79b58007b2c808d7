// The CUDA MoE MLP's host side, checked in the CPU build: the order of routed slots per expert and the expert GEMMs a
// layer runs (native/include/pagedllm/moe_plan.h, which the device counting sort in moe_kernels.cu must match), and
// the weight and scratch bytes the KV pool sizing reserves for sparse layers (gpu-memory-moe.ts).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cudaStepScratchBytes, cudaWeightBytes} from '../src/engine/gpu-memory.js'
import {cudaMoeScratchBytes, cudaMoeWeightRegions} from '../src/engine/gpu-memory-moe.js'
import type {ModelConfig} from '../src/engine/model/model-config.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {nativeOps} from '../src/engine/native.js'

const sort = (experts: number[], numExperts: number) => {
  const {sortedSlots, slotPositions, counts, runs} = nativeOps().moeSortSlots(Int32Array.from(experts), numExperts)
  return {sortedSlots: [...sortedSlots], slotPositions: [...slotPositions], counts: [...counts], runs: [...runs]}
}

describe('CUDA MoE slot order (host side)', () => {
  it('sorts slots by expert, each expert\'s in slot order, and lists the experts with rows', () => {
    // 3 rows x top-2: row 0 -> experts 2, 0; row 1 -> 0, 3; row 2 -> 2, 3 (expert 1 gets nothing)
    const {sortedSlots, slotPositions, counts, runs} = sort([2, 0, 0, 3, 2, 3], 4)
    assert.deepEqual(sortedSlots, [1, 2, 0, 4, 3, 5])
    assert.deepEqual(counts, [2, 0, 2, 2])
    assert.deepEqual(runs, [0, 0, 2, 2, 2, 2, 3, 4, 2])  // (expert, first, count); expert 1 runs no GEMM
    sortedSlots.forEach((slot, at) => assert.equal(slotPositions[slot], at))
  })

  it('keeps slot order across the device sort\'s 2048-slot chunks', () => {
    const experts = Array.from({length: 5000}, (_, slot) => (slot * 7) % 3)
    const {sortedSlots, counts, runs} = sort(experts, 3)
    const expected = [0, 1, 2].flatMap((e) => experts.flatMap((x, slot) => (x === e ? [slot] : [])))
    assert.deepEqual(sortedSlots, expected)
    assert.deepEqual(counts, [1667, 1667, 1666])
    assert.deepEqual(runs, [0, 0, 1667, 1, 1667, 1667, 2, 3334, 1666])
  })

  it('an empty step sorts nothing; an expert id out of range is refused naming the slot', () => {
    assert.deepEqual(sort([], 8), {sortedSlots: [], slotPositions: [], counts: [0, 0, 0, 0, 0, 0, 0, 0], runs: []})
    assert.throws(() => sort([0, 4], 4), /slot 1 names expert 4 of 4/)
    assert.throws(() => sort([0, -1], 4), /slot 1 names expert -1 of 4/)
    assert.throws(() => sort([0], 0), /numExperts must be an integer in \[1, 4096\]/)
  })
})

// Mixtral-8x7B's and Qwen1.5-MoE-A2.7B's shapes (their config.json's sizes).
const mixtral = parseModelConfig({
  architectures: ['MixtralForCausalLM'], vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
  num_attention_heads: 32, num_key_value_heads: 8, num_local_experts: 8, num_experts_per_tok: 2, max_position_embeddings: 32768,
})
const qwen2Moe = parseModelConfig({
  architectures: ['Qwen2MoeForCausalLM'], vocab_size: 151936, hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 24,
  num_attention_heads: 16, num_key_value_heads: 16, num_experts: 60, num_experts_per_tok: 4, moe_intermediate_size: 1408,
  shared_expert_intermediate_size: 5632, max_position_embeddings: 8192,
})

// Phi-3.5-MoE's shape (its config.json's sizes), and granite-3.0-1b-a400m's with a shared expert of 1024 (GraniteMoeShared).
const phimoe = parseModelConfig({
  architectures: ['PhiMoEForCausalLM'], vocab_size: 32064, hidden_size: 4096, intermediate_size: 6400, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 8, num_local_experts: 16, num_experts_per_tok: 2, attention_bias: true, lm_head_bias: true, tie_word_embeddings: false,
  max_position_embeddings: 131072,
})
const graniteMoeShared = parseModelConfig({
  architectures: ['GraniteMoeSharedForCausalLM'], vocab_size: 49155, hidden_size: 1024, intermediate_size: 512, num_hidden_layers: 24, num_attention_heads: 16,
  num_key_value_heads: 8, num_local_experts: 32, num_experts_per_tok: 8, shared_intermediate_size: 1024, tie_word_embeddings: true, max_position_embeddings: 4096,
})

describe('CUDA MoE bytes', () => {
  it('weights: PhiMoE holds 41.87e9 parameters (transformers counts them), GraniteMoeShared 1.410e9 (its shared expert ungated: no gate row)', () => {
    for (const [config, params] of [[phimoe, 41873153344], [graniteMoeShared, 1410125824]] as const) {
      const got = cudaWeightBytes(config) / 2
      assert.ok(Math.abs(got - params) / params < 2e-3, `${config.architecture}: ${got}`)
    }
    // PhiMoE's fp32 biases beside the weights (native/cuda/norm_bias_weights.h): 2 LayerNorms a layer and the final one, and lm_head's
    const unbiased = {...phimoe, rmsVariant: {...phimoe.rmsVariant!, normBias: undefined, headBias: undefined}}
    assert.equal(cudaWeightBytes(phimoe) - cudaWeightBytes(unbiased), 4 * ((2 * 32 + 1) * 4096 + 32064))
  })

  it('weights: Mixtral-8x7B holds 46.7e9 parameters, Qwen1.5-MoE-A2.7B 14.3e9, in 2 bytes (routers fp32)', () => {
    for (const [config, params] of [[mixtral, 46.70e9], [qwen2Moe, 14.32e9]] as const) {
      const got = cudaWeightBytes(config) / 2
      assert.ok(Math.abs(got - params) / params < 2e-3, `${config.architecture}: ${got}`)
    }
    // a dense layer (mlp_only_layers) keeps its dense MLP: one sparse layer fewer is one expert set less, one dense MLP more
    const oneDense = {...qwen2Moe, moe: {...qwen2Moe.moe!, sparseLayers: qwen2Moe.moe!.sparseLayers.map((_, l) => l !== 0)}}
    const h = 2048
    assert.equal(cudaWeightBytes(qwen2Moe) - cudaWeightBytes(oneDense), 4 * 61 * h + 2 * 3 * h * (60 * 1408 + 5632) - 2 * 3 * h * 5632)
    assert.equal(cudaMoeWeightRegions(qwen2Moe), 24 * (1 + 2 * 60 + 2))
  })

  it('scratch: the MoE plan of a step, 256-byte aligned, added to the dense plan', () => {
    // hidden 64, 4 experts of 32, top-2, 3 tokens (6 slots): the fp32 router input 768, gathered rows 768 (bf16),
    // one expert's gate/up 768, expert outputs 1536, and nine small tensors of one 256-byte unit each
    const tiny = {hiddenSize: 64, moe: {numExperts: 4, numExpertsPerToken: 2, normTopkProb: true, expertIntermediateSize: 32, sharedExpertIntermediateSize: 0, sparseLayers: [true], mixtralNames: true}} as ModelConfig
    assert.equal(cudaMoeScratchBytes(tiny, 3), 768 + 768 + 768 + 1536 + 9 * 256)
    // a gated shared expert 48 wide: gate/up 3 x 96 floats (1152 -> 1280 bytes), activation 288 -> 512, its fp32
    // output 768; the one more router row still fits the logits' 256 bytes
    const shared = {...tiny, moe: {...tiny.moe!, sharedExpertIntermediateSize: 48}} as ModelConfig
    assert.equal(cudaMoeScratchBytes(shared, 3) - cudaMoeScratchBytes(tiny, 3), (1280 - 768) + (512 - 256) + 768)
    assert.equal(cudaMoeScratchBytes({...tiny, moe: undefined} as ModelConfig, 3), 0)
    assert.equal(cudaStepScratchBytes(mixtral, 512, 1, 512) - cudaStepScratchBytes({...mixtral, moe: undefined}, 512, 1, 512), cudaMoeScratchBytes(mixtral, 512))
  })

  it('scratch: the TS count equals the native plan the backend allocates by (pagedllm/moe_plan.h)', () => {
    for (const config of [mixtral, qwen2Moe, {...qwen2Moe, moe: {...qwen2Moe.moe!, ungatedSharedExpert: true}}]) {
      const moe = config.moe!
      for (const tokens of [1, 3, 256, 700, 8192]) {
        const native = nativeOps().moeScratchBytes(tokens, config.hiddenSize, moe.numExperts, moe.numExpertsPerToken, moe.expertIntermediateSize,
          moe.sharedExpertIntermediateSize, !moe.ungatedSharedExpert)
        assert.equal(cudaMoeScratchBytes(config, tokens), native, `${config.architecture} ${tokens} tokens`)
      }
    }
    assert.throws(() => nativeOps().moeScratchBytes(-1, 64, 4, 2, 32, 0, true), /numRows must be a non-negative 32-bit integer/)
  })
})
