// Corrupt or hostile Hugging Face checkpoints (safetensors headers, shard maps, config values) fail with one clear ModelLoadError.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'

let scratch: string
let tinyDir: string
before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'pagedllm-hostile-'))
  tinyDir = await ensureTestModel('tiny')
})
after(() => rmSync(scratch, {recursive: true, force: true}))

function copyOfTiny(name: string): string {
  const dir = join(scratch, name)
  cpSync(tinyDir, dir, {recursive: true})
  return dir
}

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
      const dir = copyOfTiny(`header-${label.replace(' ', '-')}`)
      writeHeader(dir, header)
      await assert.rejects(loadModel(dir), loadError(pattern))
    })
  }

  it('a tensor entry that is null or a string', async () => {
    for (const entry of [null, 'F32']) {
      const dir = copyOfTiny(`entry-${String(entry)}`)
      writeHeader(dir, {...headerOf(dir), 'model.norm.weight': entry})
      await assert.rejects(loadModel(dir), loadError(/tensor model\.norm\.weight has a malformed header entry/))
    }
  })

  it('a shard map naming a file outside the model directory', async () => {
    const dir = copyOfTiny('shard-escape')
    cpSync(join(dir, 'model.safetensors'), join(scratch, 'outside.safetensors'))
    const names = Object.keys(headerOf(dir)).filter((name) => name !== '__metadata__')
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({weight_map: Object.fromEntries(names.map((name) => [name, '../outside.safetensors']))}))
    await assert.rejects(loadModel(dir), loadError(/names shard \.\.\/outside\.safetensors, which is not a file in/))
  })
})
