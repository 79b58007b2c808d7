// The one error hierarchy: every user-facing failure carries its HTTP status, CLI exit code and OpenAI error type.

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'server_error'
  | 'service_unavailable'

export class PagedLLMError extends Error {
  readonly httpStatus: number = 500
  readonly exitCode: number = 1
  readonly type: OpenAIErrorType = 'server_error'
  /** Name of the offending request field or flag, when there is one. */
  readonly param: string | null
  /** A short machine-readable code, e.g. 'context_length_exceeded'. */
  readonly code: string | null

  constructor(message: string, options: {param?: string | null; code?: string | null; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.param = options.param ?? null
    this.code = options.code ?? null
  }

  toOpenAIError(): {error: {message: string; type: string; param: string | null; code: string | null}} {
    return {error: {message: this.message, type: this.type, param: this.param, code: this.code}}
  }
}

/** Bad input from a user: a request field, a flag, a prompt. */
export class InvalidRequestError extends PagedLLMError {
  override readonly httpStatus: number = 400
  override readonly exitCode: number = 2
  override readonly type: OpenAIErrorType = 'invalid_request_error'
}

/** The prompt (plus max_tokens) can never fit the model's context or the KV pool. */
export class ContextLengthError extends InvalidRequestError {
  constructor(message: string, param: string | null = 'messages') {
    super(message, {param, code: 'context_length_exceeded'})
  }
}

export class AuthenticationError extends PagedLLMError {
  override readonly httpStatus = 401
  override readonly exitCode = 2
  override readonly type = 'authentication_error' as const
}

export class NotFoundError extends PagedLLMError {
  override readonly httpStatus = 404
  override readonly exitCode = 2
  override readonly type = 'not_found_error' as const
}

export class PayloadTooLargeError extends InvalidRequestError {
  override readonly httpStatus = 413
}

/** A body the server cannot read as sent: compressed (Content-Encoding), for one. */
export class UnsupportedMediaTypeError extends InvalidRequestError {
  override readonly httpStatus = 415
}

/** A model directory or checkpoint that cannot be loaded: missing file, bad shape, unsupported architecture. */
export class ModelLoadError extends PagedLLMError {
  override readonly exitCode = 3
}

/** The engine is not ready or is shutting down. */
export class UnavailableError extends PagedLLMError {
  override readonly httpStatus = 503
  override readonly type = 'service_unavailable' as const
}

/** A value as an error message quotes it: JSON, cut to 60 characters, so a hostile file's megabyte value stays out of the line. */
export function quotedValue(value: unknown): string {
  // A GGUF u64/i64 value arrives as a bigint, which JSON cannot write; JSON writes NaN and Infinity as null.
  const text = typeof value === 'bigint' || typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value)
  return text.length <= 60 ? text : `${text.slice(0, 60)}...`
}

/** A name read from a file, for a one-line message: as it is when printable and short, else quoted (escaped, cut at 60). */
export function shownName(name: string): string {
  return name.length <= 200 && !/[\u0000-\u001f\u007f\u2028\u2029]/.test(name) ? name : quotedValue(name)
}

