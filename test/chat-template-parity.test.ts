// Real models' chat templates render as transformers' apply_chat_template renders them (jinja2): the reference renders
// are data (test/fixtures/chat-templates/expected.json, made by scripts/chat-template-fixtures.py), so no Python runs here.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ChatTemplate, strftime, type ChatMessage} from '../src/engine/model/chat-template.js'

const dir = join(import.meta.dirname, 'fixtures', 'chat-templates')
interface Case {
  name: string
  messages: ChatMessage[]
  addGenerationPrompt?: boolean
  withTools?: boolean
  withDocuments?: boolean
  kwargs?: Record<string, unknown>
}
const spec = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {specialTokens: Record<string, string>; tools: object[]; documents: object[]; cases: Case[]}
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Record<string, {output?: string; error?: string}>>

/** The reference with today's date put back where strftime_now wrote it (the fixture marks it with its format). */
const withToday = (text: string) => text.replace(/<<strftime_now ([^>]+)>>/g, (_mark, format: string) => strftime(new Date(), format))

/** How one case renders here, against jinja2's render; null when they agree. */
function mismatch(template: ChatTemplate, testCase: Case, want: {output?: string; error?: string}): string | null {
  let got: {output?: string; error?: string}
  try {
    // transformers gets the messages as written; the server's own content formats are chat-content-format.test.ts's.
    const opts = {addGenerationPrompt: testCase.addGenerationPrompt ?? true, tools: testCase.withTools ? spec.tools : undefined, documents: testCase.withDocuments ? spec.documents : undefined, variables: testCase.kwargs, contentFormat: 'string' as const}
    got = {output: template.render(testCase.messages, spec.specialTokens, opts)}
  } catch (error) {
    got = {error: (error as Error).message}
  }
  if (want.error !== undefined) {
    if (got.error === undefined) return `transformers fails (${want.error}), we render ${JSON.stringify(got.output)}`
    // The template's own raise_exception: its message must reach the client.
    const raised = /^TemplateError: (.*)$/s.exec(want.error)?.[1]
    return raised !== undefined && !got.error.includes(raised) ? `want the template's error ${JSON.stringify(raised)}, got ${JSON.stringify(got.error)}` : null
  }
  const output = withToday(want.output!)
  if (got.output === output) return null
  if (got.error !== undefined) return `want ${JSON.stringify(output)}\n  got error ${got.error}`
  let at = 0
  while (output[at] === got.output![at]) at++
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 80), at + 80))
  return `first difference at ${at}:\n  want ${around(output)}\n  got  ${around(got.output!)}`
}

describe('chat templates render as transformers renders them', () => {
  const files = readdirSync(dir).filter((name) => name.endsWith('.jinja'))
  it('has a reference render for every template', () => assert.deepEqual(Object.keys(expected).sort(), files.sort()))
  for (const file of files) {
    it(file, () => {
      const template = new ChatTemplate(readFileSync(join(dir, file), 'utf8'))
      const failures = spec.cases.flatMap((testCase) => {
        const problem = mismatch(template, testCase, expected[file]![testCase.name]!)
        return problem === null ? [] : [`${testCase.name}: ${problem}`]
      })
      assert.deepEqual(failures, [])
    })
  }
})
