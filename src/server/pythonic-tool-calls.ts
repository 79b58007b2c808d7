// vLLM's `pythonic` tool calls (Llama 3.2/3.3/4, Gemma 3 templates): the output is a Python list of calls with keyword
// arguments, `[get_weather(city="Paris", days=2), get_time()]`, read here as Python's literal syntax without running anything.
import type {TextCall} from './tool-call-parsers.js'

/** Llama 4 wraps the list in these; the text between is the list. */
const WRAPPERS = ['<|python_start|>', '<|python_end|>', '<|python_tag|>']
/** Deeper literals than this are not read (a model looping on '[' cannot exhaust the stack). */
const MAX_DEPTH = 64

class Unreadable extends Error {}

/** A cursor over the text, reading Python literals. */
class PythonLiterals {
  private at = 0

  constructor(private readonly text: string) {}

  /** The calls of a whole `[f(a=1), ...]`; throws Unreadable when the text is anything else. */
  callList(): TextCall[] {
    this.expect('[')
    const calls: TextCall[] = []
    while (!this.accept(']')) {
      calls.push(this.call())
      if (!this.accept(',')) {
        this.expect(']')
        break
      }
    }
    this.skipSpace()
    if (this.at !== this.text.length || calls.length === 0) throw new Unreadable()
    return calls
  }

  private call(): TextCall {
    const name = this.identifier()
    this.expect('(')
    // No prototype: a keyword argument named __proto__ is an argument like any other, not the object's prototype.
    const args: Record<string, unknown> = Object.create(null)
    while (!this.accept(')')) {
      const key = this.identifier()
      this.expect('=')
      args[key] = this.value(0)
      if (!this.accept(',')) {
        this.expect(')')
        break
      }
    }
    return {name, arguments: JSON.stringify(args)}
  }

  private value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new Unreadable()
    this.skipSpace()
    const char = this.text[this.at]
    if (char === '[' || char === '(') return this.sequence(char === '[' ? ']' : ')', depth)
    if (char === '{') return this.dict(depth)
    if (char === '"' || char === "'") return this.string()
    const word = /^(?:True|False|None)\b|^-?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.text.slice(this.at, this.at + 400))?.[0]
    if (word === undefined) throw new Unreadable()
    this.at += word.length
    if (word === 'True' || word === 'False') return word === 'True'
    if (word === 'None') return null
    return Number(word.replaceAll('_', ''))
  }

  private sequence(close: string, depth: number): unknown[] {
    this.at++
    const items: unknown[] = []
    while (!this.accept(close)) {
      items.push(this.value(depth + 1))
      if (!this.accept(',')) {
        this.expect(close)
        break
      }
    }
    return items
  }

  private dict(depth: number): Record<string, unknown> {
    this.at++
    const entries: Record<string, unknown> = Object.create(null)
    while (!this.accept('}')) {
      const key = this.value(depth + 1)
      if (typeof key !== 'string' && typeof key !== 'number') throw new Unreadable()
      this.expect(':')
      entries[String(key)] = this.value(depth + 1)
      if (!this.accept(',')) {
        this.expect('}')
        break
      }
    }
    return entries
  }

  /** A Python string literal, '...' or "..." or tripled, with the escapes models write. */
  private string(): string {
    const quote = this.text.startsWith(this.text[this.at]!.repeat(3), this.at) ? this.text[this.at]!.repeat(3) : this.text[this.at]!
    this.at += quote.length
    let value = ''
    const escapes: Record<string, string> = {n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', '\n': ''}
    while (!this.text.startsWith(quote, this.at)) {
      const char = this.text[this.at]
      if (char === undefined || (quote.length === 1 && char === '\n')) throw new Unreadable()
      if (char === '\\') {
        const next = this.text[this.at + 1] ?? ''
        const hex = /^[xu]/.test(next) ? /^(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})/.exec(this.text.slice(this.at + 1, this.at + 6))?.[0] : undefined
        if (hex !== undefined) {
          value += String.fromCharCode(parseInt(hex.slice(1), 16))
          this.at += 1 + hex.length
          continue
        }
        value += escapes[next] ?? '\\' + next
        this.at += 2
        continue
      }
      value += char
      this.at++
    }
    this.at += quote.length
    return value
  }

  private identifier(): string {
    this.skipSpace()
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.at, this.at + 200))?.[0]
    if (name === undefined) throw new Unreadable()
    this.at += name.length
    return name
  }

  private accept(token: string): boolean {
    this.skipSpace()
    if (!this.text.startsWith(token, this.at)) return false
    this.at += token.length
    return true
  }

  private expect(token: string): void {
    if (!this.accept(token)) throw new Unreadable()
  }

  private skipSpace(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++
  }
}

/** The text with Llama 4's python markers removed and trimmed: what must be the call list. */
export function pythonicBody(text: string): string {
  let body = text.trim()
  for (const marker of WRAPPERS) body = body.split(marker).join('')
  return body.trim()
}

/** The calls when the whole output is a pythonic call list, else null (the output is content). */
export function pythonicCalls(text: string): TextCall[] | null {
  const body = pythonicBody(text)
  if (!body.startsWith('[') || !body.endsWith(']')) return null
  try {
    return new PythonLiterals(body).callList()
  } catch (error) {
    if (error instanceof Unreadable) return null
    throw error
  }
}
