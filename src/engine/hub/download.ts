// Fetches one file of a pinned snapshot into the cache: resumable (<blob>.incomplete + Range, either tool's), verified (size, sha256), atomic (rename).
import {createHash, type Hash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, open, rename, rm, stat, truncate} from 'node:fs/promises'
import {dirname} from 'node:path'
import {ModelLoadError, UnavailableError} from '../errors.js'
import {withBlobLock} from './blob-lock.js'
import {adoptLongestPartial, removeAbandonedPartials} from './partial-downloads.js'
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
}

/** Attempts per file when the connection drops mid-transfer; each resumes where the last one stopped. */
const MAX_ATTEMPTS = 3
const RETRY_DELAY_MS = 250
const SHA256_HEX = /^[0-9a-f]{64}$/
const WRITE_BATCH_BYTES = 4 << 20

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
  const isCached = async () => {
    const cachedSize = await repo.blobSize(remote.etag)
    return cachedSize !== null && (remote.size === null || cachedSize === remote.size)
  }
  // Another revision (or another tool) may already hold this exact content; else fetch it, one writer at a time.
  if (await isCached()) {
    await remote.discard()
  } else {
    await mkdir(dirname(repo.blobPath(remote.etag)), {recursive: true})
    await repo.tagCacheDir()
    await repo.createHubLockFile(remote.etag)
    await withBlobLock(repo.blobLockPath(remote.etag), async () => {
      // A concurrent run may have finished this blob while we waited for the lock.
      if (await isCached()) await remote.discard()
      else await fetchBlob(job, remote)
    })
  }
  await removeAbandonedPartials(repo.blobPath(remote.etag))
  await repo.linkSnapshotFile(commit, file, remote.etag)
}

async function fetchBlob(job: SnapshotFileDownload, remote: RemoteFile): Promise<void> {
  const incomplete = job.repo.incompletePath(remote.etag)
  await adoptLongestPartial(incomplete, job.repo.blobPath(remote.etag), remote.size)
  for (let attempt = 1; ; attempt++) {
    try {
      await transferIntoIncomplete(job, remote, incomplete)
      break
    } catch (error) {
      const interrupted = error instanceof InterruptedTransfer || isNetworkFailure(error) || (error instanceof UnavailableError && error.code === 'hub_unreachable')
      if (!interrupted) throw error
      if (attempt >= MAX_ATTEMPTS) {
        const kept = await fileSize(incomplete)
        throw new UnavailableError(
          `Downloading ${job.file} of ${job.repo.repoId} was interrupted ${MAX_ATTEMPTS} times (${kept} of ${remote.size ?? '?'} bytes kept in ${incomplete}). ` +
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
    // Network chunks are small (16-64 KiB); writing them in batches keeps the disk from being the bottleneck.
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const flush = async () => {
      const {bytesWritten} = await handle.writev(pending)
      if (bytesWritten !== pendingBytes) throw new Error(`short write to ${incomplete}: ${bytesWritten} of ${pendingBytes} bytes`)
      onDisk += pendingBytes
      pending = []
      pendingBytes = 0
    }
    try {
      for await (const chunk of body) {
        hash.update(chunk)
        pending.push(chunk)
        pendingBytes += chunk.byteLength
        if (pendingBytes >= WRITE_BATCH_BYTES) await flush()
        job.progress?.bytesReceived(chunk.byteLength)
      }
      await flush()
      await handle.sync()
    } catch (error) {
      // Keep what arrived before the connection dropped, so the next attempt resumes after it. If even that write
      // fails, the transfer error is still the one worth reporting; the next attempt re-hashes whatever is on disk.
      await flush().catch(() => undefined)
      throw error
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
