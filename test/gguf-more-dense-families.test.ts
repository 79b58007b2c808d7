// GGUF starcoder, gptj, minicpm3, apertus, jais2 and bitnet files (with per-tensor scales too), written from the HF test
// checkpoints (already checked against transformers) as llama.cpp's converters and tensor map write them, load as those checkpoints (their config.json
// edited to what llama.cpp's files fix): the same features and the same logits.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {f32, q8_0Matrices, u32, type GgufEntry, type GgufTensorSpec} from './support/gguf-file.js'
import {ggufScratch} from './support/gguf-scratch.js'
import {withConfig} from './support/edited-checkpoint.js'
import {convertedValues, ggufNameOf} from './support/layernorm-gguf.js'
import {familyVocabMetadata} from './support/llama-gguf.js'
import {moreDenseMetadata, moreDenseTensors, ternarizedBitnetCheckpoint} from './support/more-dense-gguf.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

const {dir, write} = ggufScratch('pagedllm-gguf-more-dense-')

/** A LayerNorm-family checkpoint's tensors as llama.cpp's converter writes them (GPTBigCode's per-head q|k|v regrouped). */
function layerNormTensors(hf: LoadedModel): GgufTensorSpec[] {
  return hf.tensors.map((t) => ({name: ggufNameOf(t.name), dims: [...t.shape].reverse(), data: Buffer.from(convertedValues(t).buffer)}))
}

/** The metadata StarCoderModel's converter writes (head_count_kv: 1, or the head count for a multi-head file). */
function starcoderMetadata(hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  return {
    'general.architecture': {type: 'string', value: 'starcoder'}, 'starcoder.context_length': u32(c.maxPositionEmbeddings), 'starcoder.embedding_length': u32(c.hiddenSize),
    'starcoder.feed_forward_length': u32(c.intermediateSize), 'starcoder.block_count': u32(c.numLayers), 'starcoder.attention.head_count': u32(c.numHeads),
    'starcoder.attention.head_count_kv': u32(c.numKvHeads), 'starcoder.attention.layer_norm_epsilon': f32(c.rmsNormEps),
    ...familyVocabMetadata('gpt2', c.vocabSize, 'starcoder'),
  }
}

/** GPT-J under gguf-py's names and the generic keys (llama.cpp has no GPT-J converter). */
function gptjMetadata(hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  return {
    'general.architecture': {type: 'string', value: 'gptj'}, 'gptj.context_length': u32(c.maxPositionEmbeddings), 'gptj.embedding_length': u32(c.hiddenSize),
    'gptj.feed_forward_length': u32(c.intermediateSize), 'gptj.block_count': u32(c.numLayers), 'gptj.attention.head_count': u32(c.numHeads),
    'gptj.rope.dimension_count': u32(c.layerNorm!.rotaryDim), 'gptj.attention.layer_norm_epsilon': f32(c.rmsNormEps),
    ...familyVocabMetadata('gpt2', c.vocabSize, 'gpt-2'),
  }
}

