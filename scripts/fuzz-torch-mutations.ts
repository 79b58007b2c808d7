// The hostile PyTorch checkpoints scripts/fuzz-model-files.ts loads: a test model's weights as pytorch_model.bin (in
// place of its safetensors), made hostile one way at a time (test/support/torch-hostile-files.ts) and mutated at random.
import type {SeededRandom} from '../src/engine/model/seeded-random.js'
import {torchCheckpointBytes} from '../test/support/torch-checkpoint-writer.js'
import {safetensorsAsTorch} from '../test/support/torch-copy.js'
import {hostileTorchFiles, mutatedTorchFiles} from '../test/support/torch-hostile-files.js'
import type {HostileCase} from './fuzz-model-mutations.js'

export function torchCheckpointCases(base: string, random: SeededRandom): HostileCase[] {
  const {storages, views} = safetensorsAsTorch(base)
  const good = torchCheckpointBytes(storages, views)
  const asBin = (label: string, bytes: Buffer): HostileCase => ({label: `pytorch_model.bin ${label}`, files: {'model.safetensors': null, 'pytorch_model.bin': bytes}})
  return [
    asBin('as torch.save writes it', good),
    ...hostileTorchFiles(storages, views).map((hostile) => asBin(hostile.label, hostile.bytes)),
    ...mutatedTorchFiles(good, random, 60).map((mutation) => asBin(mutation.label, mutation.bytes)),
  ]
}
