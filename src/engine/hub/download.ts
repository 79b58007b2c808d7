// Fetches one file of a pinned snapshot into the cache: resumable (<blob>.incomplete + Range), verified (size, sha256), atomic (rename).
import {createHash, type Hash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, open, rename, rm, stat, truncate} from 'node:fs/promises'
import {dirname} from 'node:path'
import {ModelLoadError, UnavailableError} from '../errors.js'
import type {RepoCache} from './hf-cache.js'
import type {HubClient, RemoteFile} from './hub-client.js'
import {isNetworkFailure} from './hub-errors.js'
import type {ProgressSink} from './progress.js'

export interface SnapshotFileDownload {
  client: HubClient
  repo: RepoCache
  revision: string
  commit: string
  file: string
  progress: ProgressSink | null
  /** Attempts per file when the connection drops mid-transfer; each resumes where the last one stopped. */
  maxAttempts?: number
}

const DEFAULT_MAX_ATTEMPTS = 3
const RETRY_DELAY_MS = 250
const SHA256_HEX = /^[0-9a-f]{64}$/

/** A transfer that stopped early; the .incomplete file keeps what arrived, so the next attempt resumes. */
class InterruptedTransfer extends Error {}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

async function hashExistingPrefix(path: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return
  for await (const chunk of createReadStream(path, {start: 0, end: length - 1})) hash.update(chunk as Buffer)
}

/** Makes snapshots/<commit>/<file> exist, downloading its blob unless the cache already has it under the same etag. */
export async function downloadSnapshotFile(job: SnapshotFileDownload): Promise<void> {
  const {client, repo, revision, commit, file} = job
  if (await repo.hasSnapshotFile(commit, file)) return
  const remote = await client.openFile(repo.repoId, revision, commit, file)
  const cachedSize = await repo.blobSize(remote.etag)
  if (cachedSize !== null && (remote.size === null || cachedSize === remote.size)) {
    // Another revision (or another tool) already holds this exact content.
    await remote.discard()
  } else {
    await fetchBlob(job, remote)
  }
  await repo.linkSnapshotFile(commit, file, remote.etag)
}

async function fetchBlob(job: SnapshotFileDownload, remote: RemoteFile): Promise<void> {
  const incomplete = job.repo.incompletePath(remote.etag)
  await mkdir(dirname(incomplete), {recursive: true})
  const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
  for (let attempt = 1; ; attempt++) {
    try {
      await transferIntoIncomplete(job, remote, incomplete)
      break
    } catch (error) {
      const interrupted = error instanceof InterruptedTransfer || isNetworkFailure(error) || (error instanceof UnavailableError && error.code === 'hub_unreachable')
      if (!interrupted) throw error
      if (attempt >= maxAttempts) {
        const kept = await fileSize(incomplete)
        throw new UnavailableError(
          `Downloading ${job.file} of ${job.repo.repoId} was interrupted ${maxAttempts} times (${kept} of ${remote.size ?? '?'} bytes kept in ${incomplete}). ` +
            'Check your network connection and run the command again: it resumes where it stopped.',
          {code: 'download_interrupted', cause: error},
        )
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt))
    }
  }
  // Only a verified, complete file gets the blob name, so a crash never leaves a half file that looks finished.
  await rename(incomplete, job.repo.blobPath(remote.etag))
}

/** Appends the missing bytes to the .incomplete file and verifies the whole; throws InterruptedTransfer if the body stops early. */
async function transferIntoIncomplete(job: SnapshotFileDownload, remote: RemoteFile, incomplete: string): Promise<void> {
  let onDisk = await fileSize(incomplete)
  if (remote.size !== null && onDisk > remote.size) {
    await truncate(incomplete, 0)
    onDisk = 0
  }
  const hash = createHash('sha256')
  if (remote.size === null || onDisk < remote.size) {
    const {body, start} = await remote.openBody(onDisk)
    if (start !== onDisk) {
      // The server sent the whole file instead of the requested range: start over.
      await truncate(incomplete, 0)
      onDisk = 0
    }
    await hashExistingPrefix(incomplete, onDisk, hash)
    job.progress?.fileStarted(job.file, remote.size, onDisk)
    const handle = await open(incomplete, 'a')
    try {
      for await (const chunk of body) {
        await handle.write(chunk)
        hash.update(chunk)
        onDisk += chunk.byteLength
        job.progress?.bytesReceived(chunk.byteLength)
      }
      await handle.sync()
    } finally {
      await handle.close()
      job.progress?.fileFinished()
    }
  } else {
    await hashExistingPrefix(incomplete, onDisk, hash)
  }
  if (remote.size !== null && onDisk < remote.size) throw new InterruptedTransfer(`${job.file}: body ended after ${onDisk} of ${remote.size} bytes`)
  const digest = hash.digest('hex')
  const sizeWrong = remote.size !== null && onDisk !== remote.size
  const shaWrong = SHA256_HEX.test(remote.etag) && digest !== remote.etag
  if (sizeWrong || shaWrong) {
    await rm(incomplete, {force: true})
    const detail = sizeWrong ? `${onDisk} bytes instead of ${remote.size}` : `sha256 ${digest} instead of ${remote.etag}`
    throw new ModelLoadError(
      `The download of ${job.file} of ${job.repo.repoId} is corrupt (${detail}); it was discarded and nothing was cached. Run the command again; if it keeps failing, the server or a proxy (HF_ENDPOINT) is altering the file.`,
      {code: 'download_corrupt'},
    )
  }
}
