// Maps anything a handler throws to an HTTP status and OpenAI's error object; unexpected errors become a logged, generic 500.
import {PagedLLMError} from '../engine/errors.js'

export interface ErrorReply {
  status: number
  body: {error: {message: string; type: string; param: string | null; code: string | null}}
}

/** Messages quote what the client sent (a model name, a key, a role): a megabyte sent must not come back as one. */
const MAX_MESSAGE_CHARS = 1000

export function errorReply(error: unknown, log: (message: string) => void): ErrorReply {
  if (error instanceof PagedLLMError) {
    const body = error.toOpenAIError()
    const {message} = body.error
    if (message.length > MAX_MESSAGE_CHARS) body.error.message = `${message.slice(0, MAX_MESSAGE_CHARS)}... (${message.length - MAX_MESSAGE_CHARS} more characters)`
    return {status: error.httpStatus, body}
  }
  // Internal details (paths, stack) stay in the server log, not in the reply.
  log(`internal error while serving a request: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  return {
    status: 500,
    body: {error: {message: 'The server had an internal error while processing the request.', type: 'server_error', param: null, code: null}},
  }
}
