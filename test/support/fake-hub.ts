// A stand-in Hugging Face Hub on loopback (node:http, port 0): the Hub's API and resolve URLs and headers, LFS redirects to a CDN host, Range, gating, renames and faults.
import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {gitBlobSha, isLfsFile, lfsPointer, modelInfo, pathsInfo, sha256, treeEntries} from './fake-hub-listing.js'

export interface RecordedRequest {
  /** Which server got it: the Hub itself, or the CDN that LFS downloads are redirected to. */
  host: 'hub' | 'cdn'
  method: string
  /** Path and query, as received. */
  url: string
  headers: http.IncomingHttpHeaders
  status: number
  /** Body bytes actually written to the socket. */
  bodyBytes: number
}

interface FakeRevision {
  commit: string
  files: Map<string, Buffer>
}

interface FakeRepo {
  /** Branch name -> revision; revisions are also found by their commit sha. */
  branches: Map<string, FakeRevision>
  /** When set, resolve requests need `Authorization: Bearer <gatedToken>` (as a gated model whose license that account accepted). */
  gatedToken: string | null
}

export interface AddRepoOptions {
  branch?: string
  gatedToken?: string
}

type Reply = (status: number, headers: Record<string, string>, body?: Buffer) => void

/** The CDN is another host name, as on the real Hub (cdn-lfs.hf.co): clients must not follow it with the Hub's token. */
const CDN_ADDRESSES = ['127.0.0.2', '::1']

export class FakeHub {
  readonly requests: RecordedRequest[] = []
  /** Entries per /tree page (the Hub pages large listings and links the next page); small values exercise paging. */
  treePageSize = 1000
  private readonly repos = new Map<string, FakeRepo>()
  /** Old name -> new name: the Hub answers requests to a renamed repository with a relative redirect. */
  private readonly renamed = new Map<string, string>()
  private readonly blobsBySha256 = new Map<string, Buffer>()
  private readonly dropAfterBytes = new Map<string, {bytes: number; times: number}>()
  private readonly corruptFiles = new Set<string>()

  private constructor(private readonly hubServer: http.Server, private readonly cdnServer: http.Server, private readonly cdnHost: string) {}

