// Talks to the Hugging Face Hub (or a mirror) over HTTP with undici: lists a revision's files and opens file downloads.
import {NotFoundError, PagedLLMError} from '../errors.js'
import {hubHttpError, hubNetworkError, isNetworkFailure, type HubRequestContext} from './hub-errors.js'
import {checkRevision, isSafeEtag, isSafeRepoFile} from './hub-names.js'

export interface ResponseBody extends AsyncIterable<Uint8Array> {
  cancel(reason?: unknown): Promise<void>
}

/** The part of a fetch Response the client reads; undici's and Node's global fetch both fit. */
export interface HubResponse {
  status: number
  headers: {get(name: string): string | null}
  body: ResponseBody | null
  text(): Promise<string>
}

export type FetchImpl = (url: string, init: {method: string; headers: Record<string, string>; redirect: 'manual'}) => Promise<HubResponse>

export interface RevisionInfo {
  /** The commit the revision points to now; everything after is fetched by this sha so the snapshot is consistent. */
  commit: string
}

/** One file of a commit as /tree lists it (what huggingface_hub caches in trees/<commit>.json). */
export interface TreeFile {
  path: string
  size: number
  /** The git blob sha (of the LFS pointer, for LFS files). */
  blobId: string
  lfs: {sha256: string; size: number} | null
}

export interface BodyFromOffset {
  body: ResponseBody
  /** Where the body starts: the requested offset after a 206, or 0 when the server ignored the Range. */
  start: number
}

/** A file whose identity (etag, size) is known from the response headers; the body is opened separately so it can resume. */
export interface RemoteFile {
  /** Blob name in the cache: sha256 for LFS files, git blob sha for small ones. */
  etag: string
  size: number | null
  openBody(start: number): Promise<BodyFromOffset>
  /** Frees a response that will not be read (the blob is already cached). */
  discard(): Promise<void>
}

const MAX_REDIRECTS = 5
/** A repository of a million files at the Hub's 1000 per page; more means a server that pages forever. */
const MAX_TREE_PAGES = 1000
const USER_AGENT = 'pagedllm/0.1'

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308
}

