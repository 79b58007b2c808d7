// Mixture-of-experts models (Mixtral, Qwen2-MoE, Qwen3-MoE) on the CPU: configs parse as transformers 5.18's classes, logits match the float64 reference and transformers, ties and quantized experts behave.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {bf16BitsToFloat32, float32ToBf16Bits} from '../src/engine/model/float-formats.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors, readTensorFloat64, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {nativeOps} from '../src/engine/native.js'
import {topLogprobError} from './support/logprobs.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'
import {moeGgufBytes} from './support/moe-gguf.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {ReferenceModel} from './support/reference-model.js'
import {relativeError} from './support/relative-error.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const BASE = {vocab_size: 100, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2}

describe('mixture-of-experts configs', () => {
  it('parse with the defaults of MixtralConfig, Qwen2MoeConfig and Qwen3MoeConfig', () => {
    const mixtral = parseModelConfig({...BASE, architectures: ['MixtralForCausalLM']})
    assert.deepEqual(mixtral.moe, {numExperts: 8, numExpertsPerToken: 2, normTopkProb: true, expertIntermediateSize: 96, sharedExpertIntermediateSize: 0, sparseLayers: [true, true, true, true], mixtralNames: true})
    const qwen2 = parseModelConfig({...BASE, architectures: ['Qwen2MoeForCausalLM']})
    assert.deepEqual(qwen2.moe, {numExperts: 60, numExpertsPerToken: 4, normTopkProb: false, expertIntermediateSize: 1408, sharedExpertIntermediateSize: 5632, sparseLayers: [true, true, true, true], mixtralNames: false})
    assert.deepEqual([qwen2.attentionBias, parseModelConfig({...BASE, architectures: ['Qwen2MoeForCausalLM'], qkv_bias: false}).attentionBias], [true, false])
    const qwen3 = parseModelConfig({...BASE, architectures: ['Qwen3MoeForCausalLM'], decoder_sparse_step: 2, mlp_only_layers: [3], norm_topk_prob: true})
    assert.deepEqual([qwen3.moe!.numExperts, qwen3.moe!.numExpertsPerToken, qwen3.moe!.normTopkProb, qwen3.moe!.sparseLayers, qwen3.qkNorm, qwen3.headDim], [128, 8, true, [false, true, false, false], true, 16])
    // v5's save_pretrained writes Qwen3-MoE's count as num_local_experts; Qwen's own checkpoints as num_experts.
    assert.equal(parseModelConfig({...BASE, architectures: ['Qwen3MoeForCausalLM'], num_local_experts: 16}).moe!.numExperts, 16)
    assert.equal(parseModelConfig({...BASE, architectures: ['LlamaForCausalLM']}).moe, undefined)
    // Mixtral's sliding window is on every layer, as Mistral's (sliding-windows.ts), and no longer caps the context.
    const windowed = parseModelConfig({...BASE, architectures: ['MixtralForCausalLM'], max_position_embeddings: 32768, sliding_window: 4096})
    assert.deepEqual([windowed.maxPositionEmbeddings, windowed.layerWindows], [32768, [4096, 4096, 4096, 4096]])
  })

  it('refuse expert settings that cannot run, naming the key', () => {
    const qwen3 = {...BASE, architectures: ['Qwen3MoeForCausalLM']}
    assert.throws(() => parseModelConfig({...qwen3, num_experts: 8, num_local_experts: 4}), loadError(/"num_experts" \(8\) and "num_local_experts" \(4\) disagree/))
    assert.throws(() => parseModelConfig({...qwen3, num_experts: 4, num_experts_per_tok: 5}), loadError(/num_experts_per_tok 5 exceeds the 4 experts/))
    assert.throws(() => parseModelConfig({...qwen3, moe_intermediate_size: 0}), loadError(/"moe_intermediate_size" must be a positive integer/))
    assert.throws(() => parseModelConfig({...qwen3, decoder_sparse_step: 0}), loadError(/"decoder_sparse_step" must be a positive integer/))
    assert.throws(() => parseModelConfig({...qwen3, num_experts: 1e6}), loadError(/1000000 experts is more than the 4096 supported/))
    assert.throws(() => parseModelConfig({...BASE, architectures: ['PhiMoEForCausalLM'], num_experts_per_tok: 3}), loadError(/PhiMoE's sparsemixer routes every token to 2 experts \(num_experts_per_tok 3, 16 experts\)/))
    assert.throws(() => parseModelConfig({...BASE, architectures: ['Qwen2MoeForCausalLM'], use_sliding_window: true, sliding_window: 64}), loadError(/use_sliding_window without "layer_types" is not supported for Qwen2-MoE/))
  })
})

describe('mixture-of-experts checkpoints', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-moe-'))
  after(() => rmSync(scratch, {recursive: true, force: true}))

  for (const variant of ['mixtral', 'qwen2moe', 'qwen3moe'] as const) {
    it(`${variant}: logits of every position within 1e-4 of the float64 reference, portable and AVX2`, async () => {
      await checkAgainstReference(variant)
    })

    it(`${variant}: matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkAgainstTransformers(variant)
    })
  }

  it('Mixtral keeps its checkpoint names (block_sparse_moe.experts.E.w1/w3/w2): a missing expert is refused by that name', async () => {
    const dir = join(scratch, 'mixtral-missing')
    cpSync(await ensureTestModel('tiny', {variant: 'mixtral'}), dir, {recursive: true})
    const kept = readCheckpointTensors(dir).filter((t) => t.name !== 'model.layers.1.block_sparse_moe.experts.7.w3.weight')
    rewriteCheckpoint(dir, kept.map((t) => ({name: t.name, shape: t.shape, values: readTensorFloat64(t)})))
    await assert.rejects(loadModel(dir), loadError(/Tensor model\.layers\.1\.block_sparse_moe\.experts\.7\.w3\.weight is missing .*expected shape \[64, 64\]/))
  })

  it('equal router probabilities go to the lowest expert indices (every expert tied: experts 0 and 1)', async () => {
    const dir = join(scratch, 'mixtral-tied')
    cpSync(await ensureTestModel('tiny', {variant: 'mixtral'}), dir, {recursive: true})
    const tensors = readCheckpointTensors(dir).map((t) => {
      const values = readTensorFloat64(t)
      // Every router row a copy of expert 3's: all logits, so all probabilities, equal.
      if (t.name.endsWith('block_sparse_moe.gate.weight')) for (let e = 0; e < t.shape[0]!; e++) values.copyWithin(e * t.shape[1]!, 3 * t.shape[1]!, 4 * t.shape[1]!)
      return {name: t.name, shape: t.shape, values}
    })
    rewriteCheckpoint(dir, tensors)
    const [model, reference] = [await loadModel(dir), await ReferenceModel.load(dir)]
    const {logits, prompts} = await promptLogits(model, 'f32')
    const vocab = model.config.vocabSize
    const expected = prompts.flatMap((prompt) => reference.logits(prompt))
    expected.forEach((row, i) => assert.ok(relativeError(logits.subarray(i * vocab, (i + 1) * vocab), row) < 1e-4, `position ${i}`))
  })

  it('experts in bf16, and quantized at load to q8_0 and q4_0 (the router stays f32): close to float64 on those weights, fewer bytes', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'qwen2moe'})
    const model = await loadModel(dir)
    const ops = nativeOps()
    const f32Bytes = (await promptLogits(model, 'f32')).weightBytes
    for (const format of ['bf16', 'q8_0', 'q4_0'] as const) {
      // Every matrix but the router and the shared expert's gate, as the engine keeps it.
      const reference = await ReferenceModel.load(dir, {
        mapWeight: (name, values, shape) => {
          if (shape.length !== 2 || /mlp\.gate\.weight$|shared_expert_gate\.weight$/.test(name)) return values
          if (format === 'bf16') return Float64Array.from(values, (v) => bf16BitsToFloat32(float32ToBf16Bits(v)))
          return Float64Array.from(ops.dequantizeRows(ops.quantizeRows(Float32Array.from(values), shape[0]!, shape[1]!, format), shape[0]!, shape[1]!, format))
        },
      })
      const {logits, prompts, weightBytes} = await promptLogits(model, format)
      assert.ok(weightBytes < f32Bytes / (format === 'bf16' ? 1.9 : 3), `${format}: ${weightBytes} bytes vs ${f32Bytes} in f32`)
      const vocab = model.config.vocabSize
      // The quantized kernels also round each input row to 8 bits per 32 values (quantized-model.test.ts' 0.25); the
      // experts' 32-wide down rows are one block each, and q4_0 moved logprobs by up to 0.26 here (measured). A wrong
      // code, scale, layout or expert moves them by whole units.
      const tolerance = {bf16: 1e-4, q8_0: 0.25, q4_0: 0.4}[format]
      prompts.flatMap((prompt) => reference.logits(prompt)).forEach((row, i) => {
        const error = topLogprobError(logits.subarray(i * vocab, (i + 1) * vocab), row)
        assert.ok(error < tolerance, `${format} position ${i}: logprob error ${error}`)
      })
    }
  })
})

function rewriteCheckpoint(dir: string, tensors: {name: string; shape: number[]; values: Float64Array}[]): void {
  const path = join(dir, 'model.safetensors')
  const encoded = tensors.map((t) => ({name: t.name, dtype: 'F32' as const, shape: t.shape, data: () => new Uint8Array(Float32Array.from(t.values).buffer)}))
  writeSafetensors(path, encoded, {format: 'pt'})
}

describe('mixture-of-experts GGUF files', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-moe-gguf-'))
  after(() => rmSync(scratch, {recursive: true, force: true}))
  const cases = [
    {variant: 'mixtral', arch: 'llama', family: 'llama2', perExpert: false},
    {variant: 'mixtral', arch: 'llama', family: 'llama2', perExpert: true},
    {variant: 'qwen2moe', arch: 'qwen2moe', family: 'qwen2', perExpert: false},
    {variant: 'qwen3moe', arch: 'qwen3moe', family: 'qwen2', perExpert: false},
  ] as const

  for (const {variant, arch, family, perExpert} of cases) {
    it(`${arch} (the ${variant} checkpoint, experts ${perExpert ? 'one tensor each' : 'in 3D ffn_*_exps tensors'}): the checkpoint's config and logits`, async () => {
      const hf = await loadModel(await ensureTestModel('tiny', {variant}))
      const path = join(scratch, `${variant}-${perExpert}.gguf`)
      writeFileSync(path, moeGgufBytes(hf, arch, family, {perExpert}))
      const gguf = await loadModel(path)
      const features = (m: typeof hf) => [m.config.architecture, m.config.moe, m.config.attentionBias, m.config.qkNorm, m.config.intermediateSize]
      assert.deepEqual(features(gguf), features(hf))
      assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
    })
  }

  it('refuses sigmoid expert gating and a qwen3moe file without expert_count, by key', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'qwen3moe'}))
    const path = join(scratch, 'edited.gguf')
    writeFileSync(path, moeGgufBytes(hf, 'qwen3moe', 'qwen2', {metadata: {'qwen3moe.expert_gating_func': {type: 'u32', value: 2}}}))
    await assert.rejects(loadModel(path), loadError(/qwen3moe\.expert_gating_func 2 is not supported \(softmax routing only\)/))
    writeFileSync(path, moeGgufBytes(hf, 'qwen3moe', 'qwen2', {metadata: {'qwen3moe.expert_count': undefined}}))
    await assert.rejects(loadModel(path), loadError(/GGUF metadata qwen3moe\.expert_count is missing/))
  })
})
