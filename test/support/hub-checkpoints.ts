// Checkpoints to publish on the fake hub and a hub-free environment per test: the tiny test model, whole or sharded.
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readSafetensorsHeader, writeSafetensors} from '../../src/engine/model/safetensors.js'
import {ensureTestModel} from '../../src/engine/model/test-model.js'

/** Every file of the tiny seeded test model, as a hub repository would hold it. */
export async function tinyCheckpointFiles(): Promise<Record<string, Buffer>> {
  const dir = await ensureTestModel('tiny')
  const files: Record<string, Buffer> = {}
  for (const name of await readdir(dir)) files[name] = await readFile(join(dir, name))
  return files
}

/** The tiny model with its safetensors split into shards plus model.safetensors.index.json, as large models are published. */
export async function shardedCheckpointFiles(shardCount: number): Promise<Record<string, Buffer>> {
  const {'model.safetensors': single, ...rest} = await tinyCheckpointFiles()
  const scratch = await mkdtemp(join(tmpdir(), 'pagedllm-shards-'))
  try {
    const singlePath = join(scratch, 'model.safetensors')
    await writeFile(singlePath, single!)
    const tensors = readSafetensorsHeader(singlePath)
    const files: Record<string, Buffer> = {...rest}
    const weightMap: Record<string, string> = {}
    for (let shard = 0; shard < shardCount; shard++) {
      const name = `model-${String(shard + 1).padStart(5, '0')}-of-${String(shardCount).padStart(5, '0')}.safetensors`
      const mine = tensors.filter((_, index) => index % shardCount === shard)
      const shardPath = join(scratch, name)
      writeSafetensors(shardPath, mine.map((tensor) => ({...tensor, data: () => single!.subarray(tensor.offset, tensor.offset + tensor.nbytes)})))
      files[name] = await readFile(shardPath)
      for (const tensor of mine) weightMap[tensor.name] = name
    }
    const totalSize = tensors.reduce((sum, tensor) => sum + tensor.nbytes, 0)
    files['model.safetensors.index.json'] = Buffer.from(JSON.stringify({metadata: {total_size: totalSize}, weight_map: weightMap}, null, 2))
    return files
  } finally {
    await rm(scratch, {recursive: true, force: true})
  }
}

const HUB_VARIABLES = ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'HF_ENDPOINT', 'XDG_CACHE_HOME']

/**
 * Points HF_HOME at a fresh temp folder and clears the other HF_* variables, so a test never reads the real
 * ~/.cache/huggingface (cache or login token); returns the folder and a function that restores the environment.
 */
export async function isolatedHubEnvironment(): Promise<{home: string; restore: () => Promise<void>}> {
  const saved = Object.fromEntries(HUB_VARIABLES.map((name) => [name, process.env[name]]))
  const home = await mkdtemp(join(tmpdir(), 'pagedllm-hub-'))
  for (const name of HUB_VARIABLES) delete process.env[name]
  process.env.HF_HOME = home
  return {
    home,
    restore: async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      await rm(home, {recursive: true, force: true})
    },
  }
}