/** Hub ETags come quoted and sometimes weak (W/"..."); the bare value names the blob, so it must be a safe file name. */
function normalizeEtag(raw: string | null): string | null {
  if (raw === null) return null
  const bare = raw.trim().replace(/^W\//, '').replace(/^"|"$/g, '')
  return isSafeEtag(bare) ? bare : null
}

function parseSize(raw: string | null): number | null {
  return raw !== null && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : null
}

function encodePath(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/')
}

// undici loads on the first Hub request: importing it costs ~0.1 s of every CLI start, and local models never need it.
const undiciFetch: FetchImpl = async (url, init) => {
  const {fetch} = await import('undici')
  return await (fetch as unknown as FetchImpl)(url, init)
}

export class HubClient {
  private readonly fetchImpl: FetchImpl

  constructor(private readonly options: {endpoint: string; token: string | null; fetchImpl?: FetchImpl}) {
    this.fetchImpl = options.fetchImpl ?? undiciFetch
  }

  async revisionInfo(repoId: string, revision: string): Promise<RevisionInfo> {
    checkRevision(revision)
    const url = `${this.options.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`
    const {body} = await this.getJson(url, this.context(repoId, revision, null))
    const {sha} = (body ?? {}) as {sha?: unknown}
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new PagedLLMError(`${url} answered without a commit sha; is HF_ENDPOINT (${this.options.endpoint}) a Hugging Face Hub?`, {code: 'hub_error'})
    }
    return {commit: sha}
  }

  /** Every file of a commit, from /tree (recursive, one page after another as its Link header says). */
  async listTree(repoId: string, revision: string, commit: string): Promise<TreeFile[]> {
    const context = this.context(repoId, revision, null)
    const files: TreeFile[] = []
    let url: string | null = `${this.options.endpoint}/api/models/${repoId}/tree/${commit}?recursive=true&expand=false`
    for (let page = 0; url !== null; page++) {
      if (page > MAX_TREE_PAGES) throw new PagedLLMError(`The file list of ${repoId} did not end after ${MAX_TREE_PAGES} pages.`, {code: 'hub_error'})
      const {body, headers} = await this.getJson(url, context).catch((error: unknown) => {
        // The model info answered, so a bare 404 here is a server without the /tree API, not a missing model.
        if (error instanceof NotFoundError && error.code === 'model_not_found') {
          throw new PagedLLMError(
            `${this.options.endpoint} has no file-list API (/api/models/${repoId}/tree/... answered HTTP 404), which huggingface_hub needs too; is HF_ENDPOINT a Hugging Face Hub or an up-to-date mirror?`,
            {code: 'hub_error', cause: error},
          )
        }
        throw error
      })
      if (!Array.isArray(body)) throw new PagedLLMError(`${url} did not answer a file list; is HF_ENDPOINT (${this.options.endpoint}) a Hugging Face Hub?`, {code: 'hub_error'})
      for (const entry of body as Array<Record<string, unknown>>) {
        if (entry?.type !== 'file') continue
        const lfs = entry.lfs as {oid?: unknown; size?: unknown} | undefined
        if (typeof entry.path !== 'string' || typeof entry.size !== 'number' || typeof entry.oid !== 'string') {
          throw new PagedLLMError(`${url} listed a file without path, size or oid.`, {code: 'hub_error'})
        }
        const lfsInfo = lfs !== undefined && typeof lfs.oid === 'string' && typeof lfs.size === 'number' ? {sha256: lfs.oid, size: lfs.size} : null
        if (!isSafeRepoFile(entry.path)) throw new PagedLLMError(`${url} lists a file named ${JSON.stringify(entry.path)}, which would leave the cache folder; refusing the revision.`, {code: 'hub_error'})
        files.push({path: entry.path, size: entry.size, blobId: entry.oid, lfs: lfsInfo})
      }
      const next = /<([^>]+)>\s*;\s*rel="next"/.exec(headers.get('link') ?? '')
      url = next === null ? null : new URL(next[1]!, url).href
    }
    return files
  }

  private async getJson(url: string, context: HubRequestContext): Promise<{body: unknown; headers: HubResponse['headers']}> {
    const response = await this.getFollowingRedirects(url, {accept: 'application/json'}, context)
    if (response.status !== 200) throw await this.httpError(response, context)
    try {
      return {body: JSON.parse(await response.text()) as unknown, headers: response.headers}
    } catch (error) {
      throw new PagedLLMError(`${url} did not answer JSON; is HF_ENDPOINT (${this.options.endpoint}) a Hugging Face Hub?`, {code: 'hub_error', cause: error})
    }
  }

  /**
   * GETs {endpoint}/{repo}/resolve/{commit}/{file} without following the first LFS redirect: that redirect carries the
   * blob's identity (X-Linked-Etag, X-Linked-Size), which decides whether and where to resume before any body flows.
   */
  async openFile(repoId: string, revision: string, commit: string, file: string): Promise<RemoteFile> {
    const context = this.context(repoId, revision, file)
    let url = `${this.options.endpoint}/${repoId}/resolve/${commit}/${encodePath(file)}`
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await this.get(url, {}, context)
      const linkedEtag = normalizeEtag(response.headers.get('x-linked-etag'))
      if (isRedirect(response.status)) {
        await response.body?.cancel()
        const next = this.redirectTarget(response, url, context)
        if (linkedEtag !== null) return this.remoteFile(next, linkedEtag, parseSize(response.headers.get('x-linked-size')), null, context)
        url = next
        continue
      }
      if (response.status !== 200) throw await this.httpError(response, context)
      const etag = linkedEtag ?? normalizeEtag(response.headers.get('etag'))
      if (etag === null) {
        await response.body?.cancel()
        throw new PagedLLMError(`The Hub sent ${file} of ${repoId} without a usable ETag (a safe blob name), so it cannot be cached or verified; is HF_ENDPOINT a Hugging Face Hub?`, {code: 'hub_error'})
      }
      const size = parseSize(response.headers.get('x-linked-size')) ?? parseSize(response.headers.get('content-length'))
      return this.remoteFile(url, etag, size, response, context)
    }
    throw new PagedLLMError(`Too many redirects fetching ${file} of ${repoId}.`, {code: 'hub_error'})
  }

  private remoteFile(url: string, etag: string, size: number | null, heldResponse: HubResponse | null, context: HubRequestContext): RemoteFile {
    let held = heldResponse
    return {
      etag,
      size,
      openBody: async (start) => {
        if (held !== null) {
          const response = held
          held = null
          if (start === 0 && response.body !== null) return {body: response.body, start: 0}
          await response.body?.cancel()
        }
        return this.openBodyAt(url, start, context)
      },
      discard: async () => {
        await held?.body?.cancel()
        held = null
      },
    }
  }

  private async openBodyAt(url: string, start: number, context: HubRequestContext): Promise<BodyFromOffset> {
    const response = await this.getFollowingRedirects(url, start > 0 ? {range: `bytes=${start}-`} : {}, context)
    // 416: the partial file is already as long as the blob or longer, so it cannot be trusted; start over.
    if (response.status === 416) {
      await response.body?.cancel()
      return this.openBodyAt(url, 0, context)
    }
    if ((response.status !== 200 && response.status !== 206) || response.body === null) throw await this.httpError(response, context)
    if (response.status === 200) return {body: response.body, start: 0}
    const rangeStart = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')
    if (rangeStart === null || Number(rangeStart[1]) !== start) {
      await response.body.cancel()
      throw new PagedLLMError(`The server answered a resume request for ${context.file} at byte ${start} with a different range (${response.headers.get('content-range')}).`, {
        code: 'hub_error',
      })
    }
    return {body: response.body, start}
  }

  private async getFollowingRedirects(url: string, headers: Record<string, string>, context: HubRequestContext): Promise<HubResponse> {
    let current = url
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await this.get(current, headers, context)
      if (!isRedirect(response.status)) return response
      await response.body?.cancel()
      current = this.redirectTarget(response, current, context)
    }
    throw new PagedLLMError(`Too many redirects from ${url}.`, {code: 'hub_error'})
  }

  private redirectTarget(response: HubResponse, from: string, context: HubRequestContext): string {
    const location = response.headers.get('location')
    if (location === null) throw new PagedLLMError(`The Hub redirected ${context.file ?? 'a request'} of ${context.repoId} without a Location.`, {code: 'hub_error'})
    return new URL(location, from).href
  }

  private async get(url: string, extraHeaders: Record<string, string>, context: HubRequestContext): Promise<HubResponse> {
    // identity: byte counts, Range offsets and checksums all refer to the stored bytes, not a compressed transfer.
    const headers: Record<string, string> = {'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extraHeaders}
    // The token goes only to the Hub itself; a CDN on another origin gets a signed URL instead.
    if (this.options.token !== null && new URL(url).origin === new URL(this.options.endpoint).origin) {
      headers.authorization = `Bearer ${this.options.token}`
    }
    try {
      return await this.fetchImpl(url, {method: 'GET', headers, redirect: 'manual'})
    } catch (error) {
      if (isNetworkFailure(error)) throw hubNetworkError(error, context)
      throw error
    }
  }

  private async httpError(response: HubResponse, context: HubRequestContext): Promise<PagedLLMError> {
    const hubMessage = response.headers.get('x-error-message')
    await response.body?.cancel()
    return hubHttpError(response.status, response.headers.get('x-error-code'), hubMessage, context)
  }

  private context(repoId: string, revision: string, file: string | null): HubRequestContext {
    return {endpoint: this.options.endpoint, repoId, revision, file, hasToken: this.options.token !== null}
  }
}
