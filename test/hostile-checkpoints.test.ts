// Corrupt or hostile Hugging Face checkpoints (safetensors headers, shard maps, config values) fail with one clear ModelLoadError.
import assert from 'node:assert/strict'
import {cpSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-hostile-')

function loadError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected a ModelLoadError, got ${String(error)}`)
    assert.match(error.message, pattern)
    return true
  }
}

/** Replaces model.safetensors' JSON header by `header` (any JSON value), keeping the data after it. */
function writeHeader(dir: string, header: unknown): void {
  const path = join(dir, 'model.safetensors')
  const bytes = readFileSync(path)
  const data = bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)))
  const json = Buffer.from(JSON.stringify(header))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(path, Buffer.concat([length, json, data]))
}

function headerOf(dir: string): Record<string, {dtype: string; shape: number[]; data_offsets: unknown[]}> {
  const bytes = readFileSync(join(dir, 'model.safetensors'))
  return JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'))
}

describe('corrupt safetensors headers', () => {
  for (const [label, header, pattern] of [
    ['null', null, /header is not a JSON object/],
    ['an array', [1, 2, 3], /header is not a JSON object/],
    ['a number', 42, /header is not a JSON object/],
  ] as const) {
    it(`a header that is ${label}`, async () => {
      const dir = scratch.copy(`header-${label.replace(' ', '-')}`)
      writeHeader(dir, header)
      await assert.rejects(loadModel(dir), loadError(pattern))
    })
  }

  it('a tensor entry that is null or a string', async () => {
    for (const entry of [null, 'F32']) {
      const dir = scratch.copy(`entry-${String(entry)}`)
      writeHeader(dir, {...headerOf(dir), 'model.norm.weight': entry})
      await assert.rejects(loadModel(dir), loadError(/tensor model\.norm\.weight has a malformed header entry/))
    }
  })

  it('a shard map naming a file outside the model directory', async () => {
    const dir = scratch.copy('shard-escape')
    cpSync(join(dir, 'model.safetensors'), join(scratch.dir, 'outside.safetensors'))
    const names = Object.keys(headerOf(dir)).filter((name) => name !== '__metadata__')
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({weight_map: Object.fromEntries(names.map((name) => [name, '../outside.safetensors']))}))
    await assert.rejects(loadModel(dir), loadError(/names shard \.\.\/outside\.safetensors, which is not a file in/))
  })
})

describe('hostile config.json values', () => {
  const base = {
    architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1,
    num_attention_heads: 4, max_position_embeddings: 256,
  }
  const llama3 = {rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64}
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['rope_theta 0', {rope_theta: 0}, /"rope_theta" must be positive, got 0/],
    ['a negative rope_theta', {rope_theta: -10000}, /"rope_theta" must be positive/],
    ['a negative rms_norm_eps', {rms_norm_eps: -1e-5}, /"rms_norm_eps" must not be negative/],
    ['llama3 scaling with low_freq_factor == high_freq_factor', {rope_scaling: {...llama3, low_freq_factor: 4}}, /low_freq_factor \(4\) below high_freq_factor \(4\)/],
    ['llama3 scaling with an inverted band', {rope_scaling: {...llama3, low_freq_factor: 8}}, /low_freq_factor \(8\) below high_freq_factor \(4\)/],
    // Llama has no window (transformers ignores the key); Mistral reads it.
    ['sliding_window 0', {architectures: ['MistralForCausalLM'], sliding_window: 0}, /"sliding_window" must be a positive integer or null, got 0/],
    ['a negative sliding_window', {architectures: ['MistralForCausalLM'], sliding_window: -1}, /"sliding_window" must be a positive integer or null/],
    ['a fractional sliding_window', {architectures: ['MistralForCausalLM'], sliding_window: 3.5}, /"sliding_window" must be a positive integer or null/],
    ['a string sliding_window', {architectures: ['MistralForCausalLM'], sliding_window: '4096'}, /"sliding_window" must be a positive integer or null/],
    // Llama's default rope ignores it; a scaled one fails in transformers.
    ['partial rotary embeddings with a scaled rope', {partial_rotary_factor: 0.5, rope_scaling: {rope_type: 'linear', factor: 2}}, /partial_rotary_factor 0\.5 with "linear" rope is not supported/],
    ['a string partial_rotary_factor', {partial_rotary_factor: '0.5'}, /"partial_rotary_factor" must be a number in \(0, 1\], got "0\.5"/],
    // Echoed whole before, the message ran to the string's length (found by fuzz-model-files).
    ['a 1000-character partial_rotary_factor', {partial_rotary_factor: 'x'.repeat(1000)}, /"partial_rotary_factor" must be a number in \(0, 1\], got "x{59}\.\.\.\.$/],
    // Past 32 bits (found by fuzz-model-files: loadModel passed, the backend refused).
    ['a llama3 original_max_position_embeddings of 2^31', {rope_scaling: {...llama3, original_max_position_embeddings: 2 ** 31}}, /llama3 rope_scaling needs an integer "original_max_position_embeddings" \(at most 2147483647\)/],
    ['a yarn original_max_position_embeddings of 1e30', {rope_scaling: {rope_type: 'yarn', factor: 4, original_max_position_embeddings: 1e30}}, /needs a positive integer "original_max_position_embeddings" \(at most 2147483647\)/],
    ['a GPTQ checkpoint', {quantization_config: {quant_method: 'gptq', bits: 4}}, /quantized checkpoints \(quant_method "gptq"\) are not supported/],
    ['an int4 compressed-tensors checkpoint', {quantization_config: {quant_method: 'compressed-tensors', config_groups: {group_0: {weights: {num_bits: 4, type: 'int'}}}}}, /quant_method "compressed-tensors"\) are not supported/],
    ['an FP8 checkpoint with a malformed block size', {quantization_config: {quant_method: 'fp8', weight_block_size: [128]}}, /"quantization_config\.weight_block_size" must be two positive integers/],
    ['float8 compressed-tensors packed otherwise', {quantization_config: {quant_method: 'compressed-tensors', format: 'pack-quantized', config_groups: {group_0: {weights: {num_bits: 8, type: 'float'}}}}}, /"quantization_config\.format" "pack-quantized" is not supported/],
    ['float8 compressed-tensors in groups', {quantization_config: {quant_method: 'compressed-tensors', format: 'float-quantized', config_groups: {group_0: {weights: {num_bits: 8, type: 'float', strategy: 'group'}}}}}, /"quantization_config\.config_groups\.group_0\.weights\.strategy" "group" is not supported/],
  ]
  for (const [label, fields, pattern] of cases) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseModelConfig({...base, ...fields}), loadError(pattern))
    })
  }

  it('still accepts what real checkpoints write: a null sliding window, a Qwen2 window that is off, eps 0, partial_rotary_factor 1', () => {
    assert.equal(parseModelConfig({...base, sliding_window: null}).maxPositionEmbeddings, 256)
    assert.equal(parseModelConfig({...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: false, sliding_window: 0}).maxPositionEmbeddings, 256)
    assert.equal(parseModelConfig({...base, rms_norm_eps: 0, partial_rotary_factor: 1, quantization_config: null}).rmsNormEps, 0)
  })

  it('takes transformers\' default context when max_position_embeddings is absent', () => {
    const {max_position_embeddings: _absent, ...withoutContext} = base
    assert.equal(parseModelConfig(withoutContext).maxPositionEmbeddings, 2048)
    assert.equal(parseModelConfig({...withoutContext, architectures: ['Qwen2ForCausalLM']}).maxPositionEmbeddings, 32768)
    assert.throws(() => parseModelConfig({...base, max_position_embeddings: 0}), loadError(/"max_position_embeddings" \(a positive integer\)/))
  })

  it('a layer count beyond the checkpoint fails at once instead of listing its tensors', async () => {
    const dir = scratch.copy('layers-many')
    const configPath = join(dir, 'config.json')
    writeFileSync(configPath, JSON.stringify({...JSON.parse(readFileSync(configPath, 'utf8')), num_hidden_layers: 9999}))
    await assert.rejects(loadModel(dir), loadError(/says 9999 layers of 9 tensors each, but the checkpoint in .* holds only 21 tensors/))
  })

  it('a layer count beyond any model is refused before per-layer lists are built (a sliding window per layer, sparse layers)', () => {
    for (const architecture of ['LlamaForCausalLM', 'Phi3ForCausalLM', 'Gemma3ForCausalLM', 'MixtralForCausalLM']) {
      for (const layers of [20_000, 1_000_000]) {
        assert.throws(() => parseModelConfig({...base, architectures: [architecture], num_hidden_layers: layers, num_local_experts: 2, num_experts_per_tok: 1}), loadError(/"num_hidden_layers" \d+ is beyond any model's \(at most 10000\)/))
      }
    }
  })
})

describe('a tokenizer with more ids than the model', () => {
  function withTokenizer(name: string, edit: (json: {added_tokens: object[]; model: {vocab: Record<string, number>}}) => void): string {
    const dir = scratch.copy(name)
    const path = join(dir, 'tokenizer.json')
    const json = JSON.parse(readFileSync(path, 'utf8'))
    edit(json)
    writeFileSync(path, JSON.stringify(json))
    return dir
  }

  it('loads when the extra ids are added tokens (a fine-tune\'s <pad>), and says so', async () => {
    const dir = withTokenizer('added-pad', (json) => json.added_tokens.push({id: 512, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}))
    const model = await loadModel(dir)
    assert.equal(model.tokenizer.encode('<pad>', {addSpecialTokens: false})[0], 512)
    assert.match(model.config.notes?.join('\n') ?? '', /adds 1 token\(s\) beyond the model's vocab_size 512 \(<pad>\); prompts holding them are refused/)
  })

  it('refuses ordinary vocabulary beyond the model, which plain text would reach', async () => {
    const dir = withTokenizer('big-vocab', (json) => (json.model.vocab['zzzz'] = 512))
    await assert.rejects(loadModel(dir), loadError(/tokenizer\.json has 513 tokens but the model's vocab_size is 512 \(token 512 is ordinary vocabulary/))
  })
})

describe('a directory holding a GGUF file', () => {
  it('names the file to pass, with or without a config.json beside it', async () => {
    const bare = join(scratch.dir, 'gguf-only')
    mkdirSync(bare)
    writeFileSync(join(bare, 'model-q8_0.gguf'), 'GGUF')
    await assert.rejects(loadModel(bare), loadError(/No config\.json in model directory .*gguf-only, which holds model-q8_0\.gguf: a GGUF file is loaded by its path/))
    const withConfig = scratch.copy('gguf-and-config')
    rmSync(join(withConfig, 'model.safetensors'))
    writeFileSync(join(withConfig, 'model.gguf'), 'GGUF')
    await assert.rejects(loadModel(withConfig), loadError(/A GGUF file is loaded by its path: pass .*gguf-and-config\/model\.gguf as the model/))
  })
})

describe('special tokens named only in special_tokens_map.json (older checkpoints)', () => {
  it('give BOS/EOS to the tokenizer and the chat template', async () => {
    const dir = scratch.copy('special-tokens-map')
    const configPath = join(dir, 'tokenizer_config.json')
    const {bos_token: bos, eos_token: eos, ...rest} = JSON.parse(readFileSync(configPath, 'utf8'))
    writeFileSync(configPath, JSON.stringify(rest))
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({bos_token: {content: bos, lstrip: false, normalized: false, rstrip: false, single_word: false}, eos_token: eos}))
    const {tokenizer} = await loadModel(dir)
    assert.equal(tokenizer.bosTokenId, 1)
    assert.ok(tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]).startsWith(bos))
  })
})
