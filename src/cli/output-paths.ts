// Paths a command writes to after a long run: checked (their folders made) before the run starts, so a typo costs nothing.
import {accessSync, constants, mkdirSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import {InvalidRequestError} from '../engine/errors.js'

function refuse(flag: string, path: string, why: string): never {
  throw new InvalidRequestError(`--${flag} ${path}: ${why}`, {param: flag})
}

/** Makes the directory if needed; refuses a path that is a file or a directory this process cannot write. */
export function prepareOutputDir(dir: string, flag: string): void {
  try {
    mkdirSync(dir, {recursive: true})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    refuse(flag, dir, code === 'EEXIST' || code === 'ENOTDIR' ? 'is a file (or below one), not a directory' : `cannot make the directory (${code})`)
  }
  try {
    accessSync(dir, constants.W_OK)
  } catch {
    refuse(flag, dir, 'the directory is not writable')
  }
}

/** Makes the file's directory if needed; refuses a path that is a directory or cannot be written. */
export function prepareOutputFile(path: string, flag: string): void {
  prepareOutputDir(dirname(path), flag)
  let isDirectory = false
  try {
    isDirectory = statSync(path).isDirectory()
    accessSync(path, constants.W_OK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') refuse(flag, path, 'the file is not writable')
  }
  if (isDirectory) refuse(flag, path, 'is a directory; give a file name')
}
