// vLLM's --chat-template: a file or inline text, read and parsed at start-up, gives a model without a template (GPT-2) a chat.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {readChatTemplateArgument} from '../src/engine/model/chat-template-source.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {llamaGgufBytes} from './support/llama-gguf.js'
import {runCommand, spawnCommand} from './support/run-command.js'

/** A role-prefixed transcript: what the GPT-2 test model renders with the template below. */
const TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
/** The same template as a shell passes it inline: a backslash and an n where the newline is (vLLM decodes the escapes). */
const TEMPLATE_AS_TYPED = TEMPLATE.replace('\n', '\\n')

let dir = ''
let gpt2Dir = ''
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pagedllm-chat-template-flag-'))
  gpt2Dir = await ensureTestModel('tiny', {variant: 'gpt2'})
})
after(() => rmSync(dir, {recursive: true, force: true}))

/** The whole stderr is one "Error: ..." line matching `pattern`, and the exit code is `code`. */
function assertOneErrorLine(result: {code: number | null; stderr: string}, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr)
  const lines = result.stderr.trimEnd().split('\n').filter((line) => !/^(model|backend|kv cache|note): /.test(line))
  assert.equal(lines.length, 1, result.stderr)
  assert.match(lines[0]!, pattern)
}

describe('--chat-template value', () => {
  it('an existing file is read as it is; text with { } or a newline is the template, its escapes decoded', () => {
    const path = join(dir, 'template.jinja')
    writeFileSync(path, TEMPLATE)
    assert.equal(readChatTemplateArgument(path), TEMPLATE)
    assert.equal(readChatTemplateArgument(TEMPLATE_AS_TYPED), TEMPLATE)
    assert.equal(readChatTemplateArgument('{{ "\\u00e9\\t" }}'), '{{ "\u00e9\t" }}')
  })

  it('a path that names no file, a directory, and a template that does not parse are refused, naming the flag', () => {
    assert.throws(() => readChatTemplateArgument(join(dir, 'missing.jinja')), /^InvalidRequestError: --chat-template: no file \S+missing\.jinja/)
    const directory = join(dir, 'a-directory')
    mkdirSync(directory)
    assert.throws(() => readChatTemplateArgument(directory), /--chat-template: cannot read \S+a-directory: /)
    assert.throws(() => readChatTemplateArgument('{% for m in messages %}{{ m.content }}'), /--chat-template: the template does not parse: /)
    assert.throws(() => readChatTemplateArgument('{{ "\\U00110000" }}'), /--chat-template: \\U00110000 is not a Unicode character/)
  })

  it('gives a GGUF file without tokenizer.chat_template (GPT-2 vocabulary) a template, as it does a directory', async () => {
    const gguf = join(dir, 'gpt2-vocab.gguf')
    writeFileSync(gguf, llamaGgufBytes(undefined, {family: 'gpt2', metadata: {'tokenizer.chat_template': undefined}}))
    const plain = await loadModel(gguf)
    assert.equal(plain.tokenizer.hasChatTemplate, false)
    const withTemplate = await loadModel(gguf, {chatTemplate: TEMPLATE})
    assert.equal(withTemplate.tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]), 'user: hi\nassistant:')
    assert.equal(Tokenizer.load(gguf, {chatTemplate: TEMPLATE}).applyChatTemplate([{role: 'user', content: 'hi'}], {addGenerationPrompt: false}), 'user: hi\n')
  })
})

const expectedPromptIds = () => Tokenizer.load(gpt2Dir).encode('user: hi\nassistant:', {addSpecialTokens: false})

describe('generate --chat --chat-template', () => {
  const generateJson = (...args: string[]) => runCommand('generate', ['--model', gpt2Dir, '--threads', '1', '--max-tokens', '2', '--json', '--chat', ...args, 'hi'])

  it('a model without a chat template chats with the template given inline or as a file', {timeout: 60_000}, async () => {
    const path = join(dir, 'chat.jinja')
    writeFileSync(path, TEMPLATE)
    const [inline, file, none] = await Promise.all([generateJson('--chat-template', TEMPLATE_AS_TYPED), generateJson('--chat-template', path), generateJson()])
    for (const result of [inline, file]) {
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(JSON.parse(result.stdout)[0].prompt_token_ids, expectedPromptIds())
    }
    assertOneErrorLine(none, 2, /^Error: --chat needs a chat template, and \S+ has none: give one with --chat-template, or the prompt without --chat$/)
  })

  it('a missing file or a broken template ends the command before the model loads; without --chat the flag is refused', {timeout: 60_000}, async () => {
    const [missing, broken, noChat] = await Promise.all([
      generateJson('--chat-template', join(dir, 'no-such-template.jinja')),
      generateJson('--chat-template', '{% if %}'),
      runCommand('generate', ['--model', gpt2Dir, '--threads', '1', '--chat-template', TEMPLATE_AS_TYPED, 'hi']),
    ])
    assertOneErrorLine(missing, 2, /^Error: --chat-template: no file \S+no-such-template\.jinja \(a template given inline holds Jinja syntax such as \{\{ or \{%\)$/)
    assertOneErrorLine(broken, 2, /^Error: --chat-template: the template does not parse: /)
    assertOneErrorLine(noChat, 2, /^Error: --chat-template renders the prompt as a chat: it needs --chat$/)
    for (const result of [missing, broken]) assert.doesNotMatch(result.stderr, /^model: /m)
  })

  it('more samples than --max-num-seqs are refused naming --n, the flag given', {timeout: 60_000}, async () => {
    const result = await runCommand('generate', ['--model', gpt2Dir, '--threads', '1', '--max-tokens', '2', '--max-num-seqs', '2', '--n', '4', '--temperature', '1', 'hi'])
    assertOneErrorLine(result, 2, /^Error: --n 4 exceeds --max-num-seqs 2: /)
  })
})

describe('serve --chat-template', () => {
  it('a model without a template serves chats rendered with it (in the tokenizer workers), and takes request templates with --trust-request-chat-template', {timeout: 90_000}, async () => {
    const child = spawnCommand('serve', [gpt2Dir, '--port', '0', '--threads', '1', '--num-blocks', '64', '--chat-template', TEMPLATE_AS_TYPED, '--trust-request-chat-template'], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', () => {
          if (/ready: model/.test(stderr)) resolve(/listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!)
        })
        void exited.then((code) => reject(new Error(`serve exited (${code}):\n${stderr}`)))
      })
      const tokenize = async (body: object): Promise<{tokens: number[]}> => (await (await fetch(`${url}/tokenize`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})).json()) as {tokens: number[]}
      const messages = [{role: 'user', content: 'hi'}]
      assert.deepEqual((await tokenize({messages})).tokens, expectedPromptIds())
      const requestTemplate = await tokenize({messages, chat_template: '{{ messages[0].content }}'})
      assert.deepEqual(requestTemplate.tokens, Tokenizer.load(gpt2Dir).encode('hi', {addSpecialTokens: false}))
    } finally {
      child.kill('SIGTERM')
      await exited
    }
  })

  it('a missing template file ends serve before it listens', {timeout: 60_000}, async () => {
    const result = await runCommand('serve', [gpt2Dir, '--port', '0', '--chat-template', join(dir, 'missing.jinja')])
    assertOneErrorLine(result, 2, /^Error: --chat-template: no file \S+missing\.jinja/)
    assert.doesNotMatch(result.stderr, /listening on/)
  })
})
