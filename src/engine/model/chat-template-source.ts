// vLLM's --chat-template value: a Jinja file's path, or the template text itself; read and parsed once, at start-up.
import {existsSync} from 'node:fs'
import {InvalidRequestError} from '../errors.js'
import {ChatTemplate} from './chat-template.js'
import {readRegularFile} from './regular-file.js'

/** vLLM's test for "this is template text, not a path": any of these characters (a path has none). */
const TEMPLATE_CHARS = /[{}\n]/

/** The Python escapes vLLM's codecs.decode(..., "unicode_escape") turns into characters in an inline template. */
const ESCAPES = /\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([\\'"abfnrtv]))/g
const SIMPLE_ESCAPES: Record<string, string> = {'\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v'}

/**
 * The template text `value` stands for, as vLLM's load_chat_template reads it: the file when one exists at that path;
 * otherwise text holding `{`, `}` or a newline is the template itself (its backslash escapes, `\n` from a shell
 * among them, decoded); anything else was meant as a path and is refused. A template that does not parse is refused
 * too, so a typo ends the command at start-up rather than failing every chat request.
 */
export function readChatTemplateArgument(value: string, flag = 'chat-template'): string {
  const text = existsSync(value) ? readTemplateFile(value, flag) : inlineTemplate(value, flag)
  try {
    new ChatTemplate(text)
  } catch (error) {
    throw new InvalidRequestError(`--${flag}: the template does not parse: ${(error as Error).message}`, {param: flag, cause: error})
  }
  return text
}

function readTemplateFile(path: string, flag: string): string {
  try {
    return readRegularFile(path).toString('utf8')
  } catch (error) {
    throw new InvalidRequestError(`--${flag}: cannot read ${path}: ${(error as Error).message}`, {param: flag, cause: error})
  }
}

function inlineTemplate(value: string, flag: string): string {
  if (!TEMPLATE_CHARS.test(value))
    throw new InvalidRequestError(`--${flag}: no file ${value} (a template given inline holds Jinja syntax such as {{ or {%)`, {param: flag})
  return value.replace(ESCAPES, (escape, hex2?: string, hex4?: string, hex8?: string, simple?: string) => {
    const hex = hex2 ?? hex4 ?? hex8
    if (hex === undefined) return SIMPLE_ESCAPES[simple!]!
    const codePoint = Number.parseInt(hex, 16)
    // Python refuses these too ("illegal Unicode character").
    if (codePoint > 0x10ffff) throw new InvalidRequestError(`--${flag}: ${escape} is not a Unicode character`, {param: flag})
    return String.fromCodePoint(codePoint)
  })
}
