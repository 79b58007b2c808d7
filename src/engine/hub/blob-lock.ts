// Lets one download at a time write a given blob, so two pagedllm runs never append to the same .incomplete file.
import {randomUUID} from 'node:crypto'
import {mkdir, readFile, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'

const POLL_MS = 200
/** The holder touches its owner file this often, so waiters on other hosts (or containers) can tell it is alive. */
const HEARTBEAT_MS = 5_000
const STALE_AFTER_MS = 30_000
/** Tells this process from an earlier one that had the same pid (containers restart as pid 1). */
const INSTANCE = randomUUID()

interface LockOwner {
  pid: number
  host: string
  instance: string
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function ageMs(path: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(path)).mtimeMs
  } catch {
    return null
  }
}

/** A lock whose holder is gone: a dead process of this host, an earlier process with our pid, or no heartbeat for long. */
async function isStale(lockDir: string): Promise<boolean> {
  const ownerFile = join(lockDir, 'owner.json')
  let owner: LockOwner | null = null
  try {
    owner = JSON.parse(await readFile(ownerFile, 'utf8')) as LockOwner
  } catch {
    // No owner yet: the holder is between mkdir and writing it, unless it died right there long ago.
    return ((await ageMs(lockDir)) ?? 0) > STALE_AFTER_MS
  }
  if (owner.host === hostname()) {
    if (owner.pid === process.pid ? owner.instance !== INSTANCE : !isAlive(owner.pid)) return true
  }
  return ((await ageMs(ownerFile)) ?? 0) > STALE_AFTER_MS
}

/**
 * Runs `body` while holding the lock `lockDir` (mkdir is atomic, so exactly one caller creates it). A live holder is
 * waited for, since it is downloading the same bytes; a stale lock is taken over. Two waiters taking over the same
 * stale lock at once could both proceed; the sha256 check after the download still rejects what that would garble.
 */
export async function withBlobLock<T>(lockDir: string, body: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lockDir)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    if (await isStale(lockDir)) await rm(lockDir, {recursive: true, force: true})
    else await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  const ownerFile = join(lockDir, 'owner.json')
  const heartbeat = setInterval(() => {
    const now = new Date()
    utimes(ownerFile, now, now).catch(() => undefined)
  }, HEARTBEAT_MS)
  heartbeat.unref()
  try {
    await writeFile(ownerFile, JSON.stringify({pid: process.pid, host: hostname(), instance: INSTANCE} satisfies LockOwner))
    return await body()
  } finally {
    clearInterval(heartbeat)
    await rm(lockDir, {recursive: true, force: true})
  }
}
