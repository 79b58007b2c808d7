// A stand-in Hugging Face Hub on 127.0.0.1 (node:http, port 0): the Hub's URLs and headers, LFS redirects, Range, gating and faults.
import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

export interface RecordedRequest {
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

/** Large binary files live in LFS on the real Hub: resolve answers them with a redirect to a CDN. */
function isLfsFile(file: string): boolean {
  return /\.(safetensors|bin|gguf)$/.test(file)
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The git blob id, which the Hub sends as the ETag of small (non-LFS) files. */
function gitBlobSha(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex')
}

export class FakeHub {
  readonly requests: RecordedRequest[] = []
  private readonly repos = new Map<string, FakeRepo>()
  private readonly blobsBySha256 = new Map<string, Buffer>()
  private readonly dropAfterBytes = new Map<string, {bytes: number; times: number}>()
  private readonly corruptFiles = new Set<string>()

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<FakeHub> {
    const server = http.createServer()
    const hub = new FakeHub(server)
    server.on('request', (request, response) => hub.handle(request, response))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return hub
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
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
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const record: RecordedRequest = {method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, status: 0, bodyBytes: 0}
    this.requests.push(record)
    const url = new URL(record.url, this.endpoint)
    const path = decodeURIComponent(url.pathname)
    const reply = (status: number, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)) => {
      record.status = status
      record.bodyBytes = body.length
      response.writeHead(status, {'content-length': String(body.length), ...headers})
      response.end(body)
    }
    const apiMatch = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path)
    if (apiMatch !== null) return this.handleApi(apiMatch[1]!, apiMatch[2]!, request, reply)
    const resolveMatch = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path)
    if (resolveMatch !== null) return this.handleResolve(resolveMatch[1]!, resolveMatch[2]!, resolveMatch[3]!, request, response, record, reply)
    const cdnMatch = /^\/cdn-lfs\/repos\/([0-9a-f]{64})\/(.+)$/.exec(path)
    if (cdnMatch !== null && url.searchParams.has('X-Amz-Signature')) {
      const data = this.blobsBySha256.get(cdnMatch[1]!)
      if (data !== undefined) return this.sendContent(cdnMatch[2]!, data, {etag: `"${createHash('md5').update(data).digest('hex')}"`}, request, response, record)
    }
    reply(404, {'content-type': 'text/plain'}, Buffer.from('Not found'))
  }

  private findRevision(repoId: string, revision: string): {repo: FakeRepo; found: FakeRevision | null} | null {
    const repo = this.repos.get(repoId)
    if (repo === undefined) return null
    const found = repo.branches.get(revision) ?? [...repo.branches.values()].find((candidate) => candidate.commit === revision) ?? null
    return {repo, found}
  }

  private handleApi(repoId: string, revision: string, request: http.IncomingMessage, reply: Reply): void {
    const lookup = this.findRevision(repoId, revision)
    if (lookup === null) return this.repoNotFound(request, reply)
    if (lookup.found === null) return reply(404, {'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${revision}`})
    // Like the Hub, a gated repository's file list is public; only downloads need the accepted license.
    const body = {
      id: repoId,
      modelId: repoId,
      sha: lookup.found.commit,
      gated: lookup.repo.gatedToken === null ? false : 'manual',
      private: false,
      siblings: [...lookup.found.files.keys()].map((rfilename) => ({rfilename})),
    }
    reply(200, {'content-type': 'application/json'}, Buffer.from(JSON.stringify(body)))
  }

  private handleResolve(
    repoId: string,
    revision: string,
    file: string,
    request: http.IncomingMessage,
    response: http.ServerResponse,
    record: RecordedRequest,
    reply: Reply,
  ): void {
    const lookup = this.findRevision(repoId, revision)
    if (lookup === null) return this.repoNotFound(request, reply)
    if (lookup.found === null) return reply(404, {'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${revision}`})
    const {gatedToken} = lookup.repo
    if (gatedToken !== null) {
      const authorization = request.headers.authorization
      if (authorization === undefined) {
        return reply(401, {'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`})
      }
      if (authorization !== `Bearer ${gatedToken}`) {
        return reply(403, {'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${repoId} is restricted and you are not in the authorized list.`})
      }
    }
    const data = lookup.found.files.get(file)
    if (data === undefined) return reply(404, {'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found'})
    const commitHeader = {'x-repo-commit': lookup.found.commit}
    if (isLfsFile(file)) {
      const digest = sha256(data)
      const location = `${this.endpoint}/cdn-lfs/repos/${digest}/${encodeURIComponent(file)}?X-Amz-Signature=fake`
      return reply(302, {
        ...commitHeader,
        location,
        etag: `"${digest}"`,
        'x-linked-etag': `"${digest}"`,
        'x-linked-size': String(data.length),
        'content-type': 'text/plain',
      }, Buffer.from(`Found. Redirecting to ${location}`))
    }
    this.sendContent(file, data, {...commitHeader, etag: `"${gitBlobSha(data)}"`}, request, response, record)
  }

  /** Like the Hub: an unknown repository is a 401 for anonymous callers (it might be private) and a 404 for authenticated ones. */
  private repoNotFound(request: http.IncomingMessage, reply: Reply): void {
    reply(request.headers.authorization === undefined ? 401 : 404, {'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found'})
  }

  /** Serves file bytes with Range support, applying the one-time connection drop and the corruption fault. */
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

type Reply = (status: number, headers: Record<string, string>, body?: Buffer) => void