describe('GGUF starcoder / gptj files', () => {
  /** The checkpoint's features, logits within 1e-5 at f32, and bit-identical logits at q8_0 to the checkpoint quantized at load. */
  const same = async (hf: LoadedModel, name: string, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]) => {
    const gguf = await loadModel(write(name, metadata, tensors))
    const c = hf.config
    assert.deepEqual([gguf.config.architecture, gguf.config.numKvHeads, gguf.config.layerNorm, gguf.config.hiddenAct, gguf.config.tieWordEmbeddings], [c.architecture, c.numKvHeads, c.layerNorm, c.hiddenAct, c.tieWordEmbeddings])
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
    const q8 = await loadModel(write(`${name}-q8_0`, metadata, q8_0Matrices(tensors)))
    assert.equal(maxAbsDifference((await promptLogits(q8, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  }

  it('starcoder: multi-query attn_qkv [all q | k | v], learned positions, biases: the gpt-bigcode checkpoint\'s logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-bigcode'}))
    assert.equal(hf.config.numKvHeads, 1)
    await same(hf, 'starcoder', starcoderMetadata(hf), layerNormTensors(hf))
  })

  it('starcoder with head_count_kv = head_count: attn_qkv read as llama.cpp\'s graph reads it, the multi-head checkpoint\'s logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-bigcode-mha'}))
    assert.equal(hf.config.numKvHeads, hf.config.numHeads)
    await same(hf, 'starcoder-mha', starcoderMetadata(hf), layerNormTensors(hf))
  })

  it('gptj: parallel block, interleaved rotary over part of each head, lm_head bias: the gptj checkpoint\'s logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'gptj'}))
    assert.ok(hf.config.layerNorm!.rotaryDim < hf.config.headDim)
    await same(hf, 'gptj', gptjMetadata(hf), layerNormTensors(hf))
  })

  it('refuses a malformed starcoder or gptj file, naming the key or tensor', async () => {
    const bigcode = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-bigcode'}))
    const gptj = await loadModel(await ensureTestModel('tiny', {variant: 'gptj'}))
    await assert.rejects(loadModel(write('starcoder-gqa', {...starcoderMetadata(bigcode), 'starcoder.attention.head_count_kv': u32(2)}, layerNormTensors(bigcode))),
      loadError(/starcoder\.attention\.head_count_kv 2 is neither 1 .* nor head_count 4/))
    const {'gptj.rope.dimension_count': _rotary, ...noRotary} = gptjMetadata(gptj)
    await assert.rejects(loadModel(write('gptj-no-rotary', noRotary, layerNormTensors(gptj))), loadError(/GGUF metadata gptj\.rope\.dimension_count is missing/))
    const noQkv = layerNormTensors(bigcode).filter((t) => t.name !== 'blk.1.attn_qkv.weight')
    await assert.rejects(loadModel(write('starcoder-no-qkv', starcoderMetadata(bigcode), noQkv)), loadError(/Tensor transformer\.h\.1\.attn\.c_attn\.weight is missing/))
  })
})

