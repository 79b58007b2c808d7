// The recorded Hub protocol (fixtures/hub-protocol.json) checked both ways: the fake Hub answers as recorded, and pagedllm's client asks only what is recorded and needs no other header.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, afterEach, before, beforeEach, describe, it} from 'node:test'
import {fetch} from 'undici'
import {NotFoundError, PagedLLMError} from '../src/engine/errors.js'
import {resolveModel, type ResolveModelOptions} from '../src/engine/hub/resolve-model.js'
import {FakeHub, type RecordedRequest} from './support/fake-hub.js'
import {isolatedHubEnvironment, tinyCheckpointFiles} from './support/hub-checkpoints.js'

interface Exchange {
  name: string
  request: {method: string; path?: string; follow?: string; query?: Record<string, string>; headers?: Record<string, string>; form?: Record<string, string | string[]>}
  response: {status: number; headers: Record<string, string>; optional_headers?: Record<string, string>; location_host?: 'other'; json?: Record<string, unknown>; body?: string}
}

const protocol = JSON.parse(readFileSync(new URL('./fixtures/hub-protocol.json', import.meta.url), 'utf8')) as {
  patterns: Record<string, string>
  exchanges: Exchange[]
  client_rules: {hub_requests_send: Record<string, string>; downloads_send: Record<string, string>; resume_range: string}
}

/** A pattern of the fixture: a named one, or a regular expression of its own. */
function pattern(name: string): RegExp {
  return new RegExp(protocol.patterns[name] ?? name)
}

function assertMatches(value: string | null | undefined, patternName: string, what: string): void {
  assert.ok(value !== null && value !== undefined, `${what} is missing`)
  assert.match(value, pattern(patternName), what)
}

/** Checks a JSON value against a field -> type-or-pattern map ('string', 'number', 'array', or a pattern name). */
function assertShape(value: Record<string, unknown>, shape: Record<string, unknown>, what: string): void {
  for (const [field, expected] of Object.entries(shape)) {
    const actual = value[field]
    if (typeof expected === 'object' && expected !== null) assertShape(actual as Record<string, unknown>, expected as Record<string, unknown>, `${what}.${field}`)
    else if (expected === 'string' || expected === 'number') assert.equal(typeof actual, expected, `${what}.${field}`)
    else if (expected === 'array') assert.ok(Array.isArray(actual), `${what}.${field} is an array`)
    else assertMatches(String(actual), expected as string, `${what}.${field}`)
  }
}

let hub: FakeHub
let files: Record<string, Buffer>
let placeholders: Record<string, string>

function fill(template: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => placeholders[name] ?? `{${name}}`)
}

function exchangeNamed(name: string): Exchange {
  return protocol.exchanges.find((exchange) => exchange.name === name)!
}

/** Sends an exchange's request to the fake Hub as huggingface_hub would, not following redirects. */
async function send(exchange: Exchange): Promise<{status: number; headers: Headers; body: Buffer; url: string}> {
  const {request} = exchange
  const url = request.follow !== undefined ? new URL((await send(exchangeNamed(request.follow))).headers.get('location')!, hub.endpoint).href : hub.endpoint + fill(request.path!) + (request.query ? `?${new URLSearchParams(request.query)}` : '')
  let body: string | undefined
  if (request.form !== undefined) {
    const form = new URLSearchParams()
    for (const [key, value] of Object.entries(request.form)) for (const item of [value].flat()) form.append(key, fill(item))
    body = form.toString()
  }
  const headers: Record<string, string> = {...request.headers, ...(body === undefined ? {} : {'content-type': 'application/x-www-form-urlencoded'})}
  const response = await fetch(url, {method: request.method, headers, body, redirect: 'manual'})
  return {status: response.status, headers: response.headers as unknown as Headers, body: Buffer.from(await response.arrayBuffer()), url}
}

