// One repository's folder in the standard Hugging Face cache: models--ORG--NAME/{blobs,snapshots,refs,trees}, shared with other tools.
import {access, mkdir, open, readFile, rename, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {dirname, join, relative} from 'node:path'
import {treeFromJson, treeToJson} from './cache-tree.js'
import type {TreeFile} from './hub-client.js'

const COMMIT_SHA = /^[0-9a-f]{40}$/

/** The Cache Directory Tagging Standard's tag (its first line is what backup tools check), as huggingface_hub writes at the cache root. */
const CACHEDIR_TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by pagedllm for the Hugging Face cache.\n# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n'

function isCommitSha(revision: string): boolean {
  return COMMIT_SHA.test(revision)
}

export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`
}

/** Inverse of repoFolderName, or null for folders that are not model repositories (datasets--, spaces--, stray files). */
export function repoIdFromFolderName(folder: string): string | null {
  if (!folder.startsWith('models--')) return null
  const parts = folder.slice('models--'.length).split('--')
  return parts.length >= 1 && parts.every((part) => part !== '') ? parts.join('/') : null
}

/** A unique sibling name for write-then-rename, so readers never see a half-written file. */
function temporarySibling(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`
}

export class RepoCache {
  readonly root: string

  constructor(readonly cacheDir: string, readonly repoId: string) {
    this.root = join(cacheDir, repoFolderName(repoId))
  }

  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag)
  }

  /**
   * pagedllm's partial download, resumed by later runs. huggingface_hub (1.x) names its own <etag>.<uuid8>.incomplete,
   * never resumes and deletes it on failure; one left by a killed process is adopted (partial-downloads.ts).
   */
  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`
  }

  /** pagedllm's own lock name: huggingface_hub's `.locks/.../<etag>.lock` is a file it flocks, which a directory there would break. */
  blobLockPath(etag: string): string {
    return `${this.blobPath(etag)}.pagedllm-lock`
  }

  /** huggingface_hub's lock file of a blob; pagedllm creates it as huggingface_hub does (it cannot flock it from Node). */
  hubLockPath(etag: string): string {
    return join(this.cacheDir, '.locks', repoFolderName(this.repoId), `${etag}.lock`)
  }

  async createHubLockFile(etag: string): Promise<void> {
    await mkdir(dirname(this.hubLockPath(etag)), {recursive: true})
    // Group-writable like huggingface_hub's, so users sharing the cache can lock it.
    await (await open(this.hubLockPath(etag), 'a', 0o664)).close()
  }

  /** Writes CACHEDIR.TAG at the cache root unless present, so backup tools skip the cache. */
  async tagCacheDir(): Promise<void> {
    const tagPath = join(this.cacheDir, 'CACHEDIR.TAG')
    try {
      await access(tagPath)
    } catch {
      await writeAtomically(tagPath, CACHEDIR_TAG)
    }
  }

  treePath(commit: string): string {
    return join(this.root, 'trees', `${commit}.json`)
  }

  /** The commit's cached file listing, or null when absent or unreadable. */
  async readTree(commit: string): Promise<TreeFile[] | null> {
    try {
      return treeFromJson(await readFile(this.treePath(commit), 'utf8'))
    } catch {
      return null
    }
  }

  /** A commit never changes, so its listing is cached for good (huggingface_hub does the same). */
  async writeTree(commit: string, files: readonly TreeFile[]): Promise<void> {
    await writeAtomically(this.treePath(commit), treeToJson(files))
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit)
  }

  snapshotFile(commit: string, file: string): string {
    return join(this.snapshotDir(commit), file)
  }

  refPath(revision: string): string {
    return join(this.root, 'refs', revision)
  }

  /** The commit a revision points to in the cache: a commit sha is its own answer, a branch or tag needs refs/<name>. */
  async commitFor(revision: string): Promise<string | null> {
    if (isCommitSha(revision)) return revision
    try {
      const commit = (await readFile(this.refPath(revision), 'utf8')).trim()
      return isCommitSha(commit) ? commit : null
    } catch {
      return null
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (isCommitSha(revision)) return
    await writeAtomically(this.refPath(revision), commit)
  }

  /** Size of a complete blob, or null when it is absent. */
  async blobSize(etag: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(etag))).size
    } catch {
      return null
    }
  }

  /** True when snapshots/<commit>/<file> resolves to an existing file (a dangling link counts as missing). */
  async hasSnapshotFile(commit: string, file: string): Promise<boolean> {
    try {
      return (await stat(this.snapshotFile(commit, file))).isFile()
    } catch {
      return false
    }
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag> with a relative link, as huggingface_hub does, replacing any old link atomically. */
  async linkSnapshotFile(commit: string, file: string, etag: string): Promise<void> {
    const linkPath = this.snapshotFile(commit, file)
    await mkdir(dirname(linkPath), {recursive: true})
    const temporary = temporarySibling(linkPath)
    await symlink(relative(dirname(linkPath), this.blobPath(etag)), temporary)
    await rename(temporary, linkPath)
  }

  async remove(): Promise<void> {
    await rm(this.root, {recursive: true, force: true})
  }
}

async function writeAtomically(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), {recursive: true})
  const temporary = temporarySibling(path)
  await writeFile(temporary, content)
  await rename(temporary, path)
}
