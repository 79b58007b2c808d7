// The `models` commands' --cache-dir flag and the folder it names (else the environment's hub cache).
import {statSync} from 'node:fs'
import {Flags} from '@oclif/core'
import {InvalidRequestError} from '../engine/errors.js'
import {hubCacheDir} from '../engine/hub/hub-settings.js'

export const cacheDirFlag = Flags.string({description: 'Hub cache folder (default: from HF_HUB_CACHE / HF_HOME)'})

/** A cache that does not exist yet is simply empty; a path that is a file is a mistake, never "no models". */
export function cacheDirFromFlag(given: string | undefined): string {
  const dir = given ?? hubCacheDir()
  let isFile = false
  try {
    isFile = !statSync(dir).isDirectory()
  } catch {} // absent: an empty cache
  if (isFile) throw new InvalidRequestError(`${given === undefined ? 'the hub cache' : '--cache-dir'} ${dir} is a file, not a Hugging Face cache folder`, {param: 'cache-dir'})
  return dir
}
