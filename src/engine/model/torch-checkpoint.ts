// Reads a PyTorch checkpoint (torch.save's zip format: pytorch_model.bin, *.pt) into the TensorInfo the safetensors path
// makes: each tensor's file, byte offset, dtype and shape, read in place from its stored zip entry. The pickle goes
// through the restricted unpickler (torch-pickle.ts); only flat state dicts of contiguous little-endian tensors load.
import {closeSync, readSync} from 'node:fs'
import {resolve} from 'node:path'
import {ModelLoadError, shownName} from '../errors.js'
import {isTensor, PickleDict, unpickleCheckpoint, type PickledTensor} from './torch-pickle.js'
import {readFileBytes, type TensorDtype, type TensorInfo} from './safetensors.js'
import {openRegularFile} from './regular-file.js'
import {readZipEntries, storedEntry, type ZipEntry} from './zip-entries.js'

export const TORCH_SINGLE_FILE = 'pytorch_model.bin'
export const TORCH_INDEX_FILE = 'pytorch_model.bin.index.json'
/** A state dict's pickle is about a hundred bytes a tensor (a 70B model's: ~100 KB); one this large is not a checkpoint's. */
const MAX_PICKLE_BYTES = 16 << 20
const LOADED_DTYPES = new Set<string>(['F32', 'F16', 'BF16'])
/** Integer and bool buffers (GPT-2's causal mask, position_ids) are left out; no model here reads one. */
const SKIPPED_DTYPES = new Set<string>(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'])

/** Every float tensor of a torch.save'd state dict (integer and bool buffers are left out). */
export function readTorchCheckpoint(path: string): TensorInfo[] {
  return readTorchShard(path).tensors
}

/** The float tensors, and the names of the others (which a shard index lists too). */
export function readTorchShard(path: string): {tensors: TensorInfo[]; skipped: Set<string>} {
  refuseOtherFormats(path)
  const entries = readZipEntries(path)
  const archive = archiveName(path, entries)
  const byteOrder = entries.has(`${archive}/byteorder`) ? storedEntry(path, entries, `${archive}/byteorder`) : undefined
  if (byteOrder !== undefined && readEntry(path, byteOrder, 16).toString('latin1') !== 'little') {
    throw new ModelLoadError(`${path} was saved on a big-endian machine; only little-endian PyTorch checkpoints load.`)
  }
  const pickle = storedEntry(path, entries, `${archive}/data.pkl`)
  if (pickle.size > MAX_PICKLE_BYTES) throw new ModelLoadError(`${path}: its data.pkl is ${pickle.size} bytes, more than the ${MAX_PICKLE_BYTES} a state dict needs.`)
  const stateDict = unpickleCheckpoint(readEntry(path, pickle, MAX_PICKLE_BYTES), `${path} (data.pkl)`)
  if (!(stateDict instanceof PickleDict)) throw new ModelLoadError(`${path} holds a pickled ${describe(stateDict)}, not a state dict of tensors.`)
  const tensors: TensorInfo[] = []
  const skipped = new Set<string>()
  for (const [name, value] of stateDict.entries) {
    if (typeof name !== 'string') throw new ModelLoadError(`${path}: the state dict has a key that is not a string (${describe(name)}).`)
    if (!isTensor(value)) {
      throw new ModelLoadError(`${path}: ${shownName(name)} is a ${describe(value)}, not a tensor; only flat state dicts load (a training checkpoint nests the model's under a key: save model.state_dict() alone).`)
    }
    const tensor = tensorInfo(path, name, value, storedEntry(path, entries, `${archive}/data/${value.storage.key}`))
    if (tensor !== undefined) tensors.push(tensor)
    else skipped.add(name)
  }
  return {tensors, skipped}
}

/** Pre-1.6 torch.save files (a bare pickle, or a tar before that) and anything not a zip, refused by what they are. */
function refuseOtherFormats(path: string): void {
  let fd: number
  try {
    fd = openRegularFile(path)
  } catch (error) {
    throw new ModelLoadError(`Cannot open ${path}: ${(error as Error).message}`, {cause: error})
  }
  const head = Buffer.alloc(262)
  try {
    readSync(fd, head, 0, head.length, 0)
  } finally {
    closeSync(fd)
  }
  if (head.readUInt32LE(0) === 0x04034b50) return
  const legacy = (head[0] === 0x80 && head[2] === 0x8a) || head.toString('latin1', 257, 262) === 'ustar'
  throw new ModelLoadError(legacy
    ? `${path} is in PyTorch's legacy (pre-1.6) torch.save format, which is not supported; re-save it with a current PyTorch (torch.save(torch.load(path))) or convert it to safetensors.`
    : `${path} is not a PyTorch checkpoint (torch.save writes a zip archive; this file does not start with one).`)
}

/** torch.save puts everything under one top-level folder, named after the file it first wrote (`archive/`, `pytorch_model/`). */
function archiveName(path: string, entries: Map<string, ZipEntry>): string {
  const names = [...entries.keys()]
  if (names.some((name) => /^[^/]+\/constants\.pkl$/.test(name))) {
    throw new ModelLoadError(`${path} is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save instead.`)
  }
  const pickles = names.filter((name) => /^[^/]+\/data\.pkl$/.test(name))
  if (pickles.length !== 1) throw new ModelLoadError(`${path} holds ${pickles.length === 0 ? 'no data.pkl' : `${pickles.length} data.pkl files`}, so it is not a PyTorch checkpoint.`)
  return pickles[0]!.slice(0, -'/data.pkl'.length)
}

function readEntry(path: string, entry: ZipEntry, limit: number): Buffer {
  const bytes = readFileBytes(path, entry.offset, Math.min(entry.size, limit))
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The tensor's bytes in its storage's entry, checked: the storage fits its entry and the view fits the storage, row-major. */
function tensorInfo(path: string, name: string, tensor: PickledTensor, entry: ZipEntry): TensorInfo | undefined {
  const {storage, storageOffset, size, stride} = tensor
  if (storage.numel * storage.type.bytes !== entry.size) {
    throw new ModelLoadError(`${path}: storage ${shownName(storage.key)} is said to hold ${storage.numel} ${storage.type.dtype} elements, but its entry has ${entry.size} bytes.`)
  }
  const shown = `${shownName(name)} (size [${size.join(', ')}], stride [${stride.join(', ')}], offset ${storageOffset})`
  // Row-major: each dimension's stride is the element count of the dimensions after it (any stride does for a size of 1 or 0).
  let numel = 1
  for (let dim = size.length - 1; dim >= 0; dim--) {
    if (size[dim]! > 1 && stride[dim] !== numel) {
      throw new ModelLoadError(`${path}: tensor ${shown} is a non-contiguous view; only contiguous tensors load (save tensor.contiguous()).`)
    }
    numel *= size[dim]!
    if (!Number.isSafeInteger(numel)) throw new ModelLoadError(`${path}: tensor ${shown} has too many elements.`)
  }
  if (storageOffset + numel > storage.numel && numel > 0) {
    throw new ModelLoadError(`${path}: tensor ${shown} needs ${storageOffset + numel} elements of storage ${shownName(storage.key)}, which holds ${storage.numel}.`)
  }
  if (SKIPPED_DTYPES.has(storage.type.dtype)) return undefined
  if (!LOADED_DTYPES.has(storage.type.dtype)) {
    throw new ModelLoadError(`${path}: tensor ${shownName(name)} has dtype ${storage.type.dtype}, which is not supported (supported: ${[...LOADED_DTYPES].join(', ')}).`)
  }
  const bytes = storage.type.bytes
  return {name, dtype: storage.type.dtype as TensorDtype, shape: size, path: resolve(path), offset: entry.offset + storageOffset * bytes, nbytes: numel * bytes}
}

function describe(value: unknown): string {
  if (value === null) return 'None'
  if (value instanceof PickleDict) return 'dict'
  if (Array.isArray(value)) return 'list'
  if (typeof value === 'object') return 'kind' in value ? String(value.kind) : 'tuple'
  return typeof value
}