describe('GGUF minicpm3 / apertus / jais2 / bitnet files', () => {
  /** What tells the families' runs apart, to be the same in the file as in the checkpoint. */
  const features = (m: LoadedModel): unknown => {
    const c = m.config
    return [c.architecture, c.numKvHeads, c.headDim, c.rotaryDim, c.mla, c.qkNorm, c.rmsVariant, c.embeddingScale, c.attentionBias, c.mlpBias, c.hiddenAct, c.ropeScaling, c.tieWordEmbeddings]
  }
  /**
   * The checkpoint's features, logits within 1e-5 at f32, and bit-identical logits at q8_0 to the checkpoint quantized at
   * load; rows shorter than a block (MLA's kv_b over a rank of 16) stay F32 in both.
   */
  const same = async (hf: LoadedModel, name: string, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]) => {
    const gguf = await loadModel(write(name, metadata, tensors))
    assert.deepEqual(features(gguf), features(hf))
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
    const q8 = await loadModel(write(`${name}-q8_0`, metadata, tensors.flatMap((t) => (t.dims[0]! % 32 === 0 ? q8_0Matrices([t]) : [t]))))
    assert.equal(maxAbsDifference((await promptLogits(q8, 'f32')).logits, (await promptLogits(hf, 'q8_0')).logits), 0)
  }
  // llama.cpp's minicpm3 graph fixes MiniCPM3-4B's multipliers, which its converter does not write.
  const minicpm3 = async () => withConfig(await ensureTestModel('tiny', {variant: 'minicpm3'}), (json) => ({...json, scale_emb: 12, scale_depth: 1.4, dim_model_base: 256}))

  it('minicpm3: latent attention under deepseek2\'s tensor names, llama.cpp\'s fixed multipliers: the checkpoint\'s logits', async () => {
    const hf = await minicpm3()
    assert.equal(hf.config.embeddingScale, 12)
    await same(hf, 'minicpm3', moreDenseMetadata('minicpm3', hf), moreDenseTensors(hf))
  })

  it('minicpm3: LongRoPE as rope_factors_short / _long over the training context (the converter writes no original context)', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'minicpm3'}), (json) => ({...json, scale_emb: 12, scale_depth: 1.4, dim_model_base: 256,
      rope_scaling: {type: 'longrope', short_factor: [1, 1.5, 2, 4], long_factor: [2, 3, 4, 8], original_max_position_embeddings: json.max_position_embeddings}}))
    assert.equal(hf.config.ropeScaling.type, 'longrope')
    const factors = (name: string, values: number[]): GgufTensorSpec => ({name, dims: [values.length], data: Buffer.from(new Float32Array(values).buffer)})
    const tensors = [...moreDenseTensors(hf), factors('rope_factors_short.weight', [1, 1.5, 2, 4]), factors('rope_factors_long.weight', [2, 3, 4, 8])]
    await same(hf, 'minicpm3-longrope', moreDenseMetadata('minicpm3', hf), tensors)
  })

  it('refuses a malformed minicpm3 file, naming the key or tensor', async () => {
    const hf = await minicpm3()
    const {'minicpm3.attention.kv_lora_rank': _rank, ...noRank} = moreDenseMetadata('minicpm3', hf)
    await assert.rejects(loadModel(write('minicpm3-no-rank', noRank, moreDenseTensors(hf))), loadError(/GGUF metadata minicpm3\.attention\.kv_lora_rank is missing/))
    const noKvB = moreDenseTensors(hf).filter((t) => t.name !== 'blk.1.attn_kv_b.weight')
    await assert.rejects(loadModel(write('minicpm3-no-kv-b', moreDenseMetadata('minicpm3', hf), noKvB)), loadError(/model\.layers\.1\.self_attn\.kv_b_proj\.weight/))
  })

  it('apertus: q/k norms, the ungated xIELU MLP with its scalars from the xielu.* arrays, Llama 3 rope as rope_freqs: the checkpoint\'s logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'apertus'}))
    assert.equal(hf.config.ropeScaling.type, 'llama3')
    await same(hf, 'apertus', moreDenseMetadata('apertus', hf), moreDenseTensors(hf))
  })

  it('apertus: one f32 per xielu.* key holds for every layer (llama.cpp broadcasts it); no rope_freqs is plain rope', async () => {
    const hf = await withConfig(await ensureTestModel('tiny', {variant: 'apertus'}), (json) => ({...json, rope_parameters: {rope_type: 'default', rope_theta: 5e5}}))
    const layer0 = hf.tensors.filter((t) => /^model\.layers\.0\.mlp\.act_fn\./.test(t.name))
    // Every layer with layer 0's scalars, in the checkpoint and as single f32 values in the file.
    const broadcast = {...hf, tensors: hf.tensors.map((t) => {
      const scalar = /^model\.layers\.\d+\.mlp\.act_fn\.(.+)$/.exec(t.name)
      return scalar ? {...layer0.find((s) => s.name.endsWith(`.${scalar[1]}`))!, name: t.name} : t
    })}
    const metadata = moreDenseMetadata('apertus', broadcast)
    for (const key of ['alpha_p', 'alpha_n', 'beta', 'eps']) metadata[`xielu.${key}`] = f32((metadata[`xielu.${key}`] as {value: number[]}).value[0]!)
    assert.equal(broadcast.config.ropeScaling.type, 'none')
    await same(broadcast, 'apertus-scalar', metadata, moreDenseTensors(broadcast))
  })

  it('refuses a malformed apertus file, naming the key or tensor', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'apertus'}))
    const {'xielu.beta': _beta, ...noBeta} = moreDenseMetadata('apertus', hf)
    await assert.rejects(loadModel(write('apertus-no-beta', noBeta, moreDenseTensors(hf))), loadError(/GGUF metadata xielu\.beta is missing \(Apertus's per-layer xIELU scalars\)/))
    await assert.rejects(loadModel(write('apertus-short-eps', {...moreDenseMetadata('apertus', hf), 'xielu.eps': {type: 'f32s', value: [1e-6]}}, moreDenseTensors(hf))),
      loadError(/GGUF metadata xielu\.eps must be one f32 per layer \(2\) or a single f32, got 1 values/))
    await assert.rejects(loadModel(write('apertus-int-eps', {...moreDenseMetadata('apertus', hf), 'xielu.eps': {type: 'i32s', value: [0, 0]}}, moreDenseTensors(hf))),
      loadError(/xielu\.eps must be one f32 per layer \(2\) or a single f32, got 2 values \(not f32\)/))
    const noKNorm = moreDenseTensors(hf).filter((t) => t.name !== 'blk.0.attn_k_norm.weight')
    await assert.rejects(loadModel(write('apertus-no-k-norm', moreDenseMetadata('apertus', hf), noKNorm)), loadError(/model\.layers\.0\.self_attn\.k_norm\.weight/))
  })

  it('jais2: LayerNorms with biases, relu2 MLP, every projection biased: the checkpoint\'s logits', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'jais2'}))
    assert.equal(hf.config.hiddenAct, 'relu2')
    await same(hf, 'jais2', moreDenseMetadata('jais2', hf), moreDenseTensors(hf))
  })

  it('refuses a malformed jais2 file, naming the key or tensor', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'jais2'}))
    const {'jais2.feed_forward_length': _ffn, ...noFfn} = moreDenseMetadata('jais2', hf)
    await assert.rejects(loadModel(write('jais2-no-ffn', noFfn, moreDenseTensors(hf))), loadError(/GGUF metadata jais2\.feed_forward_length is missing/))
    const noNormBias = moreDenseTensors(hf).filter((t) => t.name !== 'blk.1.ffn_norm.bias')
    await assert.rejects(loadModel(write('jais2-no-norm-bias', moreDenseMetadata('jais2', hf), noNormBias)), loadError(/model\.layers\.1\.post_attention_layernorm\.bias/))
  })

  // bitnet: the checkpoint as the converter leaves it (projections ternarized once, tied), run as llama.cpp runs the file.
  const bitnet = async (act: 'silu' | 'relu2') => loadModel(ternarizedBitnetCheckpoint(await ensureTestModel('tiny', {variant: 'bitnet'}), join(dir, `hf-bitnet-${act}`), act))

  it('bitnet: ternarized projections run as stored (no re-ternarizing, float activations), sub-norms, relu2 by bitnet.hidden_activation', async () => {
    const hf = await bitnet('relu2')
    assert.equal(hf.config.rmsVariant?.bitLinear, undefined)
    const tensors = moreDenseTensors(hf)
    // Each projection holds at most three values: -s, 0 and s.
    const q = tensors.find((t) => t.name === 'blk.0.attn_q.weight')!
    assert.ok(new Set(new Float32Array(q.data.buffer, q.data.byteOffset, q.data.length / 4)).size <= 3)
    await same(hf, 'bitnet', moreDenseMetadata('bitnet', hf), tensors)
  })

  it('bitnet without bitnet.hidden_activation runs SiLU, llama.cpp\'s default', async () => {
    const hf = await bitnet('silu')
    const {'bitnet.hidden_activation': _act, ...metadata} = moreDenseMetadata('bitnet', hf)
    await same(hf, 'bitnet-silu', metadata, moreDenseTensors(hf))
  })

  // Projections split as tools other than llama.cpp's converter write them: values apart from a blk.N.<name>.scale.
  const PROJECTION = /^(blk\.(\d+)\.(?:attn_[qkv]|attn_output|ffn_(?:gate|up|down)))\.weight$/
  const floats = (t: GgufTensorSpec) => new Float32Array(new Uint8Array(t.data).buffer)
  const f32s = (values: number[]) => Buffer.from(new Float32Array(values).buffer)
  const mapProjections = (tensors: GgufTensorSpec[], map: (values: Float32Array, layer: number) => Float32Array): GgufTensorSpec[] => tensors.map((t) => {
    const projection = PROJECTION.exec(t.name)
    return projection ? {...t, data: Buffer.from(map(floats(t), Number(projection[2])).buffer)} : t
  })
  const scaleTensors = (tensors: GgufTensorSpec[], scale: (t: GgufTensorSpec, layer: number) => number): GgufTensorSpec[] => tensors.flatMap((t) => {
    const projection = PROJECTION.exec(t.name)
    return projection ? [{name: `${projection[1]}.scale`, dims: [1], data: f32s([scale(t, Number(projection[2]))])}] : []
  })
  const greedy = async (path: string): Promise<number[]> => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: path, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32'}))
    try {
      const [result] = await engine.generate([{prompt: [1, 5, 9, 20, 7], params: makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})}])
      return result!.outputs[0]!.tokenIds
    } finally {
      await engine.shutdown()
    }
  }
  const sameRun = async (a: string, b: string) => {
    assert.equal(maxAbsDifference((await promptLogits(await loadModel(a), 'f32')).logits, (await promptLogits(await loadModel(b), 'f32')).logits), 0)
    assert.deepEqual(await greedy(a), await greedy(b))
  }

  it('bitnet with per-tensor scales beside ternary codes (llama.cpp\'s optional blk.N.*.scale): the logits and greedy tokens of the scales multiplied in', async () => {
    const hf = await bitnet('relu2')
    const metadata = moreDenseMetadata('bitnet', hf)
    const tensors = moreDenseTensors(hf)
    // F32: codes -1, 0, 1 and the projection's magnitude, whose product is the stored value exactly.
    const magnitude = (values: Float32Array) => Math.max(...values.map(Math.abs))
    const codes = mapProjections(tensors, (values) => {
      const m = magnitude(values)
      return values.map((v) => v / m)
    })
    assert.ok(codes.filter((t) => PROJECTION.test(t.name)).every((t) => floats(t).every((v) => v === -1 || v === 0 || v === 1)))
    await sameRun(write('bitnet', metadata, tensors), write('bitnet-scales', metadata, [...codes, ...scaleTensors(tensors, (t) => magnitude(floats(t)))]))
    // Q8_0 codes: a power-of-two scale moves each block's f16 d without rounding, so the blocks of the values scaled
    // beforehand are met bit for bit.
    const powerOfTwo = (layer: number) => 2 ** -(layer + 2)
    const q8Folded = q8_0Matrices(mapProjections(codes, (values, layer) => values.map((v) => v * powerOfTwo(layer))))
    await sameRun(write('bitnet-q8_0', metadata, q8Folded), write('bitnet-q8_0-scales', metadata, [...q8_0Matrices(codes), ...scaleTensors(codes, (_t, layer) => powerOfTwo(layer))]))
  })

  it('refuses a bitnet file with ternary blocks, malformed scales or an unknown activation, naming the tensor or key', async () => {
    const hf = await bitnet('relu2')
    const metadata = moreDenseMetadata('bitnet', hf)
    const tensors = moreDenseTensors(hf)
    const scaled = [...tensors, {name: 'blk.0.attn_q.scale', dims: [2], data: f32s([0.5, 0.5])}]
    await assert.rejects(loadModel(write('bitnet-scale-shape', metadata, scaled)), loadError(/blk\.0\.attn_q\.scale should hold 1 F32 factors, but is F32 \[2\]/))
    const normScale = [...tensors, {name: 'blk.0.attn_norm.scale', dims: [1], data: f32s([0.5])}]
    await assert.rejects(loadModel(write('bitnet-norm-scale', metadata, normScale)), loadError(/tensor blk\.0\.attn_norm\.scale is not a tensor of a bitnet layer/))
    // Q4_0 (ggml type 2): 18 bytes a block of 32; no scale folds into its offset codes.
    const q4 = [...tensors.map((t) => (t.name === 'blk.1.ffn_down.weight' ? {...t, type: 2, data: Buffer.alloc(t.dims[1]! * t.dims[0]! / 32 * 18)} : t)), {name: 'blk.1.ffn_down.scale', dims: [1], data: f32s([0.5])}]
    await assert.rejects(loadModel(write('bitnet-q4_0-scale', metadata, q4)), loadError(/tensor blk\.1\.ffn_down\.scale scales blk\.1\.ffn_down\.weight, which is Q4_0/))
    // TQ2_0 (ggml type 35) holds 256 values a block: rows of the tiny model's 64 are not whole blocks (gguf-ternary.test.ts runs them).
    const tq2 = tensors.map((t) => (t.name === 'blk.1.ffn_up.weight' ? {...t, type: 35, data: Buffer.alloc(66)} : t))
    await assert.rejects(loadModel(write('bitnet-tq2_0', metadata, tq2)), loadError(/tensor blk\.1\.ffn_up\.weight is TQ2_0 with rows of 64 values, not a whole number of its 256-value blocks/))
    await assert.rejects(loadModel(write('bitnet-gelu', {...metadata, 'bitnet.hidden_activation': {type: 'string', value: 'gelu'}}, tensors)),
      loadError(/bitnet\.hidden_activation "gelu" is not supported \(silu or relu2\)/))
    const noSubNorm = tensors.filter((t) => t.name !== 'blk.1.ffn_sub_norm.weight')
    await assert.rejects(loadModel(write('bitnet-no-sub-norm', metadata, noSubNorm)), loadError(/model\.layers\.1\.mlp\.ffn_sub_norm\.weight/))
  })
})
