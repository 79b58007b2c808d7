// --device selection: auto picks CUDA only when built and available, cpu is always honoured, cuda fails clearly.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {describeCudaStatus, selectDevice} from '../src/engine/device.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {testModelConfigJson} from '../src/engine/model/test-model.js'
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

  it('a run that needs a CPU-only feature: auto picks the CPU and says why, cuda is refused naming the flag', () => {
    const llama = parseModelConfig(testModelConfigJson('tiny', {variant: 'llama'}))
    const none = {quantization: undefined, batchInvariant: false}
    assert.equal(cpuOnlyNeed(none, {config: llama, tensors: []}), null)
    // What native/cuda now runs: Gemma's, Gemma 2's and Gemma 3's layers, sliding windows, MLP and o_proj biases, partial
    // rotary, any head_dim to 256, gated MLPs of relu and exact gelu, Mixtral's and Qwen-MoE's sparse MLPs (moe_forward.cu).
    for (const variant of ['gemma', 'gemma2', 'gemma3', 'phi3', 'mistral', 'mixtral', 'qwen2moe', 'qwen3moe'] as const)
      assert.equal(cpuOnlyNeed(none, {config: parseModelConfig(testModelConfigJson('tiny', {variant})), tensors: []}), null, variant)
    for (const config of [{...llama, mlpBias: true}, {...llama, attentionOutputBias: true}, {...llama, architecture: 'Phi3ForCausalLM', rotaryDim: 48}, {...llama, headDim: 12},
      {...llama, hiddenAct: 'gelu' as const}, {...llama, hiddenAct: 'relu' as const}])
      assert.equal(cpuOnlyNeed(none, {config, tensors: []}), null)
    const needs = [
      cpuOnlyNeed({quantization: 'q8_0', batchInvariant: false}, {config: llama, tensors: []}),
      cpuOnlyNeed({...none, batchInvariant: true}, {config: llama, tensors: []}),
      cpuOnlyNeed(none, {config: llama, tensors: [{blockFormat: 'q4_k'}] as never}),
      cpuOnlyNeed(none, {config: {...llama, headDim: 320}, tensors: []}),
    ]
    for (const need of needs) {
      assert.ok(need !== null)
      const auto = selectDevice('auto', {cuda: true}, h100, need)
      assert.equal(auto.device, 'cpu')
      assert.ok(auto.message.includes(need.reason), auto.message)
      assert.throws(() => selectDevice('cuda', {cuda: true}, h100, need), (error: unknown) => error instanceof InvalidRequestError && error.param === need.param && /CPU backend only/.test(error.message))
    }
    assert.equal(needs[0]!.param, 'quantization')
    // The LayerNorm family (native/cuda/layernorm_forward.cu), ALiBi included, runs on CUDA whatever its plain MLP's activation;
    // GPT-Neo's local layers take the sliding-window kernels; a gated MLP (StableLM) takes every activation too.
    for (const variant of ['opt', 'gpt-neox', 'gpt2', 'phi', 'stablelm', 'starcoder2', 'gptj', 'gpt-bigcode', 'bloom', 'falcon', 'mpt', 'gpt-neo'] as const)
      assert.equal(cpuOnlyNeed(none, {config: parseModelConfig(testModelConfigJson('tiny', {variant})), tensors: []}), null, variant)
    const stablelm = parseModelConfig(testModelConfigJson('tiny', {variant: 'stablelm'}))
    assert.equal(cpuOnlyNeed(none, {config: {...stablelm, hiddenAct: 'relu'}, tensors: []}), null)
    assert.equal(cpuOnlyNeed(none, {config: {...parseModelConfig(testModelConfigJson('tiny', {variant: 'gpt2'})), hiddenAct: 'relu'}, tensors: []}), null)
  })
})

describe('describeCudaStatus', () => {
  const insufficient = 'CUDA driver version is insufficient for CUDA runtime version'

  it('says "no NVIDIA GPU/driver found" when the runtime blames the driver and libcuda.so.1 does not load', () => {
    for (const error of ['cudaErrorInsufficientDriver', 'cudaErrorNoDevice']) {
      const status = describeCudaStatus({available: false, detail: insufficient, error, driverLoadable: false})
      assert.deepEqual(status, {available: false, detail: 'no NVIDIA GPU/driver found'})
    }
  })

  it('keeps the runtime reason when a driver is installed (an old driver, or a driver with no device)', () => {
    assert.deepEqual(describeCudaStatus({available: false, detail: insufficient, error: 'cudaErrorInsufficientDriver', driverLoadable: true}),
      {available: false, detail: insufficient})
    assert.deepEqual(describeCudaStatus({available: false, detail: 'no CUDA-capable device is detected', error: 'cudaErrorNoDevice', driverLoadable: true}),
      {available: false, detail: 'no CUDA-capable device is detected'})
  })

  it('keeps other failures and a found device as they are', () => {
    const other = {available: false, detail: 'initialization error', error: 'cudaErrorInitializationError', driverLoadable: false}
    assert.deepEqual(describeCudaStatus(other), {available: false, detail: 'initialization error'})
    assert.deepEqual(describeCudaStatus({available: false, detail: 'built without CUDA', error: '', driverLoadable: false}),
      {available: false, detail: 'built without CUDA'})
    assert.deepEqual(describeCudaStatus({available: true, detail: 'NVIDIA H200', error: '', driverLoadable: true}), {available: true, detail: 'NVIDIA H200'})
  })

  it('the auto fallback line then names the missing GPU', () => {
    const none = describeCudaStatus({available: false, detail: insufficient, error: 'cudaErrorInsufficientDriver', driverLoadable: false})
    assert.equal(selectDevice('auto', {cuda: true}, none).message, 'CUDA not available (no NVIDIA GPU/driver found), using CPU')
  })
})
