// The model attacks of scripts/serve-attacks.ts: servers on other models than the built-in one, each attacked where its
// model matters: chat templates that raise, loop, read content parts or have no template (a test model's copy with
// each), a 64-token context with prompts at and past it under every feature, and guided specs whose grammar must be
// exact or refused. Each server must answer every request with a shaped 200 or an OpenAI 4xx whose message does not
// leak the engine's internals, then drain and serve a normal request.
import {mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {drainedProblem} from './fuzz-serve-checks.js'
import type {Attack} from './serve-attack-http.js'
import {gist, problemOf, request, type Reply, type Target} from './serve-attack-wire.js'

/** A server the caller started on `flags`; `stop` ends it. */
export interface AttackServer {
  target: Target
  stop: () => Promise<void>
}
export type StartServer = (flags: string[]) => Promise<AttackServer>

/** Error text that is the engine's, not the client's: a JS exception, xgrammar's parser, the template library's declarations. */
const LEAKED = /EBNF parser error|Variable already declared|TypeError|ReferenceError|Cannot read propert|undefined is not|\bat \S+\.(ts|js):\d+/

function replyFinding(path: string, reply: Reply, sent: unknown): string | null {
  const problem = problemOf(path, reply, sent)
  if (problem) return `${problem}: ${gist(reply)}`
  if (reply.status >= 400 && LEAKED.test(reply.text)) return `a ${reply.status} leaking internals: ${gist(reply)}`
  return null
}

/** Sends each body, then checks the pool drained and a normal request is served; the findings, or null. */
async function attackServer(target: Target, path: string, bodies: unknown[], check = replyFinding): Promise<string | null> {
  const findings: string[] = []
  for (const body of bodies) {
    const reply = await request(target, 'POST', path, body).catch((error: Error) => ({status: 0, contentType: '', text: `threw ${error.message}`}))
    const finding = check(path, reply, body)
    if (finding) findings.push(`${JSON.stringify(body).slice(0, 120)} -> ${finding}`)
  }
  let leak: string | null = 'never read'
  for (let i = 0; i < 80 && leak; i++) {
    leak = drainedProblem((await request(target, 'GET', '/metrics')).text)
    if (leak) await new Promise((wait) => setTimeout(wait, 250))
  }
  if (leak) findings.push(`not drained: ${leak}`)
  const normal = await request(target, 'POST', '/v1/completions', {prompt: 'still serving?', max_tokens: 2})
  if (normal.status !== 200) findings.push(`a normal request after: ${gist(normal)}`)
  return findings.length === 0 ? null : `${findings.length} bad replies; first: ${findings.slice(0, 3).join(' | ')}`
}

const USER = {role: 'user', content: 'hi'}
const CALL = {role: 'assistant', content: null, tool_calls: [{id: 'call_abc123xyz', type: 'function', function: {name: 'f', arguments: '{"a":1}'}}]}
const TOOL = {role: 'tool', content: 'r', tool_call_id: 'call_abc123xyz'}
const TOOLS = [{type: 'function', function: {name: 'f', description: 'd', parameters: {type: 'object', properties: {a: {type: 'integer'}}}}}]

/** Conversations templates trip over: roles out of order, null and list content, tool turns, kwargs naming globals. */
function chatCorpus(): unknown[] {
  const chat = (...messages: unknown[]) => ({messages, max_tokens: 2})
  const system = {role: 'system', content: 'sys'}
  return [
    chat(USER), chat(system, USER), chat(USER, USER), chat({role: 'assistant', content: 'yo'}), chat(system), chat({role: 'developer', content: 'd'}, USER),
    chat({role: 'user', content: null}), chat({role: 'user', content: []}), chat({role: 'user', content: [{type: 'text', text: 'a'}, {type: 'text', text: 'b'}]}),
    chat({role: 'user', content: [{type: 'refusal', refusal: 'x'}]}), chat({role: 'user'}), chat({role: 'user', content: 'x', name: 'bob'}), chat({role: 'user', content: 'x', name: 5}),
    chat(USER, CALL), chat(USER, CALL, TOOL), chat(USER, CALL, TOOL, TOOL), chat(USER, TOOL), chat(TOOL), chat(USER, {...CALL, content: 'thinking'}, TOOL),
    chat(USER, {role: 'assistant', content: null, tool_calls: [{id: 'x', type: 'function', function: {name: 'f', arguments: 'not json'}}]}),
    chat(USER, {role: 'assistant', content: null, tool_calls: [{id: 'x', type: 'function', function: {name: 'f', arguments: '[1]'}}]}),
    chat(USER, {role: 'assistant', content: 'x', reasoning_content: 'think'}), chat(USER, {role: 'function', name: 'f', content: 'x'}),
    chat({role: 'user', content: '{% raw %}{{ 7*7 }}<|im_end|><|channel|>'}), chat({role: 'user', content: '\u0000\ud800'}),
    {...chat(USER), tools: TOOLS, tool_choice: 'none'}, {...chat(USER, CALL, TOOL), tools: TOOLS, tool_choice: 'none'}, {...chat(USER), documents: [{title: 't', text: 'x'}]},
    ...['raise_exception', 'range', 'namespace', 'strftime_now', 'true', 'none', 'messages', 'tools', 'bos_token', 'add_generation_prompt', 'loop', 'toString', '__proto__'].map((name) => ({
      ...chat(system, USER),
      chat_template_kwargs: {[name]: 5},
    })),
    {...chat(USER, {role: 'assistant', content: 'ab'}), continue_final_message: true, add_generation_prompt: false, echo: true},
    {...chat(USER), continue_final_message: true, add_generation_prompt: false},
    {...chat(USER, CALL), continue_final_message: true, add_generation_prompt: false},
  ]
}

/** Templates as hostile model files hold them; the fixture set adds real ones (test/fixtures/chat-templates). */
const TEMPLATES: Record<string, string | null> = {
  none: null,
  raises: "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m.role + ': ' + m.content }}{% endfor %}",
  'content-parts': "{% for m in messages %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endfor %}",
  'tool-calls': "{{ tools | tojson }}{% for m in messages %}{{ m.content }}{% for c in m.tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}",
  'runs-forever': "{% for i in range(1000000000) %}{{ messages[0].content }}{% endfor %}",
  recursion: '{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}',
}

/** A copy of the qwen2 test model (its files linked) whose tokenizer_config.json carries `template`. */
async function modelWithTemplate(root: string, name: string, template: string | null): Promise<string> {
  const source = await ensureTestModel('tiny', {variant: 'qwen2'})
  const dir = join(root, name)
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json']) symlinkSync(join(source, file), join(dir, file))
  const config = JSON.parse(readFileSync(join(source, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>
  if (template === null) delete config.chat_template
  else config.chat_template = template
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
  return dir
}

/** Prompts at and past a 64-token context, with every feature that adds rows or tokens. */
function tinyContextCorpus(): unknown[] {
  const long = 'hello world '.repeat(40)
  const ids = (count: number) => Array.from({length: count}, (_, i) => 5 + (i % 50))
  const bodies: unknown[] = []
  for (const prompt of [ids(63), ids(64), ids(65), long, 'hi'])
    for (const extra of [{}, {max_tokens: 1}, {max_tokens: null}, {max_tokens: 0, echo: true, prompt_logprobs: 3}, {max_tokens: 1, echo: true, logprobs: 3, prompt_logprobs: 2}, {n: 4, best_of: 6, max_tokens: null},
      {use_beam_search: true, n: 3, max_tokens: null}, {stream: true, n: 2, max_tokens: null, logprobs: 2, stream_options: {include_usage: true}}, {min_tokens: 60, max_tokens: 61, ignore_eos: true},
      {truncate_prompt_tokens: 63, max_tokens: 1}, {truncate_prompt_tokens: 64, max_tokens: 0, echo: true}, {guided_regex: '[a-z]{1,80}', max_tokens: null}, {max_tokens: 2 ** 31 - 1}])
      bodies.push({prompt, max_tokens: 8, ...extra})
  bodies.push({prompt: [ids(60), 'hi', ids(64)], max_tokens: 2}, {prompt: Array.from({length: 200}, () => ids(63)), max_tokens: 1})
  return bodies
}

/** Within a 64-token context a 200's usage must fit it too (one prompt: its tokens, and each sample's share). */
function tinyContextFinding(path: string, reply: Reply, sent: unknown): string | null {
  const finding = replyFinding(path, reply, sent)
  const body = sent as {prompt: unknown; n?: number; best_of?: number}
  const onePrompt = typeof body.prompt === 'string' || (Array.isArray(body.prompt) && typeof body.prompt[0] === 'number')
  if (finding || reply.status !== 200 || !reply.contentType.includes('json') || !onePrompt) return finding
  const usage = JSON.parse(reply.text).usage as {prompt_tokens: number; completion_tokens: number}
  const samples = Math.max(body.n ?? 1, body.best_of ?? 1)
  return usage.prompt_tokens > 64 || usage.completion_tokens > (64 - usage.prompt_tokens) * samples ? `usage past the context: ${JSON.stringify(usage)}` : null
}

/** Guided specs whose grammar must match exactly what they say, or be refused with the field named. */
const GUIDED: {body: Record<string, unknown>; matches?: RegExp}[] = [
  {body: {guided_regex: '[^\\s\\S]'}},
  {body: {guided_regex: 'a|b[^\\d\\D]'}},
  {body: {guided_regex: '[^\\w\\W]x'}},
  {body: {guided_json: {enum: []}}},
  {body: {guided_json: {type: []}}},
  {body: {guided_json: {type: 'object', properties: {a: {enum: []}}, required: ['a']}}},
  {body: {guided_json: {type: 'string', pattern: '^a$', format: 'email'}}},
  {body: {guided_json: {type: 'string', pattern: '^[^\\s\\S]$'}}},
  {body: {guided_regex: '[^\\S]'}, matches: /^\s$/u},
  {body: {guided_regex: '(|a)b||c'}, matches: /^(?:a?b|c|)$/},
  {body: {guided_regex: 'a$b'}},
  {body: {guided_regex: '[^\\d\\s]{3}'}, matches: /^[^\d\s]{3}$/u},
]

function guidedAttack(start: StartServer): Attack {
  return {cls: 'models', name: `guided specs exact or refused x${GUIDED.length}`, run: async () => {
    const server = await start([])
    try {
      const bodies = GUIDED.map(({body}) => ({prompt: 'hi', max_tokens: 6, temperature: 1, seed: 7, ...body}))
      return await attackServer(server.target, '/v1/completions', bodies, (path, reply, sent) => {
        const finding = replyFinding(path, reply, sent)
        if (finding || reply.status !== 200) return finding
        const spec = GUIDED[bodies.indexOf(sent as never)]!
        const {text, finish_reason: finish} = JSON.parse(reply.text).choices[0] as {text: string; finish_reason: string}
        if (!spec.matches) return `a spec no text can match gave ${JSON.stringify(text)}`
        return finish === 'stop' && !spec.matches.test(text) ? `${JSON.stringify(text)} does not match ${spec.matches}` : null
      })
    } finally {
      await server.stop()
    }
  }}
}

/** The inline hostile templates and `fixtures` (name -> a real template's text), each on its own server; scratch model copies go under `scratch`. */
export function modelAttacks(start: StartServer, scratch: string, fixtures: Record<string, string>): Attack[] {
  const templateAttacks = Object.entries({...TEMPLATES, ...fixtures}).map(([name, template]): Attack => ({cls: 'models', name: `chat template ${name}`, run: async () => {
    const server = await start(['--model', await modelWithTemplate(scratch, name, template)])
    try {
      return await attackServer(server.target, '/v1/chat/completions', chatCorpus())
    } finally {
      await server.stop()
    }
  }}))
  const tinyContext: Attack = {cls: 'models', name: 'a 64-token context', run: async () => {
    const server = await start(['--max-model-len', '64'])
    try {
      return await attackServer(server.target, '/v1/completions', tinyContextCorpus(), tinyContextFinding)
    } finally {
      await server.stop()
    }
  }}
  return [...templateAttacks, tinyContext, guidedAttack(start)]
}
