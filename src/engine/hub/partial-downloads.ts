// Partial blob files of both tools: pagedllm's <etag>.incomplete and huggingface_hub's <etag>.<uuid8>.incomplete; which to resume, which to delete.
import {readdir, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

/**
 * A partial file untouched this long has no writer: both tools write continuously and give up on a stalled connection
 * within seconds (huggingface_hub's read timeout is 10 s), so an older one is left over from a killed process.
 */
export const ABANDONED_AFTER_MS = 60_000

interface PartialFile {
  path: string
  size: number
  abandoned: boolean
}

/** Every partial file of this blob: ours (<etag>.incomplete) and huggingface_hub's (<etag>.<8 hex>.incomplete). */
async function partialsOf(blobPath: string): Promise<PartialFile[]> {
  const etag = basename(blobPath)
  const pattern = new RegExp(`^${etag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.[0-9a-f]{8})?\\.incomplete$`)
  let names: string[]
  try {
    names = await readdir(dirname(blobPath))
  } catch {
    return []
  }
  const partials: PartialFile[] = []
  for (const name of names.filter((candidate) => pattern.test(candidate))) {
    try {
      const info = await stat(join(dirname(blobPath), name))
      partials.push({path: join(dirname(blobPath), name), size: info.size, abandoned: Date.now() - info.mtimeMs > ABANDONED_AFTER_MS})
    } catch {
      // Renamed or removed by its writer meanwhile.
    }
  }
  return partials
}

/**
 * Makes `resumePath` (our <etag>.incomplete) the longest usable partial: huggingface_hub's own partial of the same blob
 * is taken over when it is abandoned, no longer than the blob and longer than ours. The caller holds the blob lock and
 * verifies size and sha256 at the end, so a wrong pick costs a download, never a bad blob.
 */
export async function adoptLongestPartial(resumePath: string, blobPath: string, blobSize: number | null): Promise<void> {
  const partials = await partialsOf(blobPath)
  const ours = partials.find((partial) => partial.path === resumePath)
  const theirs = partials
    .filter((partial) => partial.path !== resumePath && partial.abandoned && (blobSize === null || partial.size <= blobSize))
    .sort((a, b) => b.size - a.size)[0]
  if (theirs !== undefined && theirs.size > (ours?.size ?? 0)) await rename(theirs.path, resumePath)
}

/** Once the blob exists, partial files of it that no process writes any more are dead weight: removes them. */
export async function removeAbandonedPartials(blobPath: string): Promise<void> {
  for (const partial of await partialsOf(blobPath)) if (partial.abandoned) await rm(partial.path, {force: true})
}
