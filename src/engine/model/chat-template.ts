// A model's chat template rendered as transformers' apply_chat_template renders it (jinja2), on @huggingface/jinja.
import {Environment, type Template} from '@huggingface/jinja'
import {InvalidRequestError} from '../errors.js'
import {addParityGlobals, addParityTests, runTemplate} from './jinja-parity.js'
import {withJinja2Forms} from './jinja-source-forms.js'
import {withLibraryEscapes} from './jinja-string-escapes.js'
import {parseTemplate} from './jinja-test-arguments.js'
import {pythonRange} from './jinja-big-ints.js'
import {FunctionValue} from './jinja-values.js'
import {contentInFormat, detectContentFormat, type ChatContentFormat, type ChatContentFormatOption, type ChatTextPart} from './chat-content-format.js'

export interface ChatMessage {
  role: string
  /** The text (a list of text parts joined by newlines, as vLLM joins them for string-format templates). */
  content: string
  /** The parts when the request sent a list (or null: none); what an 'openai'-format template iterates over. */
  contentParts?: ChatTextPart[]
  /** An assistant turn's calls (function.arguments parsed to an object where it is JSON, as templates expect). */
  tool_calls?: unknown[]
  /** A tool result's call id. */
  tool_call_id?: string
  name?: string
  /** An assistant turn's thinking, under both names templates read (Qwen3's: reasoning_content). */
  reasoning_content?: string
  reasoning?: string
}

export interface ChatTemplateOptions {
  /** Append the assistant turn header so the model answers; defaults to true (what chat completions need). */
  addGenerationPrompt?: boolean
  /** OpenAI tool objects, passed to the template as transformers' apply_chat_template(tools=...) does. */
  tools?: readonly object[]
  /** RAG documents, passed to the template as transformers' apply_chat_template(documents=...) does. */
  documents?: readonly object[]
  /** Extra template variables (vLLM's chat_template_kwargs: enable_thinking, date_string, ...); they cannot replace messages or tools. */
  variables?: Readonly<Record<string, unknown>>
  /** vLLM's --chat-template-content-format; auto (the default) takes the one detected on the template. */
  contentFormat?: ChatContentFormatOption
  /** A request's chat_template (vLLM's field): rendered instead of the tokenizer's, under the same limits. */
  chatTemplate?: string
}

/** The special tokens' text, which transformers hands every template (bos_token, eos_token, ...). */
export type SpecialTokenText = Readonly<Record<string, string>>

export class ChatTemplate {
  private readonly parsed: Template['parsed']
  /** How this template reads message content, found on its AST (chat-content-format.ts). */
  readonly contentFormat: ChatContentFormat

  /** Throws when the source does not parse. */
  constructor(readonly source: string) {
    this.parsed = parseTemplate(withLibraryEscapes(withJinja2Forms(source))) as Template['parsed']
    this.contentFormat = detectContentFormat(this.parsed)
  }

  /** The prompt text; a template's raise_exception (or a conversation it cannot render) is an InvalidRequestError. */
  render(messages: readonly ChatMessage[], specialTokens: SpecialTokenText, opts: ChatTemplateOptions = {}): string {
    const environment = templateGlobals()
    const format = opts.contentFormat === undefined || opts.contentFormat === 'auto' ? this.contentFormat : opts.contentFormat
    // transformers passes tools and documents always (None when absent): `tools is not none` must be false then.
    const variables = {
      ...specialTokens,
      ...opts.variables,
      // A key set to undefined would still be 'in message' for the template; a Python dict has no such key.
      messages: messages.map(({contentParts, ...message}) => ({
        ...Object.fromEntries(Object.entries(message).filter(([, value]) => value !== undefined)),
        content: contentInFormat(message.content, contentParts, format),
      })),
      tools: opts.tools && opts.tools.length > 0 ? opts.tools : null,
      documents: opts.documents && opts.documents.length > 0 ? opts.documents : null,
      add_generation_prompt: opts.variables?.add_generation_prompt ?? opts.addGenerationPrompt ?? true,
    }
    try {
      for (const [name, value] of Object.entries(variables)) {
        // jinja2's literals cannot be shadowed; a render variable shadows a global (raise_exception, range, namespace,
        // ...), as jinja2's render(**kwargs) does: set() threw 'Variable already declared' for chat_template_kwargs naming one.
        if (JINJA_LITERALS.has(name)) continue
        environment.variables.delete(name)
        environment.set(name, value)
      }
      return runTemplate(this.parsed, environment)
    } catch (error) {
      // The depth limit (template-budget.ts) should stop recursion first; a stack still exhausted is named as such.
      const stackExhausted = error instanceof RangeError && /call stack/i.test(error.message)
      const cause = stackExhausted ? 'recursion too deep: the render exhausted the stack' : (error as Error).message
      throw new InvalidRequestError(`The chat template rejected these messages: ${cause}`, {param: 'messages', cause: error})
    }
  }
}

