// Streaming tool calls: turns a choice's text deltas into OpenAI chat delta objects (content or tool_calls fragments).
//
// A named function streams its arguments as they are generated (the output is the arguments). `required` and `auto`
// must see the whole output before they know whether, and which, calls it holds, so their text is held back and sent
// at the end: each call as a header delta (index, id, type, function.name) then its arguments.
import {newToolCallId, parseToolOutput, type ToolCallParserName, type ToolRequest} from './tool-calls.js'

export type ChatDelta = {content: string} | {tool_calls: object[]}

export class ToolCallDeltas {
  private readonly heldText = new Map<number, string>()
  private readonly namedCallId = new Map<number, string>()
  private readonly sawCalls = new Set<number>()

  constructor(
    private readonly request: ToolRequest,
    private readonly parser: ToolCallParserName | null,
  ) {}

  /** The deltas to send for new text of choice `index`; `finished` flushes what was held. */
  next(index: number, text: string, finished: boolean): ChatDelta[] {
    const {mode} = this.request
    if (mode.kind === 'named') {
      const deltas: ChatDelta[] = []
      let id = this.namedCallId.get(index)
      if (id === undefined && (text !== '' || finished)) {
        this.namedCallId.set(index, (id = newToolCallId()))
        this.sawCalls.add(index)
        deltas.push({tool_calls: [{index: 0, id, type: 'function', function: {name: mode.name, arguments: ''}}]})
      }
      if (text !== '') deltas.push({tool_calls: [{index: 0, function: {arguments: text}}]})
      return deltas
    }
    const held = (this.heldText.get(index) ?? '') + text
    this.heldText.set(index, held)
    if (!finished) return []
    const parsed = parseToolOutput(held, this.request, this.parser)
    const deltas: ChatDelta[] = []
    if (parsed.content !== null && parsed.content !== '') deltas.push({content: parsed.content})
    parsed.toolCalls.forEach((call, callIndex) => {
      deltas.push({tool_calls: [{index: callIndex, id: call.id, type: 'function', function: {name: call.function.name, arguments: ''}}]})
      deltas.push({tool_calls: [{index: callIndex, function: {arguments: call.function.arguments}}]})
    })
    if (parsed.toolCalls.length > 0) this.sawCalls.add(index)
    return deltas
  }

  /** Whether choice `index` made calls (its finish_reason becomes "tool_calls"). */
  madeCalls(index: number): boolean {
    return this.sawCalls.has(index)
  }
}
