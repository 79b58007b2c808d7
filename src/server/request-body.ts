// Reads a request body (bounded in size), parses it as strict UTF-8 JSON and finds the prompt texts in it; each failure a 4xx.
import type {IncomingHttpHeaders, IncomingMessage} from 'node:http'
import {TextDecoder} from 'node:util'
import {InvalidRequestError, PagedLLMError, PayloadTooLargeError, UnsupportedMediaTypeError} from '../engine/errors.js'

/** The body field that holds prompt text: `prompt` (completions), `messages[].content` (chat) or `input` (responses: a string, or items' content). */
export type PromptField = 'prompt' | 'messages' | 'input'

/**
 * When a body is cut while `contended()` says others wait for memory: after `ms` without a byte, or, once it has been
 * read for `ms`, when at its rate so far the rest of its `expectedBytes` (what it reserved) would arrive after
 * `deadline` (performance.now() ms: the request timeout, which would cut it anyway), so a trickle cannot hold memory.
 */
export interface BodyStall {
  ms: number
  contended: () => boolean
  expectedBytes: number
  deadline: number
}

/**
 * Reads the whole body, refusing more than `limit` bytes with a 413. The rest of an oversize body is read and
 * thrown away (memory stays bounded) so that a client still sending reliably gets the 413 instead of a reset.
 * A stalled or trickling body's connection is closed (as node's request timeout does), so idle or slow-drip clients
 * cannot hold every body reservation while other requests wait.
 */
export async function readBody(request: IncomingMessage, limit: number, stall?: BodyStall): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  const started = performance.now()
  let lastByte = started
  const watch = stall && setInterval(() => {
    const now = performance.now()
    if (!stall.contended()) return
    if (now - lastByte >= stall.ms) request.destroy(new BodyStalledError(`The request body sent nothing for ${stall.ms} ms while others waited.`, {code: 'request_timeout'}))
    else if (now - started >= stall.ms && now + ((stall.expectedBytes - size) * (now - started)) / size > stall.deadline) {
      const seconds = ((now - started) / 1000).toFixed(1)
      const message = `The request body arrives too slowly to end before the request timeout (${size} of ${stall.expectedBytes} bytes in ${seconds} s) while others waited.`
      request.destroy(new BodyStalledError(message, {code: 'request_timeout'}))
    }
  }, Math.max(10, Math.min(1000, stall.ms / 4)))
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      lastByte = performance.now()
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    }
  } finally {
    clearInterval(watch)
  }
  if (size > limit) throw bodyTooLarge(limit)
  return Buffer.concat(chunks)
}

class BodyStalledError extends PagedLLMError {
  override readonly httpStatus = 408
  override readonly type = 'invalid_request_error' as const
}

/**
 * Bodies are read as sent: a compressed one (Content-Encoding, or a Transfer-Encoding coding besides chunked, which node
 * does not decode either) is refused up front, not misread as bad UTF-8 or JSON.
 */
export function checkBodyCodings(headers: IncomingHttpHeaders): void {
  const contentCodings = codings(headers['content-encoding']).filter((coding) => coding !== 'identity')
  const transferCodings = codings(headers['transfer-encoding']).filter((coding) => coding !== 'chunked')
  for (const [header, found] of [['Content-Encoding', contentCodings], ['Transfer-Encoding', transferCodings]] as const)
    if (found.length > 0)
      throw new UnsupportedMediaTypeError(`${header} '${found.join(', ')}' is not supported; send the body uncompressed.`, {code: 'unsupported_content_encoding'})
}

function codings(header: string | undefined): string[] {
  return (header ?? '').split(',').map((coding) => coding.trim().toLowerCase()).filter((coding) => coding !== '')
}

export function bodyTooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The request body is larger than the server's limit of ${limit} bytes.`, {code: 'body_too_large'})
}

/** Charsets whose bytes are UTF-8 as they are (ASCII is a subset). */
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii'])

/**
 * The decoder of the charset a Content-Type declares, when it is not UTF-8 (null when none is declared). Such a body is
 * decoded from it, as Python's json.loads behind vLLM reads UTF-16 too, rather than refused as bad UTF-8; a charset
 * node cannot decode is a 415 naming it, before the body is read.
 */
export function declaredCharset(contentType: string | undefined): TextDecoder | null {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset === undefined || UTF8_NAMES.has(charset)) return null
  try {
    return new TextDecoder(charset, {fatal: true})
  } catch {
    throw new UnsupportedMediaTypeError(`Content-Type charset '${charset.slice(0, 40)}' is not supported; send the body as UTF-8.`, {code: 'unsupported_charset'})
  }
}

