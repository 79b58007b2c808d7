// A grammar as it crosses threads: a short id (its key's digest) and the key's text in shared memory. A key is the
// spec's whole text (megabytes for a big schema); posted as a string it is copied on the event loop each time (~5 ms
// per 1.7 MB), while a SharedArrayBuffer crosses at the same cost whatever its size. The event loop's maps use the id.
import {createHash} from 'node:crypto'

export interface GrammarRef {
  /** sha256 of the key (base64): the compile cache's id on the engine's side. */
  id: string
  /** The key's UTF-8 bytes, shared (never written once made). */
  text: SharedArrayBuffer
}

export function grammarRefOfKey(key: string): GrammarRef {
  const text = new SharedArrayBuffer(Buffer.byteLength(key))
  Buffer.from(text).write(key)
  return {id: createHash('sha256').update(key).digest('base64'), text}
}

/** The key's text (in a grammar worker, when it compiles or starts a matcher: off the event loop). */
export function keyOfRef(ref: GrammarRef): string {
  return Buffer.from(ref.text).toString('utf8')
}
