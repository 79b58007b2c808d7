// CORS as vLLM's server answers it (any origin, method and header by default; --allowed-origins narrows the origins).
import type {IncomingMessage, ServerResponse} from 'node:http'
import {InvalidRequestError} from '../engine/errors.js'
import {closeIfBodyUnread} from './body-handshake.js'

const ALLOWED_METHODS = 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT'

/** Every origin: vLLM's default. */
export const ANY_ORIGIN = ['*'] as const

/** --allowed-origins values: origins, or a JSON list of them as vLLM takes it ('["https://a.example"]'); none = any. */
export function parseAllowedOrigins(values: readonly string[] | undefined): readonly string[] {
  if (values === undefined || values.length === 0) return ANY_ORIGIN
  const origins = values.flatMap((value): unknown[] => {
    if (!value.trimStart().startsWith('[')) return [value.trim()]
    try {
      const list: unknown = JSON.parse(value)
      return Array.isArray(list) ? list : [list]
    } catch {
      throw new InvalidRequestError(`--allowed-origins: cannot read ${value} as a JSON list of origins`, {param: 'allowed-origins'})
    }
  })
  for (const origin of origins) {
    if (typeof origin !== 'string' || origin === '') throw new InvalidRequestError(`--allowed-origins: ${JSON.stringify(origin)} is not an origin (e.g. https://app.example or *)`, {param: 'allowed-origins'})
  }
  return origins as string[]
}

/**
 * Adds the CORS headers a request from an allowed origin needs and answers its preflight (OPTIONS with an Origin and
 * Access-Control-Request-Method) at once, before routing and before the API key: a preflight never carries credentials.
 * Returns true when the request was a preflight and has been answered. The key still guards every real request, and no
 * cookie is ever honoured. A preflight from an origin not allowed is a 400, as Starlette's CORS middleware (vLLM's)
 * answers it (with the error object); other requests from it get no CORS headers, so the browser keeps the reply from the page.
 */
export function answerCors(request: IncomingMessage, response: ServerResponse, allowedOrigins: readonly string[] = ANY_ORIGIN): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return false
  const anyOrigin = allowedOrigins.includes('*')
  const allowed = anyOrigin || allowedOrigins.includes(origin)
  const allowOrigin = anyOrigin ? {'access-control-allow-origin': '*'} : {'access-control-allow-origin': origin, vary: 'Origin'}
  const requestedMethod = request.headers['access-control-request-method']
  if (request.method !== 'OPTIONS' || requestedMethod === undefined) {
    if (allowed) for (const [name, value] of Object.entries(allowOrigin)) response.setHeader(name, value)
    return false
  }
  // The preflight of an origin not allowed is a 400, as Starlette's (vLLM's) is, with the error object every refusal has.
  if (!allowed) throw new InvalidRequestError(`Origin ${JSON.stringify(origin)} is not allowed to call this server (--allowed-origins).`, {code: 'cors_origin_not_allowed'})
  const requestedHeaders = request.headers['access-control-request-headers']
  const body = 'OK'
  closeIfBodyUnread(response)
  response.writeHead(200, {
    ...allowOrigin,
    'access-control-allow-methods': ALLOWED_METHODS,
    'access-control-max-age': '600',
    ...(requestedHeaders === undefined ? {} : {'access-control-allow-headers': requestedHeaders}),
    vary: 'Origin',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  })
  response.end(body)
  return true
}
