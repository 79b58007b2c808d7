// Text kept as UTF-8 in a SharedArrayBuffer: posted between threads it is shared, not copied (V8 copies a string it
// posts: ~12 ns a byte, so a 38 MB conversation held the event loop ~0.5 s per continuation).

/** `text` as UTF-8 in a SharedArrayBuffer of its own. */
export function sharedUtf8(text: string): Uint8Array {
  const bytes = new Uint8Array(new SharedArrayBuffer(Buffer.byteLength(text)))
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).write(text)
  return bytes
}

/** A Buffer over `bytes` (no copy), for decoding and searching them. */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
