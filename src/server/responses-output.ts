// A response's output items (reasoning, message, function_call), built from its text as the chat path reads it, and the
// typed stream events that build them. The JSON reply runs the whole text through the same builder at once, so a
// stream's items always equal the JSON reply's.
import {newObjectId} from './api-context.js'
import type {ChatCompletionRequest} from './chat-request.js'
import type {ChatRun} from './chat-completions.js'
import type {ChatTokenLogprob} from './logprobs-format.js'
import {ReasoningSplitter} from './reasoning-deltas.js'
import type {JsonObject} from './request-fields.js'
import {type ChatDelta, ToolCallDeltas} from './tool-call-deltas.js'

export type ResponseEvent = {type: string; [field: string]: unknown}
export type ItemStatus = 'completed' | 'incomplete'
type Emit = (event: ResponseEvent) => Promise<void>

type TextItem = {kind: 'reasoning' | 'message'; id: string; text: string; logprobs: ChatTokenLogprob[]}
type OpenItem = TextItem | {kind: 'function_call'; id: string; callId: string; name: string; text: string}

export class ResponseOutputBuilder {
  /** The finished items, in output order. */
  readonly items: JsonObject[] = []
  private open: OpenItem | null = null

  /** `emit`: where the stream events go (none for the JSON reply). */
  constructor(private readonly emit: Emit = async () => {}) {}

  async reasoning(text: string): Promise<void> {
    if (text === '') return
    const open = await this.openText('reasoning')
    open.text += text
    await this.emit({type: 'response.reasoning_text.delta', ...this.place(), content_index: 0, delta: text})
  }

  /**
   * Text of the reply's message, with the logprobs of the tokens it came from (chat's shape, logprobs-format.ts). Tokens
   * that add no text (EOS) join the open message, or the message a reply without items will be; else they are dropped.
   */
  async content(text: string, logprobs: readonly ChatTokenLogprob[] = []): Promise<void> {
    const joinsMessage = this.open === null ? this.items.length === 0 : this.open.kind === 'message'
    if (text === '' && (logprobs.length === 0 || !joinsMessage)) return
    const open = await this.openText('message')
    open.text += text
    open.logprobs.push(...logprobs)
    await this.emit({type: 'response.output_text.delta', ...this.place(), content_index: 0, delta: text, logprobs})
  }

  /** Chat's delta shapes (ToolCallDeltas): content, a call's header (it has an id) or a piece of its arguments. */
  async chatDelta(delta: ChatDelta, logprobs: readonly ChatTokenLogprob[] = []): Promise<void> {
    if ('content' in delta) return this.content(delta.content, logprobs)
    for (const call of delta.tool_calls as {id?: string; function: {name?: string; arguments?: string}}[]) {
      if (call.id !== undefined) {
        await this.close('completed')
        this.open = {kind: 'function_call', id: newObjectId('fc'), callId: call.id, name: call.function.name ?? '', text: ''}
        await this.emit({type: 'response.output_item.added', output_index: this.items.length, item: this.itemOf(this.open, 'in_progress')})
      }
      const args = call.function.arguments ?? ''
      if (args === '' || this.open?.kind !== 'function_call') continue
      this.open.text += args
      await this.emit({type: 'response.function_call_arguments.delta', ...this.place(), delta: args})
    }
  }

  /** Closes the last item with `status`; a reply with no item at all is one empty message (the text was empty). */
  async finish(status: ItemStatus): Promise<void> {
    if (this.open === null && this.items.length === 0) await this.openText('message')
    await this.close(status)
  }

  /** The finished items and the open one with its text so far (in_progress): what polling a background response shows. */
  itemsSoFar(): JsonObject[] {
    const open = this.open
    if (open === null) return [...this.items]
    const item = this.itemOf(open, 'in_progress')
    return [...this.items, open.kind === 'function_call' ? item : {...item, content: [partOf(open.kind, open.text, open.logprobs)]}]
  }

  private place() {
    return {item_id: this.open!.id, output_index: this.items.length}
  }

  private async openText(kind: 'reasoning' | 'message'): Promise<TextItem> {
    if (this.open?.kind === kind) return this.open
    await this.close('completed')
    const open: TextItem = {kind, id: newObjectId(kind === 'message' ? 'msg' : 'rs'), text: '', logprobs: []}
    this.open = open
    await this.emit({type: 'response.output_item.added', output_index: this.items.length, item: this.itemOf(open, 'in_progress')})
    await this.emit({type: 'response.content_part.added', ...this.place(), content_index: 0, part: partOf(kind, '', [])})
    return open
  }

