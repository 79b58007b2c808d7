// CORS as vLLM's server answers it by default (any origin, method and header): browser clients can call the API directly.
import type {IncomingMessage, ServerResponse} from 'node:http'

const ALLOWED_METHODS = 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT'

/**
 * Adds the CORS headers a request from a browser needs and answers its preflight (OPTIONS with an Origin and
 * Access-Control-Request-Method) at once, before routing and before the API key: a preflight never carries credentials.
 * Returns true when the request was a preflight and has been answered. The key still guards every real request, and no
 * cookie is ever honoured, so allowing any origin gives a page nothing its own fetch could not do.
 */
export function answerCors(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.headers.origin === undefined) return false
  const requestedMethod = request.headers['access-control-request-method']
  if (request.method !== 'OPTIONS' || requestedMethod === undefined) {
    response.setHeader('access-control-allow-origin', '*')
    return false
  }
  const requestedHeaders = request.headers['access-control-request-headers']
  response.writeHead(200, {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': ALLOWED_METHODS,
    'access-control-max-age': '600',
    ...(requestedHeaders === undefined ? {} : {'access-control-allow-headers': requestedHeaders}),
    vary: 'Origin',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': '2',
  })
  response.end('OK')
  return true
}
