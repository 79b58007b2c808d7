// A restricted unpickler for the data.pkl of a PyTorch checkpoint: only the opcodes torch.save writes for a state dict,
// and only the globals a state dict names (OrderedDict, the tensor rebuild functions, the storage classes), each mapped
// to a plain value here; nothing is ever called or imported. Anything else is a ModelLoadError naming it: this is the
// security boundary for .bin / .pt files, so a hostile pickle can neither run code nor crash the process.
import {ModelLoadError, quotedValue, shownName} from '../errors.js'

/** A storage class's element type: F32/F16/BF16 load, integer and bool buffers are skipped, F64 is refused by name. */
export interface StorageType {
  dtype: 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'
  bytes: number
}

/** A persistent id ('storage', StorageType, key, location, numel): data/<key> holds numel elements. */
export interface PickledStorage {
  kind: 'storage'
  type: StorageType
  key: string
  numel: number
}

/** torch._utils._rebuild_tensor_v2's view of a storage. */
export interface PickledTensor {
  kind: 'tensor'
  storage: PickledStorage
  storageOffset: number
  size: number[]
  stride: number[]
}

export class PickleDict {
  readonly entries = new Map<unknown, PickleValue>()
}

class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

interface PickleGlobal {
  kind: 'global'
  name: string
}

export type PickleValue = null | boolean | number | string | PickleValue[] | PickleTuple | PickleDict | PickleGlobal | PickledStorage | PickledTensor

const STORAGE_TYPES: Record<string, StorageType> = {
  'torch.FloatStorage': {dtype: 'F32', bytes: 4},
  'torch.HalfStorage': {dtype: 'F16', bytes: 2},
  'torch.BFloat16Storage': {dtype: 'BF16', bytes: 2},
  'torch.DoubleStorage': {dtype: 'F64', bytes: 8},
  'torch.LongStorage': {dtype: 'I64', bytes: 8},
  'torch.IntStorage': {dtype: 'I32', bytes: 4},
  'torch.ShortStorage': {dtype: 'I16', bytes: 2},
  'torch.CharStorage': {dtype: 'I8', bytes: 1},
  'torch.ByteStorage': {dtype: 'U8', bytes: 1},
  'torch.BoolStorage': {dtype: 'BOOL', bytes: 1},
}

const REBUILD_TENSOR = new Set(['torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor'])
/** nn.Parameter wrappers (state_dict(keep_vars=True), whole-module saves): the tensor is their first argument. */
const REBUILD_PARAMETER = new Set(['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state'])
const ORDERED_DICT = 'collections.OrderedDict'
/** More dimensions than any weight has (torch allows 64): a hostile size tuple would make every message about it huge. */
const MAX_DIMS = 8
const ALLOWED_GLOBALS = new Set([ORDERED_DICT, ...REBUILD_TENSOR, ...REBUILD_PARAMETER, ...Object.keys(STORAGE_TYPES)])

/** Opcode names for messages, so a refused one is named as Python's pickletools names it. */
const OPCODE_NAMES: Record<number, string> = Object.fromEntries(
  ('MARK ( STOP . POP 0 POP_MARK 1 DUP 2 FLOAT F INT I BININT J BININT1 K LONG L BININT2 M NONE N PERSID P BINPERSID Q ' +
    'REDUCE R STRING S BINSTRING T SHORT_BINSTRING U UNICODE V BINUNICODE X APPEND a BUILD b GLOBAL c DICT d EMPTY_DICT } ' +
    'APPENDS e GET g BINGET h INST i LONG_BINGET j LIST l EMPTY_LIST ] OBJ o PUT p BINPUT q LONG_BINPUT r SETITEM s TUPLE t ' +
    'EMPTY_TUPLE ) SETITEMS u BINFLOAT G')
    .match(/\S+ \S/g)!
    .map((pair): [number, string] => [pair.charCodeAt(pair.length - 1), pair.slice(0, -2)])
    .concat([[0x80, 'PROTO'], [0x81, 'NEWOBJ'], [0x82, 'EXT1'], [0x83, 'EXT2'], [0x84, 'EXT4'], [0x85, 'TUPLE1'], [0x86, 'TUPLE2'], [0x87, 'TUPLE3'],
      [0x88, 'NEWTRUE'], [0x89, 'NEWFALSE'], [0x8a, 'LONG1'], [0x8b, 'LONG4'], [0x8c, 'SHORT_BINUNICODE'], [0x8d, 'BINUNICODE8'], [0x8e, 'BINBYTES8'],
      [0x8f, 'EMPTY_SET'], [0x90, 'ADDITEMS'], [0x91, 'FROZENSET'], [0x92, 'NEWOBJ_EX'], [0x93, 'STACK_GLOBAL'], [0x94, 'MEMOIZE'], [0x95, 'FRAME'],
      [0x96, 'BYTEARRAY8'], [0x97, 'NEXT_BUFFER'], [0x98, 'READONLY_BUFFER']]),
)

