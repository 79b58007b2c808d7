// Tool calling through the real server on a tiny random model, for every object schema of the audit corpus as a tool's
// parameters: tool_choice named, required (parallel and not), auto and none, one tool and many, strict tools and tools
// without parameters. Every call must parse, name a real tool and (finished) validate against its tool's schema; a
// schema the engine cannot enforce must be a 400 naming the expected keyword. Prints the bugs and a summary.
// Usage: npx tsx scripts/tool-call-corpus.ts [--seeds 2] [--max-tokens 96]
import {parseArgs} from 'node:util'
import {schemaErrors} from '../test/support/guided-check.js'
import {JSON_SCHEMA_AUDIT_CORPUS} from '../test/support/json-schema-audit-corpus.js'
import {post, startTinyEngineServer} from '../test/support/server-harness.js'

const {values} = parseArgs({options: {seeds: {type: 'string', default: '2'}, 'max-tokens': {type: 'string', default: '96'}}})
const seeds = Number(values.seeds)
const maxTokens = Number(values['max-tokens'])

const isObjectSchema = (schema: unknown) =>
  typeof schema === 'object' && schema !== null && ((schema as {type?: unknown}).type ?? 'object') === 'object' && !('anyOf' in schema) && !('oneOf' in schema)
const entries = JSON_SCHEMA_AUDIT_CORPUS.filter((entry) => isObjectSchema(entry.schema))
const tool = (name: string, parameters: unknown, strict = false) => ({type: 'function', function: {name, description: `tool ${name}`, parameters, ...(strict ? {strict: true} : {})}})
const noParameters = {type: 'function', function: {name: 'ping'}}

const {server, url} = await startTinyEngineServer({version: 'tools', maxBodyBytes: 4 << 20})
const bugs: string[] = []
const counts = {requests: 0, calls: 0, validated: 0, refused: 0}
try {
  for (const [i, entry] of entries.entries()) {
    const own = tool(`t${i}`, entry.schema, i % 2 === 0)
    const toolSets = [[own], [own, noParameters, tool('other', {type: 'object', properties: {q: {type: 'string', maxLength: 4}}, required: ['q'], additionalProperties: false})]]
    for (const tools of toolSets) {
      const choices: unknown[] = [{type: 'function', function: {name: `t${i}`}}, 'required', 'auto', 'none']
      for (const toolChoice of choices) {
        for (const parallel of toolChoice === 'required' ? [true, false] : [true]) {
          for (let seed = 0; seed < seeds; seed++) {
            const body = {messages: [{role: 'user', content: 'Call a tool.'}], tools, tool_choice: toolChoice, parallel_tool_calls: parallel, max_tokens: maxTokens, temperature: 1, seed}
            const reply = await post(`${url}/v1/chat/completions`, body)
            counts.requests++
            const label = `${entry.name} tools=${tools.length} choice=${JSON.stringify(toolChoice)} parallel=${parallel} seed=${seed}`
            // Arguments are an object: a top-level enum or const of other values is refused whatever the mode.
            const refused = 'enum' in (entry.schema as object) || 'const' in (entry.schema as object) ? 'of type \\"object\\"' : entry.refused
            if (refused) {
              const refusedAsExpected = reply.status === 400 && reply.text.includes(refused)
              // Free-text modes compile no grammar, so they may answer 200.
              const mayAnswer = toolChoice === 'auto' || toolChoice === 'none'
              if (!refusedAsExpected && !(reply.status === 200 && mayAnswer)) bugs.push(`${label}: expected a 400 naming ${refused}, got ${reply.status} ${reply.text.slice(0, 200)}`)
              if (refusedAsExpected) counts.refused++
              continue
            }
            if (reply.status !== 200) {
              bugs.push(`${label}: ${reply.status} ${reply.text.slice(0, 300)}`)
              continue
            }
            const choice = reply.json().choices[0]
            const calls = choice.message.tool_calls ?? []
            if (toolChoice === 'none' && calls.length > 0) bugs.push(`${label}: tool_choice none returned calls`)
            if (!parallel && calls.length > 1) bugs.push(`${label}: parallel_tool_calls false returned ${calls.length} calls`)
            if (typeof toolChoice === 'object' || toolChoice === 'required') {
              if (choice.finish_reason === 'tool_calls' && calls.length === 0) bugs.push(`${label}: finish_reason tool_calls without calls`)
              if (choice.finish_reason !== 'length' && calls.length === 0) bugs.push(`${label}: a forced call finished with no call: ${JSON.stringify(choice.message)}`)
            }
            for (const call of calls) {
              counts.calls++
              const used = tools.find((candidate) => candidate.function.name === call.function.name)
              if (!used) {
                bugs.push(`${label}: call names unknown tool ${call.function.name}`)
                continue
              }
              if (choice.finish_reason === 'length') continue // a cut call's arguments are a prefix
              let args: unknown
              try {
                args = JSON.parse(call.function.arguments)
              } catch {
                bugs.push(`${label}: arguments do not parse: ${call.function.arguments}`)
                continue
              }
              const parameters = (used.function as {parameters?: object}).parameters ?? {type: 'object', properties: {}}
              const errors = schemaErrors(parameters, args)
              if (errors !== null) bugs.push(`${label}: arguments ${call.function.arguments} fail the tool's schema: ${errors}`)
              else counts.validated++
            }
          }
        }
      }
    }
  }
} finally {
  await server.shutdown(1000)
}
for (const bug of bugs) console.log(`BUG ${bug}`)
console.log(`${entries.length} tool schemas, ${counts.requests} requests: ${counts.calls} calls, ${counts.validated} finished calls validated, ${counts.refused} refusals as expected; ${bugs.length} bugs`)
process.exitCode = bugs.length === 0 ? 0 : 1
