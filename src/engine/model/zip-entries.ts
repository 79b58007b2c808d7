// Lists the entries of a zip file from its central directory, with each one's data offset: what PyTorch's checkpoint
// reader needs, as its storages are read in place by file offset (storedEntry refuses a compressed one). Zip64 is read;
// encryption and multi-disk archives are refused; every offset and size is checked against the file.
import {statSync} from 'node:fs'
import {ModelLoadError, shownName} from '../errors.js'
import {readFileBytes} from './safetensors.js'

export interface ZipEntry {
  name: string
  /** Absolute byte offset of the entry's data in the file. */
  offset: number
  /** Bytes stored in the file. */
  size: number
  /** The zip method: 0 is stored; anything else is compressed and cannot be read in place. */
  method: number
}

const END_RECORD = 0x06054b50
const END_RECORD_SIZE = 22
const ZIP64_LOCATOR = 0x07064b50
const ZIP64_END_RECORD = 0x06064b50
const CENTRAL_HEADER = 0x02014b50
const CENTRAL_HEADER_SIZE = 46
const LOCAL_HEADER = 0x04034b50
const LOCAL_HEADER_SIZE = 30
const ZIP64_EXTRA_ID = 0x0001
/** A central directory larger than this is not a checkpoint's (an entry per storage, ~100 bytes each: 64 MiB is 600k storages). */
const MAX_CENTRAL_DIRECTORY_BYTES = 64 << 20

/** The zip's entries by name; any malformed structure is a ModelLoadError naming the file and what is wrong. */
export function readZipEntries(path: string): Map<string, ZipEntry> {
  const fileSize = statSync(path).size
  const read = (offset: number, length: number): Buffer => {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > fileSize) throw corrupt(path, `a record at byte ${offset} (${length} bytes) lies outside the file (${fileSize} bytes)`)
    const bytes = readFileBytes(path, offset, length)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  const directory = findCentralDirectory(path, fileSize, read)
  const bytes = read(directory.offset, directory.size)
  const entries = new Map<string, ZipEntry>()
  let at = 0
  for (let i = 0; i < directory.count; i++) {
    if (at + CENTRAL_HEADER_SIZE > bytes.length || bytes.readUInt32LE(at) !== CENTRAL_HEADER) throw corrupt(path, `central directory entry ${i} is malformed`)
    const entry = centralEntry(path, bytes, at)
    if (entries.has(entry.name)) throw corrupt(path, `entry ${shownName(entry.name)} appears twice`)
    const local = read(entry.localHeader, LOCAL_HEADER_SIZE)
    if (local.readUInt32LE(0) !== LOCAL_HEADER) throw corrupt(path, `entry ${shownName(entry.name)} has no local header at byte ${entry.localHeader}`)
    const offset = entry.localHeader + LOCAL_HEADER_SIZE + local.readUInt16LE(26) + local.readUInt16LE(28)
    if (offset + entry.size > fileSize) throw corrupt(path, `entry ${shownName(entry.name)} (${entry.size} bytes at byte ${offset}) runs past the end of the file (${fileSize} bytes); it may be truncated`)
    entries.set(entry.name, {name: entry.name, offset, size: entry.size, method: entry.method})
    at = entry.next
  }
  return entries
}

function corrupt(path: string, why: string): ModelLoadError {
  return new ModelLoadError(`${path} is not a readable zip archive: ${why}.`)
}

