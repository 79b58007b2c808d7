// GGUF files written into a scratch directory that is removed after the test file's tests.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after} from 'node:test'
import {ggufBytes, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'

export interface GgufScratch {
  /** The scratch directory, for other files of the test. */
  readonly dir: string
  /** Writes `<name>.gguf` (version 3) into the directory and returns its path. */
  write(name: string, metadata: Record<string, GgufEntry>, tensors: GgufTensorSpec[]): string
}

/** A fresh directory named from `prefix`, removed after the file's tests. */
export function ggufScratch(prefix: string): GgufScratch {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  after(() => rmSync(dir, {recursive: true, force: true}))
  return {
    dir,
    write(name, metadata, tensors) {
      const path = join(dir, `${name}.gguf`)
      writeFileSync(path, ggufBytes(metadata, {tensors}))
      return path
    },
  }
}