  private async close(status: ItemStatus): Promise<void> {
    const open = this.open
    if (open === null) return
    const place = this.place()
    if (open.kind === 'function_call') {
      await this.emit({type: 'response.function_call_arguments.done', ...place, name: open.name, arguments: open.text})
    } else {
      const done = open.kind === 'message' ? {type: 'response.output_text.done', logprobs: open.logprobs} : {type: 'response.reasoning_text.done'}
      await this.emit({...done, ...place, content_index: 0, text: open.text})
      await this.emit({type: 'response.content_part.done', ...place, content_index: 0, part: partOf(open.kind, open.text, open.logprobs)})
    }
    const item = this.itemOf(open, status)
    await this.emit({type: 'response.output_item.done', output_index: place.output_index, item})
    this.items.push(item)
    this.open = null
  }

  private itemOf(open: OpenItem, status: ItemStatus | 'in_progress'): JsonObject {
    const started = status === 'in_progress'
    if (open.kind === 'function_call') return {id: open.id, type: 'function_call', status, call_id: open.callId, name: open.name, arguments: open.text}
    const content = started ? [] : [partOf(open.kind, open.text, open.logprobs)]
    if (open.kind === 'message') return {id: open.id, type: 'message', status, role: 'assistant', content}
    return {id: open.id, type: 'reasoning', status, summary: [], content, encrypted_content: null}
  }
}

function partOf(kind: 'reasoning' | 'message', text: string, logprobs: readonly ChatTokenLogprob[]): JsonObject {
  return kind === 'message' ? {type: 'output_text', text, annotations: [], logprobs} : {type: 'reasoning_text', text}
}

/** A token's logprob entry and the text it adds to the reply (`tokenText`), which places the entry in the reply. */
export interface PlacedLogprob {
  text: string
  entry: ChatTokenLogprob
}

/**
 * The chat path's reading of a reply's text, piece by piece: the thinking split off first (reasoning parser), then tool
 * calls read from the answer (forced calls by their grammar, `auto` by the tool-call parser), the rest content.
 * With logprobs the text is read a token at a time, however the engine's outputs grouped it (so the JSON reply and a
 * stream place them alike): a token's entry waits, as the chat route holds it, for the next piece of text and goes
 * with it; content keeps it, reasoning, the reasoning end tag and calls (no logprobs in the Responses API) drop it.
 */
export class ReplyReader {
  private readonly splitter: ReasoningSplitter | null
  private readonly tools: ToolCallDeltas | null
  private held: ChatTokenLogprob[] = []

  constructor(request: ChatCompletionRequest, {tags, parser}: Pick<ChatRun, 'tags' | 'parser'>) {
    this.splitter = tags === null ? null : new ReasoningSplitter(tags)
    this.tools = request.tools !== null && request.tools.mode.kind !== 'none' ? new ToolCallDeltas(request.tools, parser) : null
  }

  /** `tokens`: the logprobs of the tokens this text came from, in order (none when the request asked for none). */
  async push(text: string, finished: boolean, builder: ResponseOutputBuilder, tokens: readonly PlacedLogprob[] = []): Promise<void> {
    if (tokens.length === 0) return this.read(text, finished, builder)
    const pieces = splitAmongTokens(text, tokens.map((token) => token.text))
    for (const [index, token] of tokens.entries()) {
      this.held.push(token.entry)
      await this.read(pieces[index]!, finished && index === tokens.length - 1, builder)
    }
  }

  private async read(text: string, finished: boolean, builder: ResponseOutputBuilder): Promise<void> {
    let answer = text
    if (this.splitter !== null) {
      const wasReasoning = !this.splitter.reasoningEnded
      const piece = this.splitter.push(text, finished)
      if (piece.reasoning !== '' || (wasReasoning && this.splitter.reasoningEnded)) this.take()
      await builder.reasoning(piece.reasoning)
      answer = piece.content
    }
    if (this.tools === null) {
      if (answer !== '' || finished) await builder.content(answer, this.take())
      return
    }
    for (const delta of this.tools.next(0, answer, finished)) await builder.chatDelta(delta, this.take())
    if (finished) await builder.content('', this.take())
  }

  private take(): ChatTokenLogprob[] {
    const held = this.held
    this.held = []
    return held
  }
}

/**
 * The text each token added, read off `text` by the tokens' own texts. A token whose text is not next (half a
 * character, a special token the text skips) adds nothing, and the characters skipped go with the next token found a
 * few characters on; the last token takes what is left.
 */
export function splitAmongTokens(text: string, tokenTexts: readonly string[]): string[] {
  let at = 0
  const pieces = tokenTexts.map((tokenText) => {
    const found = tokenText === '' ? -1 : text.indexOf(tokenText, at)
    if (found < 0 || found - at > 4) return ''
    const piece = text.slice(at, found + tokenText.length)
    at = found + tokenText.length
    return piece
  })
  pieces[pieces.length - 1] += text.slice(at)
  return pieces
}