/**
 * The body as UTF-8. A declared charset decodes it; without one, a UTF-16 body is found as Python's json.loads behind
 * vLLM finds it (RFC 4627: its byte-order mark, or the zero byte beside the first ASCII character JSON starts with),
 * and a UTF-32 one is a 415 naming it. Bytes not valid in their encoding are the client's error, named.
 */
export function bodyAsUtf8(body: Buffer, declared: TextDecoder | null): Buffer {
  const utf32 = utf32Order(body)
  if (utf32 !== null)
    throw new UnsupportedMediaTypeError(`The request body is UTF-32 (${utf32}); send it as UTF-8 (or UTF-16).`, {code: 'unsupported_charset'})
  const marked = byteOrderMarked(body)
  const decoder = marked ?? declared ?? zeroBytePattern(body)
  if (decoder === null) return body
  try {
    return Buffer.from(decoder.decode(body), 'utf8')
  } catch {
    const found = marked ? 'its byte-order mark says' : declared ? 'the charset its Content-Type declares' : 'its zero bytes say'
    throw new InvalidRequestError(`The request body is not valid ${decoder.encoding} (the encoding ${found}).`, {code: 'invalid_encoding'})
  }
}

/**
 * A byte-order mark names the body's encoding whatever the label says (WHATWG's decode, RFC 2781 for "utf-16"; Python's
 * json.loads reads it so): TextDecoder('utf-16') alone is little-endian, so a big-endian body marked FE FF was garbage.
 */
function byteOrderMarked(body: Buffer): TextDecoder | null {
  const encoding = body[0] === 0xfe && body[1] === 0xff ? 'utf-16be' : body[0] === 0xff && body[1] === 0xfe ? 'utf-16le' : body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 'utf-8' : null
  return encoding === null ? null : new TextDecoder(encoding, {fatal: true})
}

/** UTF-32's byte order when the body is in it: its byte-order mark, or three zero bytes beside the first character. */
function utf32Order(body: Buffer): string | null {
  if (body.length < 4) return null
  const [a, b, c, d] = [body[0], body[1], body[2], body[3]]
  if ((a === 0 && b === 0 && c === 0xfe && d === 0xff) || (a === 0 && b === 0 && c === 0 && d !== 0)) return 'big-endian'
  if ((a === 0xff && b === 0xfe && c === 0 && d === 0) || (a !== 0 && b === 0 && c === 0 && d === 0)) return 'little-endian'
  return null
}

/** UTF-16 without a byte-order mark: JSON's first character is ASCII, so one of its two bytes is zero. */
function zeroBytePattern(body: Buffer): TextDecoder | null {
  if (body.length < 2) return null
  const encoding = body[0] === 0 && body[1] !== 0 ? 'utf-16be' : body[0] !== 0 && body[1] === 0 ? 'utf-16le' : null
  return encoding === null ? null : new TextDecoder(encoding, {fatal: true})
}

/** JSON must be UTF-8 (RFC 8259): invalid bytes are refused, not silently replaced. */
const strictUtf8 = new TextDecoder('utf-8', {fatal: true})

/** Deeper JSON than any request needs; beyond it, copying the parsed body between threads would overflow the stack. */
export const MAX_JSON_DEPTH = 128

/** The deepest nesting of arrays and objects in `text`, stopping early once it passes `limit` (strings skipped). */
function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/** The body as text, refused when empty, not UTF-8 or nested too deep. */
export function jsonText(body: Uint8Array): string {
  if (body.length === 0) throw new InvalidRequestError('The request body is empty; send a JSON object.', {code: 'invalid_json'})
  let text: string
  try {
    text = strictUtf8.decode(body)
  } catch {
    throw new InvalidRequestError('The request body is not valid UTF-8.', {code: 'invalid_encoding'})
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
    throw new InvalidRequestError(`The request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels.`, {code: 'invalid_json'})
  return text
}

export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new InvalidRequestError(`The request body is not valid JSON: ${(error as Error).message}`, {code: 'invalid_json'})
  }
}

/**
 * Every prompt text in a parsed body, as far as its shape allows (the schema check comes later and names
 * whatever is malformed): the prompt string or strings, or each message's string content and text parts.
 */
export function promptTexts(body: unknown, field: PromptField): string[] {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined
  const items = Array.isArray(value) ? value : [value]
  const texts = items.filter((item): item is string => typeof item === 'string')
  if (field === 'prompt') return texts
  // Messages, or the Responses API's input (a string, or items holding content as messages do).
  return texts.concat(items.flatMap((message) => {
    const content = typeof message === 'object' && message !== null ? (message as {content?: unknown}).content : undefined
    if (typeof content === 'string') return [content]
    if (!Array.isArray(content)) return []
    return content.map((part) => (part as {text?: unknown} | null)?.text).filter((text): text is string => typeof text === 'string')
  }))
}
