// Lists and removes the model repositories in the Hugging Face cache, for `pagedllm models`.
import {readdir, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {NotFoundError} from '../errors.js'
import {RepoCache, repoIdFromFolderName} from './hf-cache.js'

export interface CachedModel {
  repoId: string
  dir: string
  /** Sum of the complete blobs: the disk the model takes (snapshots are links into them). */
  sizeBytes: number
  /** Bytes in unfinished downloads (<blob>.incomplete) that a later run resumes. */
  partialBytes: number
  /** Branch or tag -> commit sha, from refs/. */
  refs: Record<string, string>
  /** Commit shas with a snapshot folder. */
  snapshots: string[]
  lastModified: Date
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch {
    return []
  }
}

/** refs/ may nest (refs/pr/1 is stored as refs/refs/pr/1), so walk it. */
async function readRefs(refsDir: string, prefix = ''): Promise<Record<string, string>> {
  const refs: Record<string, string> = {}
  for (const name of await entriesOf(refsDir)) {
    const path = join(refsDir, name)
    if ((await stat(path)).isDirectory()) Object.assign(refs, await readRefs(path, `${prefix}${name}/`))
    else refs[`${prefix}${name}`] = (await readFile(path, 'utf8')).trim()
  }
  return refs
}

async function describeRepo(repoId: string, dir: string): Promise<CachedModel> {
  let sizeBytes = 0
  let partialBytes = 0
  let lastModified = (await stat(dir)).mtime
  for (const blob of await entriesOf(join(dir, 'blobs'))) {
    const info = await stat(join(dir, 'blobs', blob))
    if (!info.isFile()) continue
    if (blob.endsWith('.incomplete')) partialBytes += info.size
    else sizeBytes += info.size
    if (info.mtime > lastModified) lastModified = info.mtime
  }
  return {repoId, dir, sizeBytes, partialBytes, refs: await readRefs(join(dir, 'refs')), snapshots: await entriesOf(join(dir, 'snapshots')), lastModified}
}

export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  const models: CachedModel[] = []
  for (const folder of await entriesOf(cacheDir)) {
    const repoId = repoIdFromFolderName(folder)
    const dir = join(cacheDir, folder)
    if (repoId !== null && (await stat(dir)).isDirectory()) models.push(await describeRepo(repoId, dir))
  }
  return models
}

/** Deletes one repository's folder (all its revisions); returns what it held. */
export async function removeCachedModel(cacheDir: string, repoId: string): Promise<CachedModel> {
  const repo = new RepoCache(cacheDir, repoId)
  let model: CachedModel
  try {
    model = await describeRepo(repoId, repo.root)
  } catch {
    throw new NotFoundError(`${repoId} is not in the Hugging Face cache at ${cacheDir}; \`pagedllm models list\` shows what is.`, {code: 'model_not_cached'})
  }
  await repo.remove()
  return model
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
