// A multimodal checkpoint made from a text test model: its config.json a fixture (the ForConditionalGeneration config
// transformers writes), its tensors renamed as the multimodal model keeps its language model, plus one vision tensor.
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {encodeFloats, readTensorFloat64, writeSafetensors} from '../../src/engine/model/safetensors.js'

/** Runs `check` on a scratch copy of `textDir` as the multimodal checkpoint; the copy is removed after. */
export async function withMultimodalCheckpoint(textDir: string, text: LoadedModel, spec: {configFixture: string; rename: (name: string) => string; visionTensor: string}, check: (dir: string) => Promise<void>): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-multimodal-'))
  try {
    cpSync(textDir, scratch, {recursive: true})
    cpSync(join(import.meta.dirname, '..', 'fixtures', spec.configFixture), join(scratch, 'config.json'))
    const tensors = [...text.tensors.map((t) => ({name: spec.rename(t.name), values: Float32Array.from(readTensorFloat64(t)), shape: t.shape})),
      {name: spec.visionTensor, values: new Float32Array(32), shape: [32]}]
    writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
    await check(scratch)
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}
