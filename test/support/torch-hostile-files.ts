// Hostile PyTorch checkpoints, each with the error the reader must give (test/torch-checkpoints.test.ts), and random
// byte mutations of a good one (there and in scripts/fuzz-model-files.ts): none may run code, crash or hang the loader.
import type {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {global, int, statePickle, torchCheckpointBytes, unicode, type StorageToWrite, type TensorView} from './torch-checkpoint-writer.js'

export interface HostileTorchFile {
  label: string
  bytes: Buffer
  error: RegExp
}

const MARK = Buffer.from('(')
const pickle = (...parts: Buffer[]): Buffer => Buffer.concat([Buffer.from([0x80, 2]), ...parts, Buffer.from('.')])

/** A good checkpoint's storages and views made hostile one way at a time. */
export function hostileTorchFiles(storages: StorageToWrite[], views: TensorView[]): HostileTorchFile[] {
  const good = torchCheckpointBytes(storages, views)
  const withPickle = (bytes: Buffer) => torchCheckpointBytes(storages, views, {pickle: bytes})
  const withViews = (edit: (view: TensorView) => TensorView) => torchCheckpointBytes(storages, views.map((v, i) => (i === 0 ? edit(v) : v)))
  const centralAt = good.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) // data.pkl's entry, the first
  const edited = (at: number, bytes: number[]) => {
    const copy = Buffer.from(good)
    Buffer.from(bytes).copy(copy, at)
    return copy
  }
  const legacy = Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]), Buffer.alloc(300)])
  return [
    {label: 'an empty file', bytes: Buffer.alloc(0), error: /is not a PyTorch checkpoint/},
    {label: 'text', bytes: Buffer.from('version https://git-lfs.github.com/spec/v1\n'), error: /is not a PyTorch checkpoint/},
    {label: 'the legacy (pre-1.6) format', bytes: legacy, error: /legacy \(pre-1\.6\) torch\.save format/},
    {label: 'a zip cut short', bytes: good.subarray(0, good.length - 30), error: /is not a readable zip archive/},
    {label: 'a compressed entry', bytes: edited(centralAt + 10, [8, 0]), error: /is compressed \(zip method 8\)/},
    {label: 'an entry offset past the end', bytes: edited(centralAt + 42, [0xf0, 0xff, 0xff, 0x7f]), error: /lies outside the file/},
    {label: 'a zip without data.pkl', bytes: torchCheckpointBytes(storages, views, {archive: 'a/b'}), error: /holds no data\.pkl/},
    {label: 'a big-endian byte order', bytes: torchCheckpointBytes(storages, views, {byteOrder: 'big'}), error: /big-endian/},
    {label: 'the global os.system', bytes: withPickle(pickle(global('os', 'system'), MARK, unicode('touch /tmp/pwned'), Buffer.from('tR'))), error: /the global "os\.system", which is not allowed/},
    {label: 'builtins.eval through STACK_GLOBAL', bytes: withPickle(pickle(unicode('builtins'), unicode('eval'), Buffer.from([0x93]))), error: /the global "builtins\.eval", which is not allowed/},
    {label: 'an INST opcode', bytes: withPickle(pickle(MARK, Buffer.from('ios\nsystem\n'))), error: /opcode INST \(0x69\)/},
    {label: 'a NEWOBJ opcode', bytes: withPickle(pickle(global('collections', 'OrderedDict'), Buffer.from(')'), Buffer.from([0x81]))), error: /opcode NEWOBJ \(0x81\)/},
    {label: 'an OrderedDict called with arguments', bytes: withPickle(pickle(global('collections', 'OrderedDict'), MARK, int(5), Buffer.from('tR'))), error: /a call of collections\.OrderedDict/},
    {label: 'a GET of an unset memo', bytes: withPickle(pickle(Buffer.from('h\x07'))), error: /a GET of memo 7/},
    {label: 'a SETITEMS without its MARK', bytes: withPickle(pickle(Buffer.from('}u'))), error: /without its MARK/},
    {label: 'a pickle cut short', bytes: withPickle(statePickle(storages, views).subarray(0, 32)), error: /a record past its end/},
    {label: 'a pickle of a list', bytes: withPickle(pickle(Buffer.from(']'))), error: /holds a pickled list, not a state dict/},
    {label: 'a nested state dict (a training checkpoint)', bytes: withPickle(pickle(Buffer.from('}'), unicode('model'), Buffer.from('}s'))), error: /model is a dict, not a tensor/},
    {label: 'a storage of 2^40 elements', bytes: torchCheckpointBytes(storages, views, {pickle: statePickle([{...storages[0]!, numel: 2 ** 40}, ...storages.slice(1)], views)}), error: /is said to hold 1099511627776 F32 elements/},
    {label: 'a view past its storage', bytes: withViews((v) => ({...v, storageOffset: 1})), error: /needs \d+ elements of storage/},
    {label: 'a non-contiguous view', bytes: withViews((v) => ({...v, stride: [1, v.shape[0]!]})), error: /non-contiguous view/},
    {label: 'a non-contiguous view named with a newline', bytes: withViews((v) => ({...v, name: 'a\nb', stride: [1, v.shape[0]!]})), error: /tensor "a\\nb" \(size \[4, 6\], stride \[1, 4\], offset 0\) is a non-contiguous view/},
    {label: 'a nested value under a name with a newline', bytes: withPickle(pickle(Buffer.from('}'), unicode('evil\nname'), Buffer.from('}s'))), error: /"evil\\nname" is a dict/},
    {label: 'a float64 tensor', bytes: torchCheckpointBytes([...storages, {key: 'd', dtype: 'F64', data: new Uint8Array(16)}], [...views, {name: 'double', storage: 'd', shape: [2]}]), error: /tensor double has dtype F64, which is not supported/},
    {label: 'a view of a missing storage', bytes: torchCheckpointBytes(storages.slice(1), views, {pickle: statePickle(storages, views)}), error: /its archive\/data\/0 entry is missing/},
  ]
}

/** Random edits of a good file: bytes overwritten, runs cut out, the file truncated; half of them in its first 4 KiB (data.pkl). */
export function mutatedTorchFiles(good: Buffer, random: SeededRandom, count: number): {label: string; bytes: Buffer}[] {
  return Array.from({length: count}, (_, i) => {
    const copy = Buffer.from(good)
    const at = random.nextInt(i % 2 === 0 ? Math.min(copy.length, 4096) : copy.length)
    switch (i % 3) {
      case 0:
        for (let k = 0; k < 1 + random.nextInt(4); k++) copy[(at + k * random.nextInt(64)) % copy.length] = random.nextInt(256)
        return {label: `bytes overwritten near ${at}`, bytes: copy}
      case 1:
        return {label: `bytes ${at}..${at + 8} cut out`, bytes: Buffer.concat([copy.subarray(0, at), copy.subarray(at + 8)])}
      default:
        return {label: `truncated to ${at} bytes`, bytes: copy.subarray(0, at)}
    }
  })
}
