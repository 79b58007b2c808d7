// The GGUF attacks of scripts/cli-attacks.ts: the tiny test model written as GGUF (gguf-writer.ts), then truncated
// at every section, its magic, version, counts, string lengths, value and tensor types, dims, offsets and alignment
// made hostile, each loaded by `generate --model FILE.gguf`.
import {writeFileSync} from 'node:fs'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {loadModel} from '../src/engine/model/load-model.js'
import type {AttackBase, CliAttack} from './cli-attacks.js'

interface KvSpot {
  key: string
  /** Where the key's length, the value type and the value start. */
  keyAt: number
  typeAt: number
  valueAt: number
  type: number
}

interface TensorSpot {
  name: string
  nameAt: number
  dimsAt: number
  typeAt: number
  offsetAt: number
}

/** The byte offsets of each section of a GGUF file we wrote (a well-formed one: no checks). */
function layout(bytes: Buffer): {kvs: KvSpot[]; tensors: TensorSpot[]; tensorInfoAt: number; dataAt: number} {
  let at = 24
  const u32 = () => ((at += 4), bytes.readUInt32LE(at - 4))
  const u64 = () => ((at += 8), Number(bytes.readBigUInt64LE(at - 8)))
  const str = () => {
    const n = u64()
    at += n
    return bytes.toString('utf8', at - n, at)
  }
  const sizes: Record<number, number> = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
  const skip = (type: number): void => {
    if (type === 8) str()
    else if (type === 9) {
      const itemType = u32()
      const count = u64()
      for (let i = 0; i < count; i++) skip(itemType)
    } else at += sizes[type]!
  }
  const tensorCount = Number(bytes.readBigUInt64LE(8))
  const kvCount = Number(bytes.readBigUInt64LE(16))
  const kvs: KvSpot[] = []
  for (let i = 0; i < kvCount; i++) {
    const keyAt = at
    const key = str()
    const typeAt = at
    const type = u32()
    kvs.push({key, keyAt, typeAt, valueAt: at, type})
    skip(type)
  }
  const tensorInfoAt = at
  const tensors: TensorSpot[] = []
  for (let i = 0; i < tensorCount; i++) {
    const nameAt = at
    const name = str()
    const dimsAt = at
    const dims = u32()
    at += 8 * dims
    const typeAt = at
    at += 4
    tensors.push({name, nameAt, dimsAt, typeAt, offsetAt: at})
    at += 8
  }
  return {kvs, tensors, tensorInfoAt, dataAt: Math.ceil(at / 32) * 32}
}

function edited(bytes: Buffer, edit: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(bytes)
  edit(copy)
  return copy
}

