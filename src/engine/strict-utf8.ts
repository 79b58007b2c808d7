// Text that must be UTF-8 (a prompt on stdin, a dataset file): bytes that are not are refused, saying where, rather
// than decoded to U+FFFD replacement characters that would quietly change the text.

const fatalDecoder = new TextDecoder('utf-8', {fatal: true})

/** The bytes were not UTF-8; `offset` is where the first invalid sequence starts. */
export class InvalidUtf8Error extends Error {
  constructor(
    readonly offset: number,
    readonly byteLength: number,
    firstByte: number,
  ) {
    super(`not UTF-8 text: invalid byte 0x${firstByte.toString(16).padStart(2, '0')} at byte offset ${offset} of ${byteLength}`)
    this.name = 'InvalidUtf8Error'
  }
}

/** The bytes as text (a leading BOM dropped, as TextDecoder does); InvalidUtf8Error at the first invalid sequence. */
export function decodeUtf8Strictly(bytes: Uint8Array): string {
  try {
    return fatalDecoder.decode(bytes)
  } catch {
    // TextDecoder does not say where; the scan runs only on refused input.
    const offset = firstInvalidUtf8Offset(bytes)
    throw new InvalidUtf8Error(offset, bytes.length, bytes[offset]!)
  }
}

/** Where the first ill-formed sequence starts (Unicode's table of well-formed byte sequences), or -1 when there is none. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!
    if (lead < 0x80) {
      i++
      continue
    }
    // Continuation bytes are 0x80..0xbf, but the second byte after E0, ED, F0 and F4 is narrower: no overlong forms, surrogates or code points past U+10FFFF.
    const [length, low, high] =
      lead >= 0xc2 && lead <= 0xdf ? [2, 0x80, 0xbf]
      : lead >= 0xe0 && lead <= 0xef ? [3, lead === 0xe0 ? 0xa0 : 0x80, lead === 0xed ? 0x9f : 0xbf]
      : lead >= 0xf0 && lead <= 0xf4 ? [4, lead === 0xf0 ? 0x90 : 0x80, lead === 0xf4 ? 0x8f : 0xbf]
      : [0, 0, 0]
    if (length === 0) return i
    for (let k = 1; k < length; k++) {
      const byte = bytes[i + k]
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i
    }
    i += length
  }
  return -1
}
