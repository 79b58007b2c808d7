// Writes small vocab-only GGUF files (header + key/value metadata, no tensors) so the GGUF reader is tested on files we make.

/** A metadata value: a string, a uint32, or an array of strings or int32s (all a GGUF tokenizer vocab needs). */
export type GgufEntry = {type: 'string'; value: string} | {type: 'u32'; value: number} | {type: 'strings'; value: string[]} | {type: 'i32s'; value: number[]}

// gguf.h: GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9.
const U32 = 4
const I32 = 5
const STRING = 8
const ARRAY = 9

export function ggufBytes(metadata: Record<string, GgufEntry>, version = 3): Buffer {
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1')]
  const u32 = (n: number) => parts.push(Buffer.from(new Uint32Array([n]).buffer))
  const i32 = (n: number) => parts.push(Buffer.from(new Int32Array([n]).buffer))
  const u64 = (n: number) => parts.push(Buffer.from(new BigUint64Array([BigInt(n)]).buffer))
  const string = (text: string) => {
    const bytes = Buffer.from(text, 'utf8')
    u64(bytes.length)
    parts.push(bytes)
  }
  u32(version)
  u64(0) // tensors
  u64(Object.keys(metadata).length)
  for (const [key, entry] of Object.entries(metadata)) {
    string(key)
    switch (entry.type) {
      case 'string': u32(STRING); string(entry.value); break
      case 'u32': u32(U32); u32(entry.value); break
      case 'strings': u32(ARRAY); u32(STRING); u64(entry.value.length); entry.value.forEach(string); break
      case 'i32s': u32(ARRAY); u32(I32); u64(entry.value.length); entry.value.forEach(i32); break
    }
  }
  return Buffer.concat(parts)
}
