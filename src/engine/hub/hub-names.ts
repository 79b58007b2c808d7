// Checks names that come from a user or a Hub before they become cache paths: revisions, ETags (blob names), repository file names.
import {isAbsolute, relative, resolve} from 'node:path'
import {InvalidRequestError, PagedLLMError} from '../errors.js'

/**
 * Git's ref-name rules (git check-ref-format), which the Hub's branch and tag names follow: components split by
 * '/' (so refs/pr/1 is fine), none empty, none starting with '.' or ending with '.lock', no '..', no '@{', no
 * control characters, spaces or any of ~ ^ : ? * [ \. Joined under refs/ such a name can never leave it.
 */
export function isValidRevision(revision: string): boolean {
  if (revision === '' || revision === '@' || revision.length > 255) return false
  if (revision.includes('..') || revision.includes('@{') || /[\x00-\x20\x7f~^:?*[\\]/.test(revision)) return false
  if (revision.endsWith('.')) return false
  return revision.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'))
}

export function checkRevision(revision: string): void {
  if (isValidRevision(revision)) return
  throw new InvalidRequestError(
    `Revision ${JSON.stringify(revision)} is not a valid branch, tag or commit name (git ref rules: no '..', no empty or '.'-leading parts, no spaces or ~^:?*[\\).`,
    {param: 'revision'},
  )
}

/** A blob name from an ETag: one path segment of safe characters, never '.' or '..'. */
export function isSafeEtag(etag: string): boolean {
  return /^[A-Za-z0-9._-]{1,128}$/.test(etag) && !/^\.+$/.test(etag)
}

/** A file name listed by the Hub: a relative POSIX path whose every segment is a real name (no '', '.', '..', backslash or NUL). */
export function isSafeRepoFile(file: string): boolean {
  if (file === '' || file.length > 1024 || /[\\\x00]/.test(file)) return false
  return file.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
}

/** Throws unless `path` lies strictly inside `dir`: the last guard before a Hub-derived name is written to disk. */
export function assertInside(dir: string, path: string): void {
  const offset = relative(resolve(dir), resolve(path))
  if (offset !== '' && !offset.startsWith('..') && !isAbsolute(offset)) return
  throw new PagedLLMError(`Refusing to write ${path}: it is outside the cache folder ${dir}`, {code: 'hub_error'})
}