/** Unpickles a state dict's data.pkl; `where` names it in errors. */
export function unpickleCheckpoint(bytes: Uint8Array, where: string): PickleValue {
  return new RestrictedUnpickler(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), where).run()
}

class RestrictedUnpickler {
  private at = 0
  private readonly stack: PickleValue[] = []
  private readonly marks: number[] = []
  private readonly memo = new Map<number, PickleValue>()
  private readonly storages = new Map<string, PickledStorage>()

  constructor(private readonly bytes: Buffer, private readonly where: string) {}

  run(): PickleValue {
    for (;;) {
      const position = this.at
      const opcode = this.take(1)[0]!
      switch (opcode) {
        case 0x80: this.take(1); break // PROTO: the version byte says nothing we need
        case 0x95: this.take(8); break // FRAME (protocol 4): a length hint only
        case 0x2e: return this.finish() // STOP
        case 0x28: this.marks.push(this.stack.length); break // MARK
        case 0x4e: this.stack.push(null); break // NONE
        case 0x88: this.stack.push(true); break // NEWTRUE
        case 0x89: this.stack.push(false); break // NEWFALSE
        case 0x4b: this.stack.push(this.take(1)[0]!); break // BININT1
        case 0x4d: this.stack.push(this.take(2).readUInt16LE(0)); break // BININT2
        case 0x4a: this.stack.push(this.take(4).readInt32LE(0)); break // BININT
        case 0x8a: this.stack.push(this.long1()); break // LONG1
        case 0x58: this.stack.push(this.take(this.take(4).readUInt32LE(0)).toString('utf8')); break // BINUNICODE
        case 0x8c: this.stack.push(this.take(this.take(1)[0]!).toString('utf8')); break // SHORT_BINUNICODE
        case 0x29: this.stack.push(new PickleTuple([])); break // EMPTY_TUPLE
        case 0x85: case 0x86: case 0x87: this.stack.push(new PickleTuple(this.popN(opcode - 0x84))); break // TUPLE1-3
        case 0x74: this.stack.push(new PickleTuple(this.popMark())); break // TUPLE
        case 0x5d: this.stack.push([]); break // EMPTY_LIST
        case 0x7d: this.stack.push(new PickleDict()); break // EMPTY_DICT
        case 0x61: this.append(this.popN(1)); break // APPEND
        case 0x65: this.append(this.popMark()); break // APPENDS
        case 0x73: this.setItems(this.popN(2)); break // SETITEM
        case 0x75: this.setItems(this.popMark()); break // SETITEMS
        case 0x71: this.memo.set(this.take(1)[0]!, this.top()); break // BINPUT
        case 0x72: this.memo.set(this.take(4).readUInt32LE(0), this.top()); break // LONG_BINPUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break // MEMOIZE
        case 0x68: this.stack.push(this.recall(this.take(1)[0]!)); break // BINGET
        case 0x6a: this.stack.push(this.recall(this.take(4).readUInt32LE(0))); break // LONG_BINGET
        case 0x63: this.stack.push(this.global(this.line(), this.line())); break // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const [module, name] = this.popN(2)
          if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL names that are not strings')
          this.stack.push(this.global(module, name))
          break
        }
        case 0x51: this.stack.push(this.persistentLoad(this.popN(1)[0]!)); break // BINPERSID
        case 0x52: { // REDUCE
          const [callable, args] = this.popN(2)
          this.stack.push(this.reduce(callable!, args!))
          break
        }
        case 0x62: { // BUILD: only an OrderedDict's attributes (a state dict's _metadata), which are not needed
          const [target] = this.popN(2)
          if (!(target instanceof PickleDict)) throw this.fail('BUILD on something other than an OrderedDict')
          this.stack.push(target)
          break
        }
        default: {
          const name = OPCODE_NAMES[opcode]
          throw this.fail(`opcode ${name ?? 'unknown'} (0x${opcode.toString(16).padStart(2, '0')}) at byte ${position}, which a PyTorch state dict does not use`)
        }
      }
    }
  }

  private fail(what: string): ModelLoadError {
    return new ModelLoadError(`${this.where}: the pickle holds ${what}; only state dicts of tensors load (no code is run from a checkpoint).`)
  }

  private take(count: number): Buffer {
    if (this.at + count > this.bytes.length) throw this.fail(`a record past its end (byte ${this.at} + ${count} of ${this.bytes.length})`)
    const out = this.bytes.subarray(this.at, this.at + count)
    this.at += count
    return out
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.at)
    if (end < 0 || end - this.at > 256) throw this.fail(`a GLOBAL name without its newline at byte ${this.at}`)
    const length = end - this.at
    return this.take(length + 1).toString('utf8', 0, length)
  }

  private long1(): number {
    const length = this.take(1)[0]!
    if (length > 8) throw this.fail(`an integer of ${length} bytes`)
    const bytes = this.take(length)
    let value = 0n
    for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!)
    if (length > 0 && bytes[length - 1]! & 0x80) value -= 1n << BigInt(8 * length)
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`the integer ${value}, beyond any tensor's size`)
    return Number(value)
  }

  private top(): PickleValue {
    if (this.stack.length === 0 || this.stack.length === this.marks.at(-1)) throw this.fail(`an opcode on an empty stack near byte ${this.at}`)
    return this.stack.at(-1)!
  }

  private recall(index: number): PickleValue {
    if (!this.memo.has(index)) throw this.fail(`a GET of memo ${index}, which was never PUT`)
    return this.memo.get(index)!
  }

  private popN(count: number): PickleValue[] {
    const floor = this.marks.at(-1) ?? 0
    if (this.stack.length - count < floor) throw this.fail(`an opcode that pops past its stack at byte ${this.at - 1}`)
    return this.stack.splice(this.stack.length - count, count)
  }

  private popMark(): PickleValue[] {
    const mark = this.marks.pop()
    if (mark === undefined) throw this.fail(`an opcode without its MARK at byte ${this.at - 1}`)
    return this.stack.splice(mark)
  }

  private append(items: PickleValue[]): void {
    const list = this.top()
    if (!Array.isArray(list)) throw this.fail('an APPEND to something other than a list')
    for (const item of items) list.push(item)
  }

  private setItems(items: PickleValue[]): void {
    const dict = this.top()
    if (!(dict instanceof PickleDict) || items.length % 2 !== 0) throw this.fail('a SETITEM on something other than a dict')
    for (let i = 0; i < items.length; i += 2) dict.entries.set(items[i], items[i + 1]!)
  }

  private finish(): PickleValue {
    if (this.stack.length !== 1 || this.marks.length > 0) throw this.fail(`${this.stack.length} values at STOP instead of one`)
    return this.stack[0]!
  }

  private global(module: string, name: string): PickleGlobal {
    const full = `${module}.${name}`
    if (!ALLOWED_GLOBALS.has(full)) throw this.fail(`the global ${quotedValue(full)}, which is not allowed`)
    return {kind: 'global', name: full}
  }

  /** ('storage', StorageType, key, location, numel): one storage object per key, as torch shares it among its views. */
  private persistentLoad(pid: PickleValue): PickledStorage {
    const items = pid instanceof PickleTuple ? pid.items : []
    const [tag, type, key, location, numel] = items
    const typeName = isGlobal(type) ? type.name : ''
    if (items.length !== 5 || tag !== 'storage' || !(typeName in STORAGE_TYPES) || typeof key !== 'string' || typeof location !== 'string' || !isCount(numel)) {
      throw this.fail('a persistent id that is not (\'storage\', type, key, location, numel)')
    }
    const storage = this.storages.get(key) ?? {kind: 'storage', type: STORAGE_TYPES[typeName]!, key, numel}
    if (storage.type !== STORAGE_TYPES[typeName] || storage.numel !== numel) throw this.fail(`storage ${shownName(key)} under two types or sizes`)
    this.storages.set(key, storage)
    return storage
  }

  private reduce(callable: PickleValue, args: PickleValue): PickleValue {
    const name = isGlobal(callable) ? callable.name : undefined
    const items = args instanceof PickleTuple ? args.items : undefined
    if (name === undefined || items === undefined) throw this.fail('a REDUCE of something other than an allowed global and a tuple')
    if (name === ORDERED_DICT && items.length === 0) return new PickleDict()
    if (REBUILD_PARAMETER.has(name) && isTensor(items[0])) return items[0]
    if (REBUILD_TENSOR.has(name)) return this.rebuildTensor(items)
    throw this.fail(`a call of ${name} with arguments it is not given in a state dict`)
  }

  /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) (v1: the first four). */
  private rebuildTensor(items: PickleValue[]): PickledTensor {
    const [storage, storageOffset, size, stride] = items
    const dims = (value: PickleValue | undefined): number[] | undefined =>
      value instanceof PickleTuple && value.items.every(isCount) ? (value.items as number[]) : undefined
    const [sizes, strides] = [dims(size), dims(stride)]
    if (items.length < 4 || items.length > 7 || !isStorage(storage) || !isCount(storageOffset) || sizes === undefined || strides === undefined || sizes.length !== strides.length || sizes.length > MAX_DIMS) {
      throw this.fail('a tensor rebuilt from arguments other than (storage, offset, size, stride, ...)')
    }
    return {kind: 'tensor', storage, storageOffset, size: sizes, stride: strides}
  }
}

function isGlobal(value: PickleValue | undefined): value is PickleGlobal {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'global'
}

function isStorage(value: PickleValue | undefined): value is PickledStorage {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'storage'
}

export function isTensor(value: PickleValue | undefined): value is PickledTensor {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'tensor'
}

function isCount(value: PickleValue | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
