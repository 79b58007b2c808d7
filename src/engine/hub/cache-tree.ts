// A commit's file listing in huggingface_hub's cache format (<repo>/trees/<commit>.json), which get_cached_repo_tree and snapshot_download read.
import type {TreeFile} from './hub-client.js'

/** huggingface_hub ignores (and re-fetches) a listing of any other version. */
const TREE_FORMAT_VERSION = 1

interface TreeFileJson {
  size: number
  blob_id: string
  lfs_sha256?: string
  lfs_size?: number
}

/** The listing as huggingface_hub writes it: files by path, sorted, LFS fields only for LFS files. */
export function treeToJson(files: readonly TreeFile[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const entries: Record<string, TreeFileJson> = {}
  for (const file of sorted) {
    entries[file.path] = {size: file.size, blob_id: file.blobId, ...(file.lfs === null ? {} : {lfs_sha256: file.lfs.sha256, lfs_size: file.lfs.size})}
  }
  return JSON.stringify({format_version: TREE_FORMAT_VERSION, files: entries}, null, 1)
}

/** The files of a cached listing, or null when it is of another version or malformed (then the Hub is asked again). */
export function treeFromJson(text: string): TreeFile[] | null {
  let data: {format_version?: unknown; files?: unknown}
  try {
    data = JSON.parse(text) as typeof data
  } catch {
    return null
  }
  if (data.format_version !== TREE_FORMAT_VERSION || typeof data.files !== 'object' || data.files === null) return null
  const files: TreeFile[] = []
  for (const [path, raw] of Object.entries(data.files as Record<string, Partial<TreeFileJson>>)) {
    if (typeof raw?.size !== 'number' || typeof raw.blob_id !== 'string') return null
    const lfs = typeof raw.lfs_sha256 === 'string' && typeof raw.lfs_size === 'number' ? {sha256: raw.lfs_sha256, size: raw.lfs_size} : null
    files.push({path, size: raw.size, blobId: raw.blob_id, lfs})
  }
  return files
}
