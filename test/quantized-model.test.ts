// A checkpoint quantized at load (q8_0, q4_0, q4_k) gives logits close to a float64 forward of the dequantized weights, the same greedy tokens, and batch-invariant rows.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {q4KMediumMoreBits} from '../src/bench/peer/gguf-writer.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {loadNativeModel, nativeOps, type NativeModel, type QuantizedFormat} from '../src/engine/native.js'
import {BLOCK_SHAPES} from './support/ggml-blocks.js'
import {TestBlockPool, TestSequence, buildStep, logitsRow, type StepPart} from './support/paged-batch.js'
import {logSoftmax, randomPrompt, topLogprobError} from './support/logprobs.js'
import {ReferenceModel, argmax} from './support/reference-model.js'

const BLOCK_SIZE = 4
const NUM_BLOCKS = 256
/**
 * Max |logprob error| against float64 on the dequantized weights, over the reference's top-10 tokens. The engine also
 * rounds every linear layer's input to 8 bits per 32 values (as llama.cpp does); on the tiny model (rows of only two
 * such blocks) that moves logprobs by up to 0.12 (measured); a wrong code, scale or layout moves them by whole units.
 */
const LOGPROB_TOLERANCE = 0.25
/** Greedy tokens must agree wherever the reference's top two are further apart than activation rounding can bridge. */
const CLEAR_MARGIN = 2 * LOGPROB_TOLERANCE
const GREEDY_TOKENS = 12

/** The format the native loader gives one matrix (native/cpu/model_weights.cpp: Q4_K_M mix, fallbacks for odd rows). */
function matrixFormat(quantization: QuantizedFormat, name: string, cols: number, tied: boolean, numLayers: number): QuantizedFormat | 'f32' {
  const isOutput = name === 'lm_head.weight' || (tied && name === 'model.embed_tokens.weight')
  const layer = /^model\.layers\.(\d+)\.(self_attn\.v_proj|mlp\.down_proj)\.weight$/.exec(name)
  const moreBits = isOutput || (layer !== null && q4KMediumMoreBits(Number(layer[1]), numLayers))
  let format: QuantizedFormat | 'f32' = quantization === 'q4_k' && moreBits ? 'q6_k' : quantization
  const fallback: Record<string, QuantizedFormat | 'f32'> = {q4_k: 'q5_0', q6_k: 'q8_0', q8_0: 'f32', q4_0: 'f32', q5_0: 'f32'}
  while (format !== 'f32' && cols % BLOCK_SHAPES[format].values !== 0) format = fallback[format]
  return format
}

function dequantizedReference(dir: string, quantization: QuantizedFormat, tied: boolean, numLayers: number): Promise<ReferenceModel> {
  const ops = nativeOps()
  return ReferenceModel.load(dir, {
    mapWeight: (name, values, shape) => {
      if (shape.length !== 2) return values
      // Each matrix through its own format only, as the engine keeps it (also q/k/v stacked in different formats).
      const format = matrixFormat(quantization, name, shape[1], tied, numLayers)
      if (format === 'f32') return values
      const rounded = ops.dequantizeRows(ops.quantizeRows(Float32Array.from(values), shape[0], shape[1], format), shape[0], shape[1], format)
      return Float64Array.from(rounded)
    },
  })
}

