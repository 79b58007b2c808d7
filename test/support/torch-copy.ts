// A copy of a safetensors test model with its weights as PyTorch .bin files (one, or shards with their index, as
// transformers 4 saved them), for the tests of the .bin reader.
import {copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {readSafetensorsHeader, type TensorDtype} from '../../src/engine/model/safetensors.js'
import {writeTorchCheckpoint, type StorageToWrite, type TensorView} from './torch-checkpoint-writer.js'

/** Writes `out` with the model's other files and its weights as pytorch_model.bin, or `shards` files and the index. */
export function writeTorchCopy(modelDir: string, out: string, shards: number): void {
  mkdirSync(out, {recursive: true})
  for (const file of readdirSync(modelDir)) if (!file.endsWith('.safetensors')) copyFileSync(join(modelDir, file), join(out, file))
  const {storages, views} = safetensorsAsTorch(modelDir)
  const perShard = Math.ceil(views.length / shards)
  const weightMap: Record<string, string> = {}
  for (let shard = 0; shard < shards; shard++) {
    const range = [shard * perShard, (shard + 1) * perShard] as const
    const name = shards === 1 ? 'pytorch_model.bin' : `pytorch_model-${String(shard + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.bin`
    writeTorchCheckpoint(join(out, name), storages.slice(...range), views.slice(...range), {archive: name.replace(/\.bin$/, '')})
    for (const view of views.slice(...range)) weightMap[view.name] = name
  }
  if (shards > 1) writeFileSync(join(out, 'pytorch_model.bin.index.json'), JSON.stringify({metadata: {}, weight_map: weightMap}, null, 2))
}

/** The model's model.safetensors as one storage per tensor. */
export function safetensorsAsTorch(modelDir: string): {storages: StorageToWrite[]; views: TensorView[]} {
  const tensors = readSafetensorsHeader(join(modelDir, 'model.safetensors'))
  const file = readFileSync(join(modelDir, 'model.safetensors'))
  return {
    // The test models hold float tensors only (no MXFP4 bytes).
    storages: tensors.map((t) => ({key: t.name, dtype: t.dtype as TensorDtype, data: file.subarray(t.offset, t.offset + t.nbytes)})),
    views: tensors.map((t) => ({name: t.name, storage: t.name, shape: t.shape})),
  }
}
