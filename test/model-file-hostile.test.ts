// Model files scripts/cli-attacks.ts found ending in something other than a one-line error naming the file:
// each case is the tiny test model with one file broken, loaded in-process.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {loadModel} from '../src/engine/model/load-model.js'
import {llamaGgufBytes, SMALL_GGUF_SHAPE} from './support/llama-gguf.js'
import {loadError} from './support/load-error.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-model-file-hostile-')

/** The safetensors header of the tiny model with `edit` applied (same data). */
function editSafetensorsHeader(dir: string, edit: (header: Record<string, any>) => void): void {
  const path = join(dir, 'model.safetensors')
  const bytes = readFileSync(path)
  const length = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'))
  edit(header)
  const text = Buffer.from(JSON.stringify(header))
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(text.length))
  writeFileSync(path, Buffer.concat([prefix, text, bytes.subarray(8 + length)]))
}

describe('files that are not regular files', () => {
  // A config.json linked to /dev/zero read for ever (and a FIFO's open blocked): every model file is now checked to be
  // a regular file first. /dev/null stands in for both here, since the old reads of those never returned.
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
    it(`${name} linked to a device is refused by name`, async () => {
      const dir = scratch.copy(`device-${name}`)
      rmSync(join(dir, name))
      symlinkSync('/dev/null', join(dir, name))
      await assert.rejects(loadModel(dir), loadError(new RegExp(`Cannot (read|open) \\S+/${name.replace('.', '\\.')}: it is not a regular file \\(a FIFO, socket or device\\)`)))
    })
  }
})

describe('safetensors files', () => {
  it('model.safetensors that is a directory: named, not EISDIR from a read', async () => {
    const dir = scratch.copy('st-dir')
    rmSync(join(dir, 'model.safetensors'))
    mkdirSync(join(dir, 'model.safetensors'))
    await assert.rejects(loadModel(dir), loadError(/Cannot open \S+\/model\.safetensors: it is not a regular file \(a directory\?\)/))
  })
  it('a tensor without a dtype says so (not "dtype undefined")', async () => {
    const dir = scratch.copy('st-no-dtype')
    editSafetensorsHeader(dir, (header) => delete header['model.embed_tokens.weight'].dtype)
    await assert.rejects(loadModel(dir), loadError(/tensor model\.embed_tokens\.weight has no "dtype"/))
  })
})

describe('GGUF files', () => {
  it('one without general.architecture (a key of invalid UTF-8) says so, not \'"undefined" is not supported\'', async () => {
    const path = join(scratch.dir, 'no-architecture.gguf')
    writeFileSync(path, llamaGgufBytes(SMALL_GGUF_SHAPE, {metadata: {'general.architecture': undefined}}))
    await assert.rejects(loadModel(path), loadError(/no-architecture\.gguf: the GGUF file has no general\.architecture key/))
  })
})