  static async start(): Promise<FakeHub> {
    const hubServer = http.createServer()
    await new Promise<void>((resolve) => hubServer.listen(0, '127.0.0.1', resolve))
    const cdnServer = http.createServer()
    let cdnHost: string | null = null
    for (const address of CDN_ADDRESSES) {
      try {
        await new Promise<void>((resolve, reject) => cdnServer.once('error', reject).listen(0, address, resolve))
        cdnHost = address.includes(':') ? `[${address}]` : address
        break
      } catch {
        // 127.0.0.2 is loopback on Linux only; elsewhere try IPv6 loopback.
      }
    }
    if (cdnHost === null) throw new Error(`the fake CDN could not listen on any of ${CDN_ADDRESSES.join(', ')}`)
    const hub = new FakeHub(hubServer, cdnServer, cdnHost)
    hubServer.on('request', (request, response) => hub.handleHub(request, response))
    cdnServer.on('request', (request, response) => hub.handleCdn(request, response))
    return hub
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hubServer.address() as AddressInfo).port}`
  }

  get cdnOrigin(): string {
    return `http://${this.cdnHost}:${(this.cdnServer.address() as AddressInfo).port}`
  }

  /** Publishes files as a new commit on a branch (default main); returns the commit sha. */
  addRepo(repoId: string, files: Record<string, Buffer | string>, options: AddRepoOptions = {}): string {
    const contents = new Map(Object.entries(files).map(([name, data]) => [name, Buffer.isBuffer(data) ? data : Buffer.from(data)]))
    const commitHash = createHash('sha1').update(repoId).update(options.branch ?? 'main')
    for (const [name, data] of [...contents].sort(([a], [b]) => a.localeCompare(b))) commitHash.update(name).update(sha256(data))
    const commit = commitHash.digest('hex')
    for (const [name, data] of contents) if (isLfsFile(name)) this.blobsBySha256.set(sha256(data), data)
    const repo = this.repos.get(repoId) ?? {branches: new Map(), gatedToken: null}
    repo.branches.set(options.branch ?? 'main', {commit, files: contents})
    if (options.gatedToken !== undefined) repo.gatedToken = options.gatedToken
    this.repos.set(repoId, repo)
    return commit
  }

  /** Moves a repository to a new name; the old name keeps answering with redirects, as on the Hub. */
  renameRepo(oldId: string, newId: string): void {
    const repo = this.repos.get(oldId)
    if (repo === undefined) throw new Error(`no repository ${oldId}`)
    this.repos.delete(oldId)
    this.repos.set(newId, repo)
    this.renamed.set(oldId, newId)
  }

  /** The next `times` transfers of this file's content are cut (socket destroyed) after `bytes` body bytes each; later ones are whole. */
  dropConnection(file: string, bytes: number, times = 1): void {
    this.dropAfterBytes.set(file, {bytes, times})
  }

  /** Serves this file with one byte flipped, while still advertising the true sha256 and size. */
  corrupt(file: string): void {
    this.corruptFiles.add(file)
  }

  repair(file: string): void {
    this.corruptFiles.delete(file)
  }

  async close(): Promise<void> {
    for (const server of [this.hubServer, this.cdnServer]) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  private record(host: RecordedRequest['host'], request: http.IncomingMessage, response: http.ServerResponse): {record: RecordedRequest; reply: Reply} {
    const record: RecordedRequest = {host, method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, status: 0, bodyBytes: 0}
    this.requests.push(record)
    const reply: Reply = (status, headers, body = Buffer.alloc(0)) => {
      record.status = status
      record.bodyBytes = request.method === 'HEAD' ? 0 : body.length
      response.writeHead(status, {'content-length': String(body.length), ...headers})
      response.end(body)
    }
    return {record, reply}
  }

  private handleHub(request: http.IncomingMessage, response: http.ServerResponse): void {
    const {record, reply} = this.record('hub', request, response)
    const url = new URL(record.url, this.endpoint)
    // Split before decoding: a revision such as refs/pr/1 arrives as one %2F-encoded segment.
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent)
    const api = segments[0] === 'api' && segments[1] === 'models'
    const repoAt = api ? 2 : 0
    const repoId = segments.slice(repoAt, repoAt + 2).join('/')
    const [route, revision, ...rest] = segments.slice(repoAt + 2)
    const newName = this.renamed.get(repoId)
    if (newName !== undefined) {
      const moved = [...url.pathname.split('/').slice(0, repoAt + 1), ...newName.split('/').map(encodeURIComponent), ...url.pathname.split('/').slice(repoAt + 3)]
      return reply(307, {location: moved.join('/') + url.search, 'content-type': 'text/plain; charset=utf-8'}, Buffer.from('Temporary Redirect'))
    }
    if (revision === undefined || !/^[^/]+\/[^/]+$/.test(repoId)) return reply(404, {'content-type': 'text/plain'}, Buffer.from('Not found'))
    const lookup = this.findRevision(repoId, revision)
    if (lookup === null) return this.repoNotFound(request, reply)
    if (lookup.found === null) return reply(404, {'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${revision}`})
    const {repo, found} = lookup
    const json = (body: unknown, headers: Record<string, string> = {}) => reply(200, {'content-type': 'application/json; charset=utf-8', ...headers}, Buffer.from(JSON.stringify(body)))
    // Like the Hub, a gated repository's file list is public; only downloads need the accepted license.
    if (api && route === 'revision' && rest.length === 0 && request.method === 'GET') {
      return json(modelInfo(repoId, found.commit, found.files, repo.gatedToken !== null, url.searchParams.get('blobs') === 'true'))
    }
    if (api && route === 'tree' && request.method === 'GET') return this.tree(repoId, revision, found, rest.join('/'), url, reply, json)
    if (api && route === 'paths-info' && rest.length === 0 && request.method === 'POST') {
      return void readBody(request).then((body) => json(pathsInfo(found.files, new URLSearchParams(body.toString()).getAll('paths'))))
    }
    if (!api && route === 'resolve' && (request.method === 'GET' || request.method === 'HEAD')) return this.resolve(repoId, repo, found, rest.join('/'), request, response, record, reply)
    reply(404, {'content-type': 'text/plain'}, Buffer.from('Not found'))
  }

  private tree(repoId: string, revision: string, found: FakeRevision, folder: string, url: URL, reply: Reply, json: (body: unknown, headers?: Record<string, string>) => void): void {
    const entries = treeEntries(found.files, folder, url.searchParams.get('recursive') === 'true')
    if (entries === null) return reply(404, {'x-error-code': 'EntryNotFound', 'x-error-message': `${folder} does not exist on "${revision}"`})
    const start = Number(Buffer.from(url.searchParams.get('cursor') ?? '', 'base64url').toString() || '0')
    const page = entries.slice(start, start + this.treePageSize)
    if (start + this.treePageSize >= entries.length) return json(page)
    const next = new URL(url.href)
    next.searchParams.set('cursor', Buffer.from(String(start + this.treePageSize)).toString('base64url'))
    json(page, {link: `<${this.endpoint}/api/models/${repoId}/tree/${encodeURIComponent(revision)}${folder === '' ? '' : `/${folder}`}${next.search}>; rel="next"`})
  }

  private findRevision(repoId: string, revision: string): {repo: FakeRepo; found: FakeRevision | null} | null {
    const repo = this.repos.get(repoId)
    if (repo === undefined) return null
    const found = repo.branches.get(revision) ?? [...repo.branches.values()].find((candidate) => candidate.commit === revision) ?? null
    return {repo, found}
  }

  private resolve(repoId: string, repo: FakeRepo, found: FakeRevision, file: string, request: http.IncomingMessage, response: http.ServerResponse, record: RecordedRequest, reply: Reply): void {
    if (repo.gatedToken !== null) {
      const authorization = request.headers.authorization
      if (authorization === undefined) {
        return reply(401, {'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`})
      }
      if (authorization !== `Bearer ${repo.gatedToken}`) {
        return reply(403, {'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${repoId} is restricted and you are not in the authorized list.`})
      }
    }
    const commitHeader = {'x-repo-commit': found.commit}
    const data = found.files.get(file)
    // The commit on a 404 lets clients remember the file is absent at that commit (huggingface_hub's .no_exist).
    if (data === undefined) return reply(404, {...commitHeader, 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found'})
    if (isLfsFile(file)) {
      const digest = sha256(data)
      // A signed CDN URL on another host, named by content, as the Hub's cdn-lfs links are.
      const location = `${this.cdnOrigin}/repos/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest}?response-content-disposition=${encodeURIComponent(`inline; filename="${file.split('/').pop()}"`)}&Expires=4102444800&Signature=fake&Key-Pair-Id=FAKE`
      return reply(302, {
        ...commitHeader,
        location,
        // The pointer's git oid; the blob's identity is in X-Linked-Etag and X-Linked-Size.
        etag: `"${gitBlobSha(lfsPointer(data))}"`,
        'x-linked-etag': `"${digest}"`,
        'x-linked-size': String(data.length),
        'accept-ranges': 'bytes',
        'content-type': 'text/plain; charset=utf-8',
      }, Buffer.from(`Found. Redirecting to ${location}`))
    }
    this.sendContent(file, data, {...commitHeader, etag: `"${gitBlobSha(data)}"`}, request, response, record)
  }

  private handleCdn(request: http.IncomingMessage, response: http.ServerResponse): void {
    const {record, reply} = this.record('cdn', request, response)
    const url = new URL(record.url, this.cdnOrigin)
    const match = /^\/repos\/[0-9a-f]{2}\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(url.pathname)
    const data = match === null ? undefined : this.blobsBySha256.get(match[1]!)
    if (data === undefined || url.searchParams.get('Signature') === null) return reply(403, {'content-type': 'application/xml'}, Buffer.from('<Error><Code>AccessDenied</Code></Error>'))
    const file = /filename="([^"]+)"/.exec(url.searchParams.get('response-content-disposition') ?? '')?.[1] ?? match![1]!
    const headers = {etag: `"${createHash('md5').update(data).digest('hex')}"`, 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT'}
    this.sendContent(file, data, headers, request, response, record)
  }

  /** Like the Hub: an unknown repository is a 401 for anonymous callers (it might be private) and a 404 for authenticated ones. */
  private repoNotFound(request: http.IncomingMessage, reply: Reply): void {
    reply(request.headers.authorization === undefined ? 401 : 404, {'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found'})
  }

  /** Serves file bytes with Range support, applying the connection drop and the corruption fault to GETs. */
  private sendContent(file: string, original: Buffer, headers: Record<string, string>, request: http.IncomingMessage, response: http.ServerResponse, record: RecordedRequest): void {
    const data = Buffer.from(original)
    if (this.corruptFiles.has(file)) data[data.length >> 1] ^= 0xff
    let start = 0
    let status = 200
    const common: Record<string, string> = {...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream'}
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '')
    if (range !== null) {
      start = Number(range[1])
      if (start >= data.length) {
        record.status = 416
        response.writeHead(416, {...common, 'content-range': `bytes */${data.length}`, 'content-length': '0'})
        return void response.end()
      }
      status = 206
      common['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`
    }
    const body = data.subarray(start)
    record.status = status
    response.writeHead(status, {...common, 'content-length': String(body.length)})
    if (request.method === 'HEAD') return void response.end()
    const drop = this.dropAfterBytes.get(file)
    if (drop !== undefined && drop.bytes < body.length) {
      if (--drop.times === 0) this.dropAfterBytes.delete(file)
      const dropAfter = drop.bytes
      record.bodyBytes = dropAfter
      // Flush the first bytes, then cut the connection as a failing network would.
      response.write(body.subarray(0, dropAfter), () => response.socket?.destroy())
      return
    }
    record.bodyBytes = body.length
    response.end(body)
  }
}

async function readBody(request: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
