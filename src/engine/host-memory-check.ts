// A KV pool or swap space larger than this machine is refused by its flag before anything is allocated: the native
// allocation would fail with a bare byte count (or, past 2^31 blocks, an argument error), and on a kernel that
// overcommits it could succeed and have the process killed later, when the blocks are touched.
import {totalmem} from 'node:os'
import {InvalidRequestError} from './errors.js'

/** The native block tables and counts are 32-bit. */
export const MAX_KV_BLOCKS = 2 ** 31 - 1

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`

/** `blocks` of `blockBytes` each, sized by `--flag`, must fit in host memory. */
export function checkBlocksFitHost(what: string, blocks: number, blockBytes: number, flag: string, hostBytes = totalmem()): void {
  const bytes = blocks * blockBytes
  if (blocks <= MAX_KV_BLOCKS && bytes <= hostBytes) return
  const why = bytes > hostBytes ? `${gib(bytes)}, more than this machine's ${gib(hostBytes)} of memory` : `${blocks} blocks, past the ${MAX_KV_BLOCKS} a pool can count`
  throw new InvalidRequestError(`--${flag}: the ${what} would take ${why} (${blockBytes} bytes a block)`, {param: flag})
}
