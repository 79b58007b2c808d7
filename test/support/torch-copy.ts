// A copy of a safetensors test model with its weights as PyTorch .bin files (one, or shards with their index, as
// transformers 4 saved them), for the tests of the .bin reader.
import {copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {readSafetensorsHeader} from '../../src/engine/model/safetensors.js'
import {writeTorchCheckpoint, type StorageToWrite, type TensorView} from './torch-checkpoint-writer.js'

/** Writes `out` with the model's other files and its weights as pytorch_model.bin, or `shards` files and the index. */
export function writeTorchCopy(modelDir: string, out: string, shards: number): void {
  mkdirSync(out, {recursive: true})
  for (const file of readdirSync(modelDir)) if (!file.endsWith('.safetensors')) copyFileSync(join(modelDir, file), join(out, file))
  const tensors = readSafetensorsHeader(join(modelDir, 'model.safetensors'))
  const file = readFileSync(join(modelDir, 'model.safetensors'))
  const perShard = Math.ceil(tensors.length / shards)
  const weightMap: Record<string, string> = {}
  for (let shard = 0; shard < shards; shard++) {
    const part = tensors.slice(shard * perShard, (shard + 1) * perShard)
    const name = shards === 1 ? 'pytorch_model.bin' : `pytorch_model-${String(shard + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.bin`
    const storages: StorageToWrite[] = part.map((t, i) => ({key: String(i), dtype: t.dtype, data: file.subarray(t.offset, t.offset + t.nbytes)}))
    const views: TensorView[] = part.map((t, i) => ({name: t.name, storage: String(i), shape: t.shape}))
    writeTorchCheckpoint(join(out, name), storages, views, {archive: name.replace(/\.bin$/, '')})
    for (const t of part) weightMap[t.name] = name
  }
  if (shards > 1) writeFileSync(join(out, 'pytorch_model.bin.index.json'), JSON.stringify({metadata: {total_size: file.length}, weight_map: weightMap}, null, 2))
}