/**
 * Request templates parsed lately, most recent last: a client sends the same one with every request, and parsing a
 * 16 KB template (gpt-oss's) took ~2 ms. Only sources up to MAX_CACHED_TEMPLATE_CHARS are kept, so the cache stays small.
 */
const requestTemplates = new Map<string, ChatTemplate>()
const CACHED_REQUEST_TEMPLATES = 8
const MAX_CACHED_TEMPLATE_CHARS = 64 * 1024

/** A request's chat_template, parsed; one that does not parse is the client's 400, naming the problem. */
export function parseRequestTemplate(source: string): ChatTemplate {
  const cached = requestTemplates.get(source)
  if (cached !== undefined) {
    requestTemplates.delete(source)
    requestTemplates.set(source, cached)
    return cached
  }
  let template: ChatTemplate
  try {
    template = new ChatTemplate(source)
  } catch (error) {
    throw new InvalidRequestError(`'chat_template' does not parse: ${(error as Error).message}`, {param: 'chat_template', cause: error})
  }
  if (source.length <= MAX_CACHED_TEMPLATE_CHARS) {
    requestTemplates.set(source, template)
    if (requestTemplates.size > CACHED_REQUEST_TEMPLATES) requestTemplates.delete(requestTemplates.keys().next().value!)
  }
  return template
}

/** Names jinja2 parses as constants, never as variables. */
const JINJA_LITERALS = new Set(['true', 'false', 'none', 'True', 'False', 'None'])

/** What transformers' template environment offers besides the request: constants, raise_exception, range, strftime_now. */
function templateGlobals(): Environment {
  const environment = new Environment()
  addParityTests(environment)
  addParityGlobals(environment)
  for (const [name, value] of Object.entries({true: true, false: false, none: null, True: true, False: false, None: null})) environment.set(name, value)
  environment.set('raise_exception', (message: unknown) => {
    throw new Error(String(message))
  })
  // A value, not a JavaScript function: the library would hand it each int as a double.
  ;(environment as unknown as {variables: Map<string, unknown>}).variables.set('range', new FunctionValue(pythonRange))
  environment.set('strftime_now', (format: string) => strftime(new Date(), String(format)))
  return environment
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']

/** Python's datetime.strftime in the C locale (English names, local time), for the directives templates use. */
export function strftime(date: Date, format: string): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12
  const dayOfYear = Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1
  const fields: Record<string, string> = {
    Y: String(date.getFullYear()),
    y: pad(date.getFullYear() % 100),
    m: pad(date.getMonth() + 1),
    d: pad(date.getDate()),
    e: String(date.getDate()).padStart(2, ' '),
    b: MONTHS[date.getMonth()]!.slice(0, 3),
    B: MONTHS[date.getMonth()]!,
    a: DAYS[date.getDay()]!.slice(0, 3),
    A: DAYS[date.getDay()]!,
    H: pad(date.getHours()),
    I: pad(hour12),
    p: date.getHours() < 12 ? 'AM' : 'PM',
    M: pad(date.getMinutes()),
    S: pad(date.getSeconds()),
    j: pad(dayOfYear, 3),
    '%': '%',
  }
  return format.replace(/%([A-Za-z%])/g, (directive, letter: string) => fields[letter] ?? directive)
}
