// Writes PyTorch checkpoints as torch.save does (a stored zip of data.pkl, protocol 2, and one entry per storage), for
// tests only: tied storages, views at an offset, zip64 records and hand-edited pickles. Its output loads in torch
// (scripts/torch-checkpoint-writer-check.py checks that while developing; the tests do not need Python).
import {writeFileSync} from 'node:fs'
import {crc32} from 'node:zlib'
import type {TensorDtype} from '../../src/engine/model/safetensors.js'

export interface StorageToWrite {
  key: string
  /** I64: an integer buffer (position_ids), which the reader skips; F64, which it refuses. */
  dtype: TensorDtype | 'I64' | 'F64'
  data: Uint8Array
  /** The element count the pickle states (hostile files); the data's own when absent. */
  numel?: number
}

export interface TensorView {
  name: string
  storage: string
  shape: number[]
  storageOffset?: number
  /** Row-major when absent. */
  stride?: number[]
}

export interface TorchWriteOptions {
  /** The folder torch names after the file (`archive` when saved to a buffer). */
  archive?: string
  /** Replaces the generated data.pkl (hostile pickles). */
  pickle?: Uint8Array
  /** Writes the central directory's sizes and offsets through zip64 records, as torch does past 4 GiB. */
  zip64?: boolean
  byteOrder?: string
}

const STORAGE_CLASS: Record<StorageToWrite['dtype'], string> = {F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', I64: 'LongStorage', F64: 'DoubleStorage'}
const BYTES: Record<StorageToWrite['dtype'], number> = {F32: 4, F16: 2, BF16: 2, I64: 8, F64: 8}

export function writeTorchCheckpoint(path: string, storages: StorageToWrite[], views: TensorView[], options: TorchWriteOptions = {}): void {
  writeFileSync(path, torchCheckpointBytes(storages, views, options))
}

export function torchCheckpointBytes(storages: StorageToWrite[], views: TensorView[], options: TorchWriteOptions = {}): Buffer {
  const archive = options.archive ?? 'archive'
  const entries: [string, Uint8Array][] = [
    [`${archive}/data.pkl`, options.pickle ?? statePickle(storages, views)],
    [`${archive}/byteorder`, Buffer.from(options.byteOrder ?? 'little')],
    ...storages.map((s): [string, Uint8Array] => [`${archive}/data/${s.key}`, s.data]),
    [`${archive}/version`, Buffer.from('3\n')],
  ]
  return zipStored(entries, options.zip64 ?? false)
}

/** An OrderedDict of _rebuild_tensor_v2 calls, as torch.save pickles a state dict. */
export function statePickle(storages: StorageToWrite[], views: TensorView[]): Buffer {
  const byKey = new Map(storages.map((s) => [s.key, s]))
  const out: Buffer[] = [Buffer.from([0x80, 2]), global('collections', 'OrderedDict'), Buffer.from(')R(')]
  for (const view of views) {
    const storage = byKey.get(view.storage)!
    const stride = view.stride ?? view.shape.map((_, i) => view.shape.slice(i + 1).reduce((a, b) => a * b, 1))
    out.push(unicode(view.name), global('torch._utils', '_rebuild_tensor_v2'), Buffer.from('(('), unicode('storage'), global('torch', STORAGE_CLASS[storage.dtype]),
      unicode(storage.key), unicode('cpu'), int(storage.numel ?? storage.data.byteLength / BYTES[storage.dtype]), Buffer.from('tQ'), int(view.storageOffset ?? 0),
      tuple(view.shape), tuple(stride), Buffer.from([0x89]), global('collections', 'OrderedDict'), Buffer.from(')RtR'))
  }
  out.push(Buffer.from('u.'))
  return Buffer.concat(out)
}

export function global(module: string, name: string): Buffer {
  return Buffer.from(`c${module}\n${name}\n`)
}

export function unicode(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32LE(bytes.length)
  return Buffer.concat([Buffer.from('X'), length, bytes])
}

export function int(value: number): Buffer {
  if (value < 256) return Buffer.from([0x4b, value])
  if (value < 65536) return Buffer.from([0x4d, value & 0xff, value >> 8])
  const bytes = Buffer.alloc(8)
  bytes.writeBigInt64LE(BigInt(value))
  return Buffer.concat([Buffer.from([0x8a, 8]), bytes]) // LONG1, as pickle writes ints past 2^31
}

function tuple(values: number[]): Buffer {
  return Buffer.concat([Buffer.from('('), ...values.map(int), Buffer.from('t')])
}

/** A zip of stored entries, each entry's data aligned to 64 bytes with padding in the local extra field (as torch pads). */
function zipStored(entries: [string, Uint8Array][], zip64: boolean): Buffer {
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let at = 0
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name)
    const pad = (64 - ((at + 30 + nameBytes.length + 4) % 64)) % 64
    const extra = Buffer.alloc(4 + pad, 0x5a)
    extra.writeUInt16LE(0x4246, 0) // 'FB', torch's padding field
    extra.writeUInt16LE(pad, 2)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    const crc = crc32(data)
    for (const [offset, value] of [[14, crc], [18, data.byteLength], [22, data.byteLength]]) local.writeUInt32LE(value!, offset!)
    local.writeUInt16LE(nameBytes.length, 26)
    local.writeUInt16LE(extra.length, 28)
    const zip64Extra = Buffer.alloc(zip64 ? 28 : 0)
    if (zip64) {
      zip64Extra.writeUInt16LE(1, 0)
      zip64Extra.writeUInt16LE(24, 2)
      for (const [i, value] of [data.byteLength, data.byteLength, at].entries()) zip64Extra.writeBigUInt64LE(BigInt(value), 4 + 8 * i)
    }
    const header = Buffer.alloc(46)
    header.writeUInt32LE(0x02014b50, 0)
    header.writeUInt16LE(zip64 ? 45 : 20, 6)
    header.writeUInt32LE(crc, 16)
    for (const [offset, value] of [[20, data.byteLength], [24, data.byteLength], [42, at]]) header.writeUInt32LE(zip64 ? 0xffffffff : value!, offset!)
    header.writeUInt16LE(nameBytes.length, 28)
    header.writeUInt16LE(zip64Extra.length, 30)
    central.push(header, nameBytes, zip64Extra)
    parts.push(local, nameBytes, extra, Buffer.from(data))
    at += 30 + nameBytes.length + extra.length + data.byteLength
  }
  const directory = Buffer.concat(central)
  const tail: Buffer[] = []
  if (zip64) {
    const record = Buffer.alloc(56)
    record.writeUInt32LE(0x06064b50, 0)
    record.writeBigUInt64LE(44n, 4)
    record.writeUInt16LE(45, 12)
    record.writeUInt16LE(45, 14)
    for (const [offset, value] of [[24, entries.length], [32, entries.length], [40, directory.length], [48, at]]) record.writeBigUInt64LE(BigInt(value!), offset!)
    const locator = Buffer.alloc(20)
    locator.writeUInt32LE(0x07064b50, 0)
    locator.writeBigUInt64LE(BigInt(at + directory.length), 8)
    locator.writeUInt32LE(1, 16)
    tail.push(record, locator)
  }
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8)
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10)
  end.writeUInt32LE(zip64 ? 0xffffffff : directory.length, 12)
  end.writeUInt32LE(zip64 ? 0xffffffff : at, 16)
  return Buffer.concat([...parts, directory, ...tail, end])
}
