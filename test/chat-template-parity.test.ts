// Real models' chat templates render as transformers' apply_chat_template renders them (jinja2): the reference renders
// are data (test/fixtures/chat-templates/expected.json, made by scripts/chat-template-fixtures.py), so no Python runs here.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ChatTemplate, type ChatMessage} from '../src/engine/model/chat-template.js'

const dir = join(import.meta.dirname, 'fixtures', 'chat-templates')
interface Case {
  name: string
  messages: ChatMessage[]
  addGenerationPrompt?: boolean
  withTools?: boolean
  kwargs?: Record<string, unknown>
}
const spec = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {specialTokens: Record<string, string>; tools: object[]; cases: Case[]}
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Record<string, {output?: string; error?: string}>>
const today = (() => {
  const now = new Date()
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][now.getMonth()]
  return `${String(now.getDate()).padStart(2, '0')} ${month} ${now.getFullYear()}`
})()

describe('chat templates render as transformers renders them', () => {
  const files = readdirSync(dir).filter((name) => name.endsWith('.jinja'))
  it('has a reference render for every template', () => assert.deepEqual(Object.keys(expected).sort(), files.sort()))
  for (const file of files) {
    it(file, () => {
      const template = new ChatTemplate(readFileSync(join(dir, file), 'utf8'))
      const failures: string[] = []
      for (const testCase of spec.cases) {
        const want = expected[file]![testCase.name]!
        let got: {output?: string; error?: string}
        try {
          got = {output: template.render(testCase.messages, spec.specialTokens, {addGenerationPrompt: testCase.addGenerationPrompt ?? true, tools: testCase.withTools ? spec.tools : undefined, variables: testCase.kwargs})}
        } catch (error) {
          got = {error: (error as Error).message}
        }
        const wantOutput = want.output?.replaceAll('<<strftime_now %d %b %Y>>', today)
        if (want.error !== undefined && got.error === undefined) failures.push(`${testCase.name}: transformers fails (${want.error}), we render ${JSON.stringify(got.output)}`)
        else if (want.error === undefined && got.output !== wantOutput)
          failures.push(`${testCase.name}:\n  want ${JSON.stringify(wantOutput)}\n  got  ${got.error !== undefined ? 'error ' + got.error : JSON.stringify(got.output)}`)
      }
      assert.deepEqual(failures, [])
    })
  }
})
