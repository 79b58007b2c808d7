// Reads a request body: bounded in size, strict UTF-8 decoded as it arrives, parsed as JSON; each failure a 4xx.
import type {IncomingMessage} from 'node:http'
import {InvalidRequestError, PayloadTooLargeError} from '../engine/errors.js'

/**
 * Reads the whole body as text, refusing more than `limit` bytes with a 413 and bytes that are not UTF-8 with a 400
 * (JSON must be UTF-8, RFC 8259; nothing is silently replaced). Each chunk is decoded as it arrives, so a big body
 * costs the event loop many small steps, not one long one. The rest of a refused body is read and thrown away
 * (memory stays bounded) so that a client still sending reliably gets the error instead of a reset.
 */
export async function readBodyText(request: IncomingMessage, limit: number): Promise<string> {
  const decoder = new TextDecoder('utf-8', {fatal: true})
  const parts: string[] = []
  let size = 0
  let validUtf8 = true
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit || !validUtf8) continue
    try {
      parts.push(decoder.decode(chunk, {stream: true}))
    } catch {
      validUtf8 = false
    }
  }
  if (size > limit) throw bodyTooLarge(limit)
  try {
    if (validUtf8) parts.push(decoder.decode())
  } catch {
    validUtf8 = false
  }
  if (!validUtf8) throw new InvalidRequestError('The request body is not valid UTF-8.', {code: 'invalid_encoding'})
  return parts.join('')
}

export function bodyTooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The request body is larger than the server's limit of ${limit} bytes.`, {code: 'body_too_large'})
}

export function parseJson(text: string): unknown {
  if (text.length === 0) throw new InvalidRequestError('The request body is empty; send a JSON object.', {code: 'invalid_json'})
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new InvalidRequestError(`The request body is not valid JSON: ${(error as Error).message}`, {code: 'invalid_json'})
  }
}
