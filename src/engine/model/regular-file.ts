// Model and input files are read only when they are regular files of a bounded size: a device (a config.json linked
// to /dev/zero) makes a read that never ends, and opening a FIFO blocks until some writer comes. Errors are plain
// Errors saying why, for the caller to name the file in its own kind (ModelLoadError, a flag's InvalidRequestError).
import {closeSync, fstatSync, openSync, readFileSync, statSync} from 'node:fs'

/** Far beyond any config, tokenizer, template, trace or dataset file (a large tokenizer.json is tens of MB). */
export const MAX_TEXT_FILE_BYTES = 2 ** 30

/** A directory passes: its read fails at once with EISDIR, which says what it is. */
function checkNotSpecial(path: string): number {
  const stats = statSync(path)
  if (!stats.isFile() && !stats.isDirectory()) throw new Error('it is not a regular file (a FIFO, socket or device)')
  return stats.size
}

/** The bytes of a regular file of at most maxBytes. */
export function readRegularFile(path: string, maxBytes = MAX_TEXT_FILE_BYTES): Buffer {
  const size = checkNotSpecial(path)
  if (size > maxBytes) throw new Error(`it has ${size} bytes, more than the ${maxBytes} such a file may have`)
  return readFileSync(path)
}

/** A regular file opened for reading (checked before the open, which would block on a FIFO; a directory is refused after it); the caller closes it. */
export function openRegularFile(path: string): number {
  checkNotSpecial(path)
  const fd = openSync(path, 'r')
  if (!fstatSync(fd).isFile()) {
    closeSync(fd)
    throw new Error('it is not a regular file (a directory?)')
  }
  return fd
}
