// Streaming tool calls: turns a choice's text deltas into OpenAI chat delta objects (content or tool_calls fragments).
//
// A named function streams its arguments as they are generated (the output is the arguments). `required` holds the
// whole output (a JSON list of calls) until the choice ends. `auto` streams content until the text may be starting a
// call (the families whose content may come first: from their marker, CALL_START; the families whose calls are the
// whole output: an output opening as a call does, WHOLE_OUTPUT_OPENERS, e.g. "{" for llama3_json, "[" for pythonic),
// then holds the rest.
// Held text is parsed at the end and sent as content plus, per call, a header delta (index, id, type, function.name)
// and then its arguments.
import {CALL_START, WHOLE_OUTPUT_OPENERS} from './tool-call-parsers.js'
import {newToolCallId, parseToolOutput, type ToolCallParserName, type ToolRequest} from './tool-calls.js'

export type ChatDelta = {content: string} | {tool_calls: object[]}

interface ChoiceState {
  /**
   * The text not yet sent as content. Only it is kept and searched: slicing or searching a whole output that grows by
   * a delta at a time copies all of it on every delta (a string built by += is flattened), quadratic in the output.
   */
  unsent: string
  /** The unsent text may hold calls: nothing more is streamed until the end. */
  holding: boolean
  callId: string | null
  madeCalls: boolean
  /** Whole-output families: where the first non-whitespace character of `unsent` is (-1: none yet), and whether the output is decided to be plain content. */
  visibleAt: number
  plain: boolean
}

export class ToolCallDeltas {
  private readonly choices = new Map<number, ChoiceState>()

  constructor(
    private readonly request: ToolRequest,
    private readonly parser: ToolCallParserName | null,
  ) {}

  /** The deltas to send for new text of choice `index`; `finished` flushes what was held. */
  next(index: number, text: string, finished: boolean): ChatDelta[] {
    let state = this.choices.get(index)
    if (!state) this.choices.set(index, (state = {unsent: '', holding: this.request.mode.kind === 'required', callId: null, madeCalls: false, visibleAt: -1, plain: false}))
    if (this.request.mode.kind === 'named') return this.namedDeltas(state, text, finished)
    state.unsent += text
    const deltas: ChatDelta[] = []
    if (!state.holding) {
      const {streamUpTo, hold} = this.streamable(state, text, finished)
      if (streamUpTo > 0) {
        deltas.push({content: state.unsent.slice(0, streamUpTo)})
        state.unsent = state.unsent.slice(streamUpTo)
        state.visibleAt = -1
      }
      state.holding = hold
    }
    if (finished && state.holding) deltas.push(...this.callDeltas(state))
    return deltas
  }

  /** Whether choice `index` made calls (its finish_reason becomes "tool_calls"). */
  madeCalls(index: number): boolean {
    return this.choices.get(index)?.madeCalls ?? false
  }

  private namedDeltas(state: ChoiceState, text: string, finished: boolean): ChatDelta[] {
    const deltas: ChatDelta[] = []
    if (state.callId === null && (text !== '' || finished)) {
      state.callId = newToolCallId(this.parser)
      state.madeCalls = true
      const name = (this.request.mode as {name: string}).name
      deltas.push({tool_calls: [{index: 0, id: state.callId, type: 'function', function: {name, arguments: ''}}]})
    }
    if (text !== '') deltas.push({tool_calls: [{index: 0, function: {arguments: text}}]})
    return deltas
  }

  /** How much of the unsent text may stream as content (characters), and whether the rest must be held as a possible call. */
  private streamable(state: ChoiceState, delta: string, finished: boolean): {streamUpTo: number; hold: boolean} {
    const text = state.unsent
    const openers = this.parser === null ? undefined : WHOLE_OUTPUT_OPENERS[this.parser]
    if (openers !== undefined) {
      if (state.plain) return {streamUpTo: text.length, hold: false}
      // Only the new text is searched for the first visible character: a trimStart of the whole text on every delta
      // was quadratic in an output of whitespace (1 s of event loop for 80,000 spaces in 4-character deltas). Nothing
      // is sent before the output is decided, so `unsent` is the whole output here.
      if (state.visibleAt < 0) {
        const at = delta.search(/\S/)
        if (at >= 0) state.visibleAt = text.length - delta.length + at
      }
      const start = state.visibleAt < 0 ? '' : text.slice(state.visibleAt)
      if (openers.some((opener) => start.startsWith(opener))) return {streamUpTo: 0, hold: true}
      const undecided = !finished && (start === '' || openers.some((opener) => opener.startsWith(start)))
      state.plain = !undecided
      return {streamUpTo: undecided ? 0 : text.length, hold: false}
    }
    const start = this.parser === null ? undefined : CALL_START[this.parser]
    if (start !== undefined) {
      const marker = text.indexOf(start)
      if (marker >= 0) return {streamUpTo: marker, hold: true}
      // Keep back a tail that could still grow into the marker.
      let tail = finished ? 0 : Math.min(start.length - 1, text.length)
      while (tail > 0 && !start.startsWith(text.slice(text.length - tail))) tail--
      return {streamUpTo: text.length - tail, hold: false}
    }
    return {streamUpTo: text.length, hold: false}
  }

  private callDeltas(state: ChoiceState): ChatDelta[] {
    const parsed = parseToolOutput(state.unsent, this.request, this.parser)
    const deltas: ChatDelta[] = []
    if (parsed.content !== null && parsed.content !== '') deltas.push({content: parsed.content})
    parsed.toolCalls.forEach((call, callIndex) => {
      deltas.push({tool_calls: [{index: callIndex, id: call.id, type: 'function', function: {name: call.function.name, arguments: ''}}]})
      deltas.push({tool_calls: [{index: callIndex, function: {arguments: call.function.arguments}}]})
    })
    state.madeCalls = parsed.toolCalls.length > 0
    return deltas
  }
}
