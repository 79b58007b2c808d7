// vLLM's continue_final_message: the chat rendered with its last message left open (no end-of-turn after it), found
// the way transformers' apply_chat_template(continue_final_message=True) finds it: by a marker appended to that text.
import {InvalidRequestError} from '../engine/errors.js'
import {PYTHON_WHITESPACE} from '../engine/model/python-str-methods.js'
import type {ChatMessage} from './engine-like.js'

/**
 * transformers' marker. Looking for the final text itself went wrong where that text also occurs after it (inside or
 * past the end-of-turn markers), and empty text matched at the very end, leaving the turn closed.
 */
const TAG = 'CONTINUE_FINAL_MESSAGE_TAG '
const PARAM = {param: 'continue_final_message'}

/**
 * `render` run on the messages with the marker after the final message's text (its last text part when it has parts),
 * cut where the marker starts: right there when the template kept the marker's trailing space, else with the
 * whitespace before it trimmed too (the template trimmed the text, so the text's own trailing spaces went with it).
 */
export function renderOpenFinalMessage(messages: readonly ChatMessage[], render: (messages: ChatMessage[]) => string): string {
  const last = messages[messages.length - 1]!
  const {tagged, text} = withTag(last)
  const rendered = render([...messages.slice(0, -1), tagged])
  const mark = TAG.trim()
  if (!rendered.includes(mark) || !rendered.includes(pythonStrip(text)))
    throw new InvalidRequestError("'continue_final_message' is set, but the chat template does not write the final message's text as it was sent", PARAM)
  const at = rendered.lastIndexOf(mark)
  return rendered.startsWith(TAG, at) ? rendered.slice(0, at) : pythonStrip(rendered.slice(0, at), false)
}

/** The final message with the marker after its text, and that text; a message without text has nothing to continue. */
function withTag(message: ChatMessage): {tagged: ChatMessage; text: string} {
  const parts = message.contentParts
  if (parts === undefined) return {tagged: {...message, content: message.content + TAG}, text: message.content}
  // Null content and a list without text parts both come as no parts (chat-request.ts): transformers refuses both.
  if (parts.length === 0)
    throw new InvalidRequestError("'continue_final_message' is set, but the final message has no text to continue (its content is null or has no text part)", PARAM)
  const text = parts[parts.length - 1]!.text
  const taggedParts = [...parts.slice(0, -1), {...parts[parts.length - 1]!, text: text + TAG}]
  // The joined content (what a string-format template reads) ends with the last part, so it gets the marker too.
  return {tagged: {...message, content: message.content + TAG, contentParts: taggedParts}, text}
}

/** Python's str.strip() / rstrip() without arguments: its whitespace, not JavaScript's. */
function pythonStrip(text: string, fromStart = true): string {
  const chars = [...text]
  let [first, end] = [0, chars.length]
  while (fromStart && first < end && PYTHON_WHITESPACE.includes(chars[first]!)) first++
  while (end > first && PYTHON_WHITESPACE.includes(chars[end - 1]!)) end--
  return chars.slice(first, end).join('')
}
