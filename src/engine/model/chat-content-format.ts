// Whether a chat template reads a message's content as a string or as OpenAI's list of parts: vLLM's --chat-template-content-format, detected on the template's AST as vLLM detects it.
import type {Template} from '@huggingface/jinja'

/** How the template gets `message.content`: the text ('string'), or a list of {type: "text", text} parts ('openai'). */
export type ChatContentFormat = 'string' | 'openai'
/** The flag's values: auto detects the format from the template. */
export const CHAT_TEMPLATE_CONTENT_FORMATS = ['auto', 'string', 'openai'] as const
export type ChatContentFormatOption = (typeof CHAT_TEMPLATE_CONTENT_FORMATS)[number]

/** A text part of a message, as the template sees it in the 'openai' format. */
export interface ChatTextPart {
  type: 'text'
  text: string
}

type Program = Template['parsed']
type Node = {type: string} & Record<string, unknown>

/**
 * 'openai' when the template loops over a message's content (`{% for part in message['content'] %}`, through filters,
 * tests and slices), a message being a loop variable over `messages` or over a variable set from it; else 'string'.
 * vLLM's rule (chat_utils._detect_content_format), which reads the loops only: a template that merely indexes
 * content[0] gets the string.
 */
export function detectContentFormat(program: Program): ChatContentFormat {
  const nodes = allNodes(program)
  const loops = nodes.filter((node) => node.type === 'For')
  const messagesNames = aliasesOf(nodes, 'messages')
  const messageNames = loops.flatMap((loop) => {
    const name = loopVariable(loop)
    return name !== null && messagesNames.some((list) => readsVariable(loop.iterable as Node, list)) ? [name] : []
  })
  const loopsOverContent = loops.some((loop) => messageNames.some((message) => readsVariable(loop.iterable as Node, message, 'content')))
  return loopsOverContent ? 'openai' : 'string'
}

/** The message's content as the format wants it: the text, or its parts (a string content is one text part, as in vLLM). */
export function contentInFormat(content: string, parts: readonly ChatTextPart[] | undefined, format: ChatContentFormat): string | ChatTextPart[] {
  if (format === 'string') return content
  return parts ? [...parts] : [{type: 'text', text: content}]
}

/** `varname` and the names set from it (`{% set loop_messages = messages[1:] %}`), breadth first as vLLM follows them. */
function aliasesOf(nodes: Node[], varname: string): string[] {
  const names = [varname]
  for (let i = 0; i < names.length; i++) {
    for (const node of nodes) {
      if (node.type !== 'Set' || node.value === null || (node.assignee as Node).type !== 'Identifier') continue
      const name = (node.assignee as Node).value as string
      if (!names.includes(name) && readsVariable(node.value as Node, names[i]!)) names.push(name)
    }
  }
  return names
}

/** The node reads `varname` (or `varname[key]` / `varname.key`), possibly through filters, tests, a loop's `if` or a slice. */
function readsVariable(node: Node, varname: string, key?: string): boolean {
  if (node.type === 'FilterExpression' || node.type === 'TestExpression') return readsVariable(node.operand as Node, varname, key)
  if (node.type === 'SelectExpression') return readsVariable(node.lhs as Node, varname, key)
  if (node.type === 'MemberExpression' && (node.property as Node).type === 'SliceExpression') return readsVariable(node.object as Node, varname, key)
  if (key === undefined) return isName(node, varname)
  if (node.type !== 'MemberExpression' || !isName(node.object as Node, varname)) return false
  const property = node.property as Node
  return node.computed ? property.type === 'StringLiteral' && property.value === key : property.type === 'Identifier' && property.value === key
}

function isName(node: Node, varname: string): boolean {
  return node.type === 'Identifier' && node.value === varname
}

function loopVariable(loop: Node): string | null {
  const variable = loop.loopvar as Node
  return variable.type === 'Identifier' ? (variable.value as string) : null
}

/** Every node of the tree (statements and expressions), found through the node objects' fields. */
function allNodes(root: Program): Node[] {
  const found: Node[] = []
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (Array.isArray(value)) stack.push(...value)
    else if (value instanceof Map) stack.push(...value.keys(), ...value.values())
    else if (value !== null && typeof value === 'object' && typeof (value as Node).type === 'string') {
      found.push(value as Node)
      for (const field of Object.values(value)) if (field !== null && typeof field === 'object') stack.push(field)
    }
  }
  return found
}
