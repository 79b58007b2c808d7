// GGUF phi3, gemma2 and gemma3 files, written from the HF test checkpoints as llama.cpp's converter writes them, load as
// those checkpoints: the same config, and the same logits at f32 and q8_0.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {writeGguf, type GgufFileFormat} from '../src/bench/peer/gguf-writer.js'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {parseModelConfig, type ModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const FORMATS: GgufFileFormat[] = ['f32', 'q8_0']

/** What a GGUF file cannot hold as the checkpoint does: the dtype name, eps and factors rounded to f32, one eos id. */
function comparable(c: ModelConfig): unknown {
  const rope = c.ropeScaling.type === 'longrope'
    ? {...c.ropeScaling, shortFactor: c.ropeScaling.shortFactor.map(Math.fround), longFactor: c.ropeScaling.longFactor.map(Math.fround), frequencyDivisors: c.ropeScaling.frequencyDivisors.map(Math.fround), attentionFactor: Math.fround(c.ropeScaling.attentionFactor)}
    : c.ropeScaling
  return {...c, modelType: '', torchDtype: '', rmsNormEps: Math.fround(c.rmsNormEps), eosTokenIds: [], ropeScaling: rope, attnLogitSoftcap: Math.fround(c.attnLogitSoftcap), finalLogitSoftcap: Math.fround(c.finalLogitSoftcap)}
}

/** Writes `hf` as GGUF in each format and checks the file's config and its logits against the checkpoint's (loaded in the same format). */
async function checkRoundTrip(hf: LoadedModel, dir: string, name: string, reference: LoadedModel = hf): Promise<void> {
  for (const format of FORMATS) {
    const path = join(dir, `${name}-${format}.gguf`)
    writeGguf(hf, path, {format})
    const gguf = await loadModel(path)
    assert.deepEqual(comparable(gguf.config), comparable(hf.config), format)
    // The same bytes in the same order (fused tensors cut into windows of the file): bit-identical logits.
    assert.equal(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(reference, format)).logits), 0, format)
  }
}

describe('GGUF phi3 / gemma2 / gemma3 files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-phi3-gemma-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('phi3: fused attn_qkv and ffn_up (gate rows first), LongRoPE as rope_factors_short/long, a window on every layer', async () => {
    const hf = await loadModel(await ensureTestModel('tiny', {variant: 'phi3'}))
    assert.equal(hf.config.ropeScaling.type, 'longrope')
    // llama.cpp stores the factors as F32: the checkpoint with its factors so rounded runs bit for bit as the file.
    const rope = hf.config.ropeScaling as Extract<ModelConfig['ropeScaling'], {type: 'longrope'}>
    const rounded = {...rope, shortFactor: rope.shortFactor.map(Math.fround), longFactor: rope.longFactor.map(Math.fround), frequencyDivisors: rope.frequencyDivisors.map(Math.fround)}
    await checkRoundTrip(hf, dir, 'phi3', {...hf, config: {...hf.config, ropeScaling: rounded}})
    const gguf = await loadModel(join(dir, 'phi3-f32.gguf'))
    assert.ok(maxAbsDifference((await promptLogits(gguf, 'f32')).logits, (await promptLogits(hf, 'f32')).logits) < 1e-5)
    assert.deepEqual([gguf.config.fusedProjections, gguf.config.layerWindows, gguf.config.maxPositionEmbeddings], [true, hf.config.layerWindows, hf.config.maxPositionEmbeddings])
  })
})
