// What the fake Hub's JSON API says about a commit's files: /tree and /paths-info entries and the /revision model info.
import {createHash} from 'node:crypto'

/** Large binary files live in LFS on the real Hub: resolve answers them with a redirect to a CDN. */
export function isLfsFile(file: string): boolean {
  return /\.(safetensors|bin|gguf)$/.test(file)
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The git blob id: the ETag of small files, and the oid /tree gives every file (for LFS files, of its pointer). */
export function gitBlobSha(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex')
}

/** The Git LFS pointer committed in place of a large file (the spec's three lines). */
export function lfsPointer(data: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`)
}

export interface TreeEntry {
  type: 'file' | 'directory'
  oid: string
  size: number
  path: string
  lfs?: {oid: string; size: number; pointerSize: number}
}

function fileEntry(path: string, data: Buffer): TreeEntry {
  if (!isLfsFile(path)) return {type: 'file', oid: gitBlobSha(data), size: data.length, path}
  const pointer = lfsPointer(data)
  return {type: 'file', oid: gitBlobSha(pointer), size: data.length, path, lfs: {oid: sha256(data), size: data.length, pointerSize: pointer.length}}
}

/** A directory's oid stands in for its git tree sha: stable per content, which is all a client may assume. */
function directoryEntry(path: string, files: Map<string, Buffer>): TreeEntry {
  const hash = createHash('sha1').update(`tree ${path}\0`)
  for (const [name, data] of files) if (name.startsWith(`${path}/`)) hash.update(name).update(gitBlobSha(data))
  return {type: 'directory', oid: hash.digest('hex'), size: 0, path}
}

/** The entries /tree lists under `folder` ('' for the root): direct children, or every descendant when recursive. */
export function treeEntries(files: Map<string, Buffer>, folder: string, recursive: boolean): TreeEntry[] | null {
  const prefix = folder === '' ? '' : `${folder}/`
  if (folder !== '' && ![...files.keys()].some((name) => name.startsWith(prefix))) return null
  const entries = new Map<string, TreeEntry>()
  for (const [name, data] of files) {
    if (!name.startsWith(prefix)) continue
    const parts = name.slice(prefix.length).split('/')
    // Every folder on the way down is listed once, as the Hub lists directories before their content.
    for (let depth = 1; depth < parts.length && (recursive || depth === 1); depth++) {
      const dir = prefix + parts.slice(0, depth).join('/')
      if (!entries.has(dir)) entries.set(dir, directoryEntry(dir, files))
    }
    if (recursive || parts.length === 1) entries.set(name, fileEntry(name, data))
  }
  return [...entries.values()].sort((a, b) => a.path.localeCompare(b.path))
}

/** /paths-info: the entry of each asked path that exists (files or folders), in the order asked. */
export function pathsInfo(files: Map<string, Buffer>, paths: string[]): TreeEntry[] {
  const found: TreeEntry[] = []
  for (const path of paths) {
    const data = files.get(path)
    if (data !== undefined) found.push(fileEntry(path, data))
    else if ([...files.keys()].some((name) => name.startsWith(`${path}/`))) found.push(directoryEntry(path, files))
  }
  return found
}

/** GET /api/models/{repo}/revision/{rev}: the model info huggingface_hub's ModelInfo reads; blobs=true adds file metadata. */
export function modelInfo(repoId: string, commit: string, files: Map<string, Buffer>, gated: boolean, withBlobs: boolean): Record<string, unknown> {
  const siblings = [...files].map(([rfilename, data]) => {
    if (!withBlobs) return {rfilename}
    const entry = fileEntry(rfilename, data)
    return {rfilename, blobId: entry.oid, size: entry.size, ...(entry.lfs ? {lfs: {sha256: entry.lfs.oid, size: entry.lfs.size, pointerSize: entry.lfs.pointerSize}} : {})}
  })
  return {
    _id: commit.slice(0, 24),
    id: repoId,
    modelId: repoId,
    author: repoId.split('/')[0],
    sha: commit,
    lastModified: '2026-01-01T00:00:00.000Z',
    createdAt: '2026-01-01T00:00:00.000Z',
    private: false,
    disabled: false,
    gated: gated ? 'manual' : false,
    downloads: 0,
    likes: 0,
    tags: ['safetensors'],
    library_name: 'transformers',
    siblings,
    usedStorage: [...files.values()].reduce((sum, data) => sum + data.length, 0),
  }
}
