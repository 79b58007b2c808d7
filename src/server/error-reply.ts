// Maps anything a handler throws to an HTTP status and OpenAI's error object; unexpected errors become a logged, generic 500.
import {PagedLLMError} from '../engine/errors.js'

export interface ErrorReply {
  status: number
  body: {error: {message: string; type: string; param: string | null; code: string | null}}
}

export function errorReply(error: unknown, log: (message: string) => void): ErrorReply {
  if (error instanceof PagedLLMError) return {status: error.httpStatus, body: error.toOpenAIError()}
  // Internal details (paths, stack) stay in the server log, not in the reply.
  log(`internal error while serving a request: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  return {
    status: 500,
    body: {error: {message: 'The server had an internal error while processing the request.', type: 'server_error', param: null, code: null}},
  }
}
