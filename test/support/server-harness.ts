// Starts an ApiServer over a fake engine (or the tiny test model) on a free loopback port, and the small HTTP helpers
// the server tests share.
import assert from 'node:assert/strict'
import {connect, type Socket} from 'node:net'
import {after} from 'node:test'
import OpenAI from 'openai'
import {type EngineConfig, makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {ensureTestModel} from '../../src/engine/model/test-model.js'
import {ApiServer, type ApiServerOptions, DEFAULT_SERVER_OPTIONS} from '../../src/server/http-server.js'
import {FakeEngine} from './fake-engine.js'

export interface Running {
  server: ApiServer
  engine: FakeEngine
  url: string
  logs: string[]
}

const servers: ApiServer[] = []
after(async () => {
  for (const server of servers) await server.shutdown(0)
})

export async function start(options: Partial<ApiServerOptions> = {}, engine = new FakeEngine(), attach = true): Promise<Running> {
  const logs: string[] = []
  const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: '9.9.9', log: (line) => logs.push(line), ...options})
  servers.push(server)
  const {url} = await server.listen()
  if (attach) server.attachEngine(engine)
  return {server, engine, url, logs}
}

/** A real engine on the tiny test model (or a copy of it) behind a server with the hermes tool-call parser; the caller shuts it down. */
export async function startTinyEngineServer(
  options: Partial<ApiServerOptions> = {},
  modelPath?: string,
  engineOverrides: Partial<EngineConfig> = {},
): Promise<{server: ApiServer; engine: LLMEngine; url: string}> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelPath ?? (await ensureTestModel('tiny')), threads: 1, numBlocks: 256, blockSize: 16, ...engineOverrides}))
  const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, maxBodyBytes: 1 << 20, version: 'test', log: () => {}, toolCallParser: 'hermes', ...options})
  const {url} = await server.listen()
  server.attachEngine(engine)
  return {server, engine, url}
}

/** A raw connection to the server, for clients that write bytes by hand or read at their own pace. */
export function openSocket(url: string): Promise<Socket> {
  const {hostname, port} = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket))
    socket.once('error', reject)
  })
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...headers},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return {status: response.status, headers: response.headers, text, json: () => JSON.parse(text)}
}

/** The JSON payloads of an SSE body, checking the framing on the way; '[DONE]' stays a string. */
export function sseEvents(text: string): any[] {
  assert.ok(text.endsWith('data: [DONE]\n\n'), `stream must end with [DONE]: ${text.slice(-80)}`)
  return text
    .split('\n\n')
    .filter((event) => event !== '')
    .map((event) => {
      assert.ok(event.startsWith('data: '), `not an SSE data event: ${event}`)
      const data = event.slice('data: '.length)
      return data === '[DONE]' ? data : JSON.parse(data)
    })
}

/** Polls `condition`; the bound is generous because a loaded CI machine can be slow (only a failing test waits it out). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Status and OpenAI error of a call the client is expected to refuse. */
export async function refusal(call: Promise<unknown>): Promise<{status: number; param: unknown; message: string}> {
  const error = await call.then(
    () => assert.fail('expected an error'),
    (error: unknown) => error,
  )
  assert.ok(error instanceof OpenAI.APIError, String(error))
  return {status: error.status as number, param: (error.error as {param?: unknown}).param, message: error.message}
}