/** The end-of-central-directory record (and its zip64 twin where a field overflowed): where the directory is and its entry count. */
function findCentralDirectory(path: string, fileSize: number, read: (offset: number, length: number) => Buffer): {offset: number; size: number; count: number} {
  // The record ends the file but for a comment of at most 65535 bytes, so it is searched for from the end.
  const tailStart = Math.max(0, fileSize - END_RECORD_SIZE - 0xffff)
  const tail = read(tailStart, fileSize - tailStart)
  let at = tail.length - END_RECORD_SIZE
  while (at >= 0 && tail.readUInt32LE(at) !== END_RECORD) at--
  if (at < 0) throw corrupt(path, 'no end of central directory record')
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) throw corrupt(path, 'it spans several disks')
  let count = tail.readUInt16LE(at + 10)
  let size = tail.readUInt32LE(at + 12)
  let offset = tail.readUInt32LE(at + 16)
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locatorAt = tailStart + at - 20
    const locator = read(locatorAt, 20)
    if (locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw corrupt(path, 'a zip64 end record is needed but its locator is missing')
    const record = read(safeNumber(path, locator.readBigUInt64LE(8)), 56)
    if (record.readUInt32LE(0) !== ZIP64_END_RECORD) throw corrupt(path, 'the zip64 end of central directory record is missing')
    count = safeNumber(path, record.readBigUInt64LE(32))
    size = safeNumber(path, record.readBigUInt64LE(40))
    offset = safeNumber(path, record.readBigUInt64LE(48))
  }
  if (size > MAX_CENTRAL_DIRECTORY_BYTES || count > size / CENTRAL_HEADER_SIZE) {
    throw corrupt(path, `a central directory of ${count} entries in ${size} bytes is not a checkpoint's`)
  }
  return {offset, size, count}
}

function safeNumber(path: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(path, `a zip64 field holds ${value}`)
  return Number(value)
}

/** The entry `name`, which must be there and stored uncompressed. */
export function storedEntry(path: string, entries: Map<string, ZipEntry>, name: string): ZipEntry {
  const entry = entries.get(name)
  if (entry === undefined) throw new ModelLoadError(`${path}: its ${shownName(name)} entry is missing.`)
  if (entry.method !== 0) {
    throw new ModelLoadError(`${path}: entry ${shownName(name)} is compressed (zip method ${entry.method}); PyTorch checkpoints store their entries uncompressed, so this one cannot be read in place. Re-save it with torch.save or convert it to safetensors.`)
  }
  return entry
}

/** One central directory entry: its name, method, stored size and local header offset (from the zip64 extra field where they overflow). */
function centralEntry(path: string, bytes: Buffer, at: number): {name: string; method: number; size: number; localHeader: number; next: number} {
  const flags = bytes.readUInt16LE(at + 8)
  const method = bytes.readUInt16LE(at + 10)
  let compressedSize = bytes.readUInt32LE(at + 20)
  let size = bytes.readUInt32LE(at + 24)
  const nameLength = bytes.readUInt16LE(at + 28)
  const extraLength = bytes.readUInt16LE(at + 30)
  const commentLength = bytes.readUInt16LE(at + 32)
  let localHeader = bytes.readUInt32LE(at + 42)
  const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength
  if (next > bytes.length) throw corrupt(path, 'a central directory entry runs past the directory')
  const name = bytes.toString('utf8', at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength)
  if (flags & 1) throw corrupt(path, `entry ${shownName(name)} is encrypted`)
  const extra = bytes.subarray(at + CENTRAL_HEADER_SIZE + nameLength, at + CENTRAL_HEADER_SIZE + nameLength + extraLength)
  const overflowed = [size, compressedSize, localHeader].map((v) => v === 0xffffffff)
  if (overflowed.some(Boolean)) {
    // The zip64 extra field holds, in this order, only the fields that overflowed.
    const values = zip64Extra(path, name, extra, overflowed.filter(Boolean).length)
    if (overflowed[0]) size = values.shift()!
    if (overflowed[1]) compressedSize = values.shift()!
    if (overflowed[2]) localHeader = values.shift()!
  }
  if (method === 0 && compressedSize !== size) throw corrupt(path, `stored entry ${shownName(name)} has ${compressedSize} bytes in the file but ${size} uncompressed`)
  return {name, method, size: compressedSize, localHeader, next}
}

function zip64Extra(path: string, name: string, extra: Buffer, fields: number): number[] {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at)
    const length = extra.readUInt16LE(at + 2)
    if (id === ZIP64_EXTRA_ID) {
      if (length < fields * 8 || at + 4 + length > extra.length) break
      return Array.from({length: fields}, (_, i) => safeNumber(path, extra.readBigUInt64LE(at + 4 + 8 * i)))
    }
    at += 4 + length
  }
  throw corrupt(path, `entry ${shownName(name)} needs a zip64 extra field that is missing or short`)
}
