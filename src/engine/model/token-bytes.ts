// The bytes a vocabulary string stands for: GPT-2 byte-level characters, SentencePiece pieces with <0xNN> byte fallback, or plain text.
import {bytesToUnicode} from './byte-level-bpe.js'
import type {DecoderKind} from './tokenizer.js'

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/
let byteOfCharacter: Map<string, number> | null = null

/**
 * A token's own bytes, which may be part of a UTF-8 character (a byte-level piece, a <0xE4> fallback byte); decoding
 * the token alone would turn them into U+FFFD. A SentencePiece "▁" is the space it stands for.
 */
export function tokenBytes(token: string, vocabType: DecoderKind['vocabType']): Uint8Array {
  if (vocabType === 'byte_level') {
    byteOfCharacter ??= new Map(bytesToUnicode().map((character, byte) => [character, byte]))
    const bytes: number[] = []
    for (const character of token) {
      const byte = byteOfCharacter.get(character)
      // Outside GPT-2's alphabet: an added token written as plain text.
      if (byte === undefined) bytes.push(...Buffer.from(character, 'utf8'))
      else bytes.push(byte)
    }
    return Uint8Array.from(bytes)
  }
  if (vocabType === 'byte_fallback') {
    const fallback = BYTE_FALLBACK.exec(token)
    if (fallback !== null) return Uint8Array.of(parseInt(fallback[1]!, 16))
    return new Uint8Array(Buffer.from(token.replaceAll('\u2581', ' '), 'utf8'))
  }
  return new Uint8Array(Buffer.from(token, 'utf8'))
}