describe('the recorded Hub protocol', () => {
  let environment: Awaited<ReturnType<typeof isolatedHubEnvironment>>
  before(async () => {
    hub = await FakeHub.start()
    files = {...(await tinyCheckpointFiles()), 'README.md': Buffer.from('# proto\n'), 'docs/notes/a.txt': Buffer.from('nested')}
    const commit = hub.addRepo('acme/proto', files)
    hub.addRepo('acme/proto-old', files)
    hub.renameRepo('acme/proto-old', 'acme/proto-new')
    hub.addRepo('acme/proto-gated', files, {gatedToken: 'hf_proto'})
    placeholders = {
      repo: 'acme/proto',
      old_repo: 'acme/proto-old',
      gated_repo: 'acme/proto-gated',
      unknown_repo: 'acme/no-such-repo',
      revision: 'main',
      commit,
      file: 'config.json',
      lfs_file: 'model.safetensors',
      missing_file: 'no-such-file.txt',
    }
  })
  after(async () => hub.close())
  beforeEach(async () => {
    environment = await isolatedHubEnvironment()
  })
  afterEach(async () => environment.restore())

  for (const exchange of protocol.exchanges) {
    it(`the fake Hub answers: ${exchange.name}`, async () => {
      const {status, headers, body} = await send(exchange)
      const {response} = exchange
      assert.equal(status, response.status)
      for (const [name, patternName] of Object.entries(response.headers)) assertMatches(headers.get(name), patternName, `header ${name}`)
      for (const [name, patternName] of Object.entries(response.optional_headers ?? {})) if (headers.has(name)) assertMatches(headers.get(name), patternName, `header ${name}`)
      if (response.location_host === 'other') assert.notEqual(new URL(headers.get('location')!).hostname, new URL(hub.endpoint).hostname, 'the CDN is another host')
      if (response.body !== undefined) {
        const [file, , from] = response.body.split(' ')
        assert.ok(body.equals(files[placeholders[file!]!]!.subarray(Number(from ?? 0))), 'the body is the file content')
      }
      const json = response.json
      if (json === undefined) return
      const parsed = JSON.parse(body.toString()) as unknown
      if (json.object !== undefined) {
        assertShape(parsed as Record<string, unknown>, json.object as Record<string, unknown>, 'body')
        for (const sibling of (parsed as {siblings: Record<string, unknown>[]}).siblings) assertShape(sibling, json.siblings_item as Record<string, unknown>, 'sibling')
      }
      if (json.array_of !== undefined) {
        assert.ok(Array.isArray(parsed) && parsed.length > 0, 'a non-empty list')
        for (const entry of parsed as Record<string, unknown>[]) assertShape(entry, json.array_of as Record<string, unknown>, 'entry')
        const lfsEntries = (parsed as Record<string, unknown>[]).filter((entry) => entry.path === 'model.safetensors')
        assert.equal(lfsEntries.length, 1)
        if (json.lfs_entry !== undefined) assertShape(lfsEntries[0]!, json.lfs_entry as Record<string, unknown>, 'LFS entry')
      }
    })
  }

  it('the fake Hub pages a long tree with Link rel="next", and the pages add up to the whole listing', async () => {
    const tree = exchangeNamed('recursive file listing of a commit (list_repo_tree; pages follow the Link rel=next URL)')
    const whole = JSON.parse((await send(tree)).body.toString()) as {path: string}[]
    hub.treePageSize = 2
    try {
      let next: string | null = hub.endpoint + fill(tree.request.path!) + `?${new URLSearchParams(tree.request.query)}`
      const paged: {path: string}[] = []
      while (next !== null) {
        const response = await fetch(next)
        paged.push(...((await response.json()) as {path: string}[]))
        const link = response.headers.get('link')
        if (link !== null) assertMatches(link, 'next_link', 'Link')
        next = link === null ? null : /<([^>]+)>/.exec(link)![1]!
      }
      assert.deepEqual(paged, whole)
      assert.ok(whole.some((entry) => entry.path === 'docs/notes/a.txt') && whole.some((entry) => entry.path === 'docs/notes'))
    } finally {
      hub.treePageSize = 1000
    }
  })

  /** The recorded exchanges a request fits (a small and an LFS file share one URL shape); empty if none. */
  function exchangesOf(request: RecordedRequest): Exchange[] {
    const url = new URL(request.url, 'http://x')
    return protocol.exchanges.filter((exchange) => {
      if (exchange.request.method !== request.method) return false
      if (exchange.request.follow !== undefined) return request.host === 'cdn' && (exchange.request.headers?.range !== undefined) === (request.headers.range !== undefined)
      if (request.host !== 'hub') return false
      const path = new RegExp(`^${exchange.request.path!.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'file' || name === 'lfs_file' ? '.+' : name.endsWith('repo') ? '[^/]+/[^/]+' : '[^/]+'))}$`)
      return path.test(decodeURIComponent(url.pathname)) && Object.entries(exchange.request.query ?? {}).every(([key, value]) => url.searchParams.get(key) === value)
    })
  }

  it("pagedllm's client sends only recorded requests, with the recorded headers, and the token only to the Hub", async () => {
    hub.treePageSize = 3
    const first = hub.requests.length
    try {
      await resolveModel('acme/proto-gated', {endpoint: hub.endpoint, cacheDir: join(environment.home, 'hub'), token: 'hf_proto', progress: false})
    } finally {
      hub.treePageSize = 1000
    }
    const requests = hub.requests.slice(first)
    const used = new Set<string>()
    for (const request of requests) {
      const exchanges = exchangesOf(request)
      assert.ok(exchanges.length > 0, `${request.method} ${request.url} is not a request the Hub protocol records`)
      for (const exchange of exchanges) used.add(exchange.name)
      for (const [name, value] of Object.entries(protocol.client_rules.hub_requests_send)) assertMatches(request.headers[name] as string, value, `${name} of ${request.url}`)
      if (/\/resolve\//.test(request.url) || request.host === 'cdn') {
        for (const [name, value] of Object.entries(protocol.client_rules.downloads_send)) assertMatches(request.headers[name] as string, value, `${name} of ${request.url}`)
      }
      if (request.headers.range !== undefined) assertMatches(request.headers.range, protocol.client_rules.resume_range, 'Range')
      assert.equal(request.headers.authorization === 'Bearer hf_proto', request.host === 'hub', `authorization of ${request.host} ${request.url}`)
    }
    assert.ok(requests.filter((request) => request.url.includes('/tree/')).length > 1, 'the tree came in several pages')
    for (const needed of ['model info at a revision (repo_info)', 'small (git) file download', 'CDN download of the redirect\'s Location (no Authorization)']) {
      assert.ok(used.has(needed), `the client used: ${needed}`)
    }
  })

  it("pagedllm's client needs no response header the protocol does not record", async () => {
    // A proxy that passes on only the recorded headers of each exchange (and the framing ones).
    const framing = ['content-length', 'content-type', 'content-range', 'accept-ranges']
    const proxy = http.createServer(async (request, response) => {
      const chunks: Buffer[] = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const upstream = await fetch(hub.endpoint + request.url, {method: request.method, headers: request.headers as Record<string, string>, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined, redirect: 'manual'})
      const record = {host: 'hub', method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, status: 0, bodyBytes: 0} satisfies RecordedRequest
      const recorded = exchangesOf(record).flatMap((exchange) => [...Object.keys(exchange.response.headers), ...Object.keys(exchange.response.optional_headers ?? {})])
      const allowed = new Set([...framing, ...recorded])
      const headers: Record<string, string> = {}
      upstream.headers.forEach((value, name) => {
        if (allowed.has(name)) headers[name] = name === 'link' ? value.replace(hub.endpoint, proxyEndpoint) : value
      })
      response.writeHead(upstream.status, headers)
      response.end(Buffer.from(await upstream.arrayBuffer()))
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const proxyEndpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    try {
      const dir = await resolveModel('acme/proto', {endpoint: proxyEndpoint, cacheDir: join(environment.home, 'hub'), progress: false})
      assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(files['model.safetensors']!))
      assert.ok(readFileSync(join(dir, 'config.json')).equals(files['config.json']!))
    } finally {
      proxy.closeAllConnections()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    }
  })

  it('says so when HF_ENDPOINT serves model info but no /tree listing (an old mirror)', async () => {
    const withoutTree = (async (url: string, init: Parameters<typeof fetch>[1]) =>
      url.includes('/tree/') ? new Response('Not Found', {status: 404}) : fetch(url, init)) as unknown as ResolveModelOptions['fetchImpl']
    await assert.rejects(resolveModel('acme/proto', {endpoint: hub.endpoint, cacheDir: join(environment.home, 'hub'), progress: false, fetchImpl: withoutTree}), (error: unknown) => {
      assert.ok(error instanceof PagedLLMError && !(error instanceof NotFoundError), String(error))
      assert.equal(error.code, 'hub_error')
      assert.match(error.message, /has no file-list API .*HTTP 404.*up-to-date mirror/)
      return true
    })
  })

  it('follows a renamed repository to its new name', async () => {
    const dir = await resolveModel('acme/proto-old', {endpoint: hub.endpoint, cacheDir: join(environment.home, 'hub'), progress: false})
    assert.ok(readFileSync(join(dir, 'config.json')).equals(files['config.json']!))
  })
})