export async function ggufAttacks(base: AttackBase): Promise<CliAttack[]> {
  const good = join(base.scratch, 'tiny.gguf')
  writeGguf(await loadModel(base.tiny), good, {format: 'f32'})
  const bytes = readFileSync(good)
  const {kvs, tensors, tensorInfoAt, dataAt} = layout(bytes)
  const kv = (key: string) => kvs.find((spot) => spot.key === key || spot.key.endsWith(key))!
  const u32At = (at: number, value: number) => (copy: Buffer) => copy.writeUInt32LE(value, at)
  const u64At = (at: number, value: bigint) => (copy: Buffer) => copy.writeBigUInt64LE(value, at)
  const cases: [string, Buffer][] = []
  // Truncated at every section: header fields, each key/value, each tensor info, the data.
  const cuts = [0, 3, 4, 7, 8, 15, 16, 23, 24, ...kvs.flatMap((spot) => [spot.keyAt + 4, spot.typeAt, spot.valueAt + 2]), tensorInfoAt, ...tensors.slice(0, 3).flatMap((spot) => [spot.nameAt + 3, spot.dimsAt + 2, spot.typeAt, spot.offsetAt + 5]), dataAt, dataAt + 100, bytes.length - 1]
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) cases.push([`truncated at byte ${cut} of ${bytes.length}`, bytes.subarray(0, cut)])
  const tokens = kv('tokenizer.ggml.tokens')
  const firstTensor = tensors[0]!
  const second = tensors[1]!
  cases.push(
    ['bad magic', edited(bytes, (copy) => copy.write('GGUX', 0, 'latin1'))],
    ['version 1', edited(bytes, u32At(4, 1))],
    ['version 4', edited(bytes, u32At(4, 4))],
    ['version 2^32-1', edited(bytes, u32At(4, 0xffffffff))],
    ['tensor count 2^63', edited(bytes, u64At(8, 2n ** 63n))],
    ['tensor count 2^64-1', edited(bytes, u64At(8, 2n ** 64n - 1n))],
    ['tensor count 0', edited(bytes, u64At(8, 0n))],
    ['tensor count one short', edited(bytes, u64At(8, BigInt(tensors.length - 1)))],
    ['metadata count 2^63', edited(bytes, u64At(16, 2n ** 63n))],
    ['metadata count 0', edited(bytes, u64At(16, 0n))],
    ['first key length 2^40', edited(bytes, u64At(kvs[0]!.keyAt, 2n ** 40n))],
    ['first key length 2^63', edited(bytes, u64At(kvs[0]!.keyAt, 2n ** 63n))],
    ['first key invalid UTF-8', edited(bytes, (copy) => copy.writeUInt8(0xff, kvs[0]!.keyAt + 8))],
    ['first value type 99', edited(bytes, u32At(kvs[0]!.typeAt, 99))],
    ['tokens array item type 99', edited(bytes, u32At(tokens.valueAt, 99))],
    ['tokens array count 2^62', edited(bytes, u64At(tokens.valueAt + 4, 2n ** 62n))],
    ['tokens array count 10 (fewer than the vocab)', edited(bytes, u64At(tokens.valueAt + 4, 10n))],
    ['first token string length 2^40', edited(bytes, u64At(tokens.valueAt + 12, 2n ** 40n))],
    ['tensor name length 2^50', edited(bytes, u64At(firstTensor.nameAt, 2n ** 50n))],
    ['tensor dims 5', edited(bytes, u32At(firstTensor.dimsAt, 5))],
    ['tensor dims 0', edited(bytes, u32At(firstTensor.dimsAt, 0))],
    ['tensor dim 2^40', edited(bytes, u64At(firstTensor.dimsAt + 4, 2n ** 40n))],
    ['tensor dim 0', edited(bytes, u64At(firstTensor.dimsAt + 4, 0n))],
    ['tensor dim 2^63', edited(bytes, u64At(firstTensor.dimsAt + 4, 2n ** 63n))],
    ['tensor type 99 (unknown)', edited(bytes, u32At(firstTensor.typeAt, 99))],
    ['tensor type Q4_0 over f32 bytes', edited(bytes, u32At(firstTensor.typeAt, 2))],
    ['tensor type F16 over f32 bytes', edited(bytes, u32At(firstTensor.typeAt, 1))],
    ['tensor type I32', edited(bytes, u32At(firstTensor.typeAt, 26))],
    ['tensor offset misaligned (+1)', edited(bytes, (copy) => copy.writeBigUInt64LE(copy.readBigUInt64LE(second.offsetAt) + 1n, second.offsetAt))],
    ['tensor offset past the file', edited(bytes, u64At(second.offsetAt, BigInt(bytes.length)))],
    ['tensor offset 2^62', edited(bytes, u64At(second.offsetAt, 2n ** 62n))],
    ['tensors overlapping', edited(bytes, (copy) => copy.writeBigUInt64LE(copy.readBigUInt64LE(firstTensor.offsetAt), second.offsetAt))],
    ['tensor renamed (a weight missing)', edited(bytes, (copy) => copy.write('x', firstTensor.nameAt + 8, 'latin1'))],
  )
  // Metadata values a loader must not take for sizes: each u32 config key at 0, 2^32-1 and 2^31.
  for (const spot of kvs.filter((each) => each.type === 4 && !each.key.startsWith('tokenizer.'))) {
    for (const value of [0, 0xffffffff, 0x80000000]) cases.push([`${spot.key} = ${value}`, edited(bytes, u32At(spot.valueAt, value))])
    cases.push([`${spot.key} as a string type`, edited(bytes, u32At(spot.typeAt, 8))])
  }
  for (const spot of kvs.filter((each) => each.type === 6)) for (const value of [NaN, -1, 0, Infinity]) cases.push([`${spot.key} = ${value}`, edited(bytes, (copy) => copy.writeFloatLE(value, spot.valueAt))])
  const architecture = kv('general.architecture')
  cases.push(['general.architecture unknown', edited(bytes, (copy) => copy.write('zzzzz'.slice(0, Number(copy.readBigUInt64LE(architecture.valueAt))), architecture.valueAt + 8, 'latin1'))])
  return cases.map(([label, content], i) => {
    const path = join(base.scratch, `hostile-${i}.gguf`)
    writeFileSync(path, content)
    return {cls: 'gguf', name: `generate: GGUF ${label}`, args: ['generate', '--model', path, '--num-blocks', '64', '--max-tokens', '3', '--threads', '1', 'hello']}
  })
}