for (const quantization of ['q8_0', 'q4_0', 'q4_k'] as const) {
  describe(`tiny model quantized to ${quantization} at load`, () => {
    let native: NativeModel
    let reference: ReferenceModel
    let vocabSize: number
    let config: LoadedModel['config']
    before(async () => {
      const dir = await ensureTestModel('tiny')
      const model = await loadModel(dir)
      config = model.config
      vocabSize = model.config.vocabSize
      native = await loadNativeModel({
        config: model.config, tensors: model.tensors, numBlocks: NUM_BLOCKS, blockSize: BLOCK_SIZE, numSwapBlocks: 0,
        weightFormat: quantization, threads: 2, device: 'cpu',
      })
      reference = await dequantizedReference(dir, quantization, model.config.tieWordEmbeddings, model.config.numLayers)
    })
    after(() => native.close())

    it('stores fewer bytes than f16 would, exactly those of its formats (the Q4_K_M mix for q4_k)', () => {
      // f32 tiny: 512 * 64 * 2 + 2 * (64 * (64 + 32 + 32 + 64) + 3 * 64 * 128) = 139264 values
      assert.ok(native.info.weightBytes < 139264 * 2, `${native.info.weightBytes} bytes`)
      const {hiddenSize: hidden, intermediateSize: inter, numLayers, vocabSize: vocab, tieWordEmbeddings: tied} = config
      const qRows = config.numHeads * config.headDim, kvRows = config.numKvHeads * config.headDim
      const bytes = (name: string, rows: number, cols: number) => {
        const format = matrixFormat(quantization, name, cols, tied, numLayers)
        return rows * (format === 'f32' ? 4 * cols : (cols / BLOCK_SHAPES[format].values) * BLOCK_SHAPES[format].bytes)
      }
      let expected = bytes('model.embed_tokens.weight', vocab, hidden) + (tied ? 0 : bytes('lm_head.weight', vocab, hidden)) + 4 * hidden
      for (let layer = 0; layer < numLayers; layer++) {
        const prefix = `model.layers.${layer}.`
        expected += bytes(`${prefix}self_attn.q_proj.weight`, qRows, hidden) + bytes(`${prefix}self_attn.k_proj.weight`, kvRows, hidden) +
          bytes(`${prefix}self_attn.v_proj.weight`, kvRows, hidden) + bytes(`${prefix}self_attn.o_proj.weight`, hidden, qRows) +
          2 * bytes(`${prefix}mlp.gate_proj.weight`, inter, hidden) + bytes(`${prefix}mlp.down_proj.weight`, hidden, inter) + 2 * 4 * hidden
      }
      assert.equal(native.info.weightBytes, expected)
    })

    it('logprobs close to float64 on the dequantized weights, greedy agrees on clear margins, batched rows bit-identical', async () => {
      const pool = new TestBlockPool(NUM_BLOCKS, 3)
      const prompts = [randomPrompt(9, vocabSize, 1), randomPrompt(23, vocabSize, 2), randomPrompt(5, vocabSize, 3)]
      // Alone: each prompt prefilled and decoded by itself.
      const alone: {tokens: number[]; logits: Float32Array[]}[] = []
      for (const prompt of prompts) {
        const sequence = new TestSequence([...prompt])
        const logits: Float32Array[] = []
        for (let i = 0; i < GREEDY_TOKENS; i++) {
          const part: StepPart = {sequence, count: sequence.tokens.length - sequence.cachedTokens, logits: 'last'}
          const {batch, logitRows} = buildStep([part], pool, BLOCK_SIZE)
          const row = Float32Array.from(logitsRow(await native.step({}, batch), logitRows[0][0], vocabSize))
          logits.push(row)
          sequence.tokens.push(argmax(row))
        }
        alone.push({tokens: sequence.tokens.slice(prompt.length), logits})
      }
      let worst = 0
      let agreed = 0
      prompts.forEach((prompt, p) => {
        const sequence = reference.newSequence()
        let logits = sequence.append(prompt)[0]
        for (let i = 0; i < GREEDY_TOKENS; i++) {
          worst = Math.max(worst, topLogprobError(alone[p].logits[i], logits))
          // The reference follows the engine's tokens (teacher forcing), so one near-tie does not derail the rest.
          const sorted = [...logSoftmax(logits)].sort((a, b) => b - a)
          if (sorted[0] - sorted[1] > CLEAR_MARGIN) assert.equal(alone[p].tokens[i], argmax(logits), `prompt ${p} token ${i}`)
          agreed += alone[p].tokens[i] === argmax(logits) ? 1 : 0
          logits = sequence.append([alone[p].tokens[i]])[0]
        }
      })
      console.log(`# tiny ${quantization}: max top-10 logprob error vs float64 of dequantized weights ${worst.toFixed(3)}, greedy agreement ${agreed}/${prompts.length * GREEDY_TOKENS}`)
      assert.ok(worst < LOGPROB_TOLERANCE, `worst logprob error ${worst}`)

      // Together: the three prompts in one batch, decoded together; every logits row must be bit-identical to alone.
      const sequences = prompts.map((prompt) => new TestSequence([...prompt]))
      for (let i = 0; i < GREEDY_TOKENS; i++) {
        const parts: StepPart[] = sequences.map((sequence) => ({sequence, count: sequence.tokens.length - sequence.cachedTokens, logits: 'last'}))
        const {batch, logitRows} = buildStep(parts, pool, BLOCK_SIZE)
        const logits = await native.step({}, batch)
        sequences.forEach((sequence, p) => {
          const row = logitsRow(logits, logitRows[p][0], vocabSize)
          assert.deepEqual(row, alone[p].logits[i], `prompt ${p} step ${i}: batched logits differ from alone`)
          sequence.tokens.push(argmax(row))
        })
      }
    })
  })
}
