// Black-box: `generate --model` on hostile model files and chat templates ends quickly with one error line and a non-zero exit.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {SMALL_GGUF_SHAPE, llamaGgufBytes, llamaTensors} from './support/llama-gguf.js'
import {runCommand} from './support/run-command.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-blackbox-models-')

/** A copy of the tiny model whose tokenizer_config.json carries this chat template. */
function withChatTemplate(name: string, template: string): string {
  const dir = scratch.copy(name)
  const path = join(dir, 'tokenizer_config.json')
  writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), chat_template: template}))
  return dir
}

/** The whole stderr is one "Error: ..." line (the model lines before it aside): no stack, no native abort. */
function assertOneErrorLine(result: {code: number | null; stderr: string}, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr)
  const lines = result.stderr.trimEnd().split('\n').filter((line) => !/^(model|backend|kv cache|note): /.test(line))
  assert.equal(lines.length, 1, result.stderr)
  assert.match(lines[0]!, /^Error: /)
  assert.match(lines[0]!, pattern)
}

const render = (template: string) => new ChatTemplate(template).render([{role: 'user', content: 'hi'}], {bos_token: '<s>'})

describe('a chat template cannot hang or exhaust the process', () => {
  it('range() past a million items is refused before the list is built (range(10**9) aborted node)', () => {
    assert.throws(() => render('{% for i in range(10**9) %}x{% endfor %}'), /range\(\) of 1000000000 items is more than a chat template may make/)
    assert.equal(render('{% for i in range(2, 11, 4) %}{{ i }}{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}{{ range(0) | length }}'), '2610' + '321' + '0')
  })

  it('strings that grow past 10M characters by + or ~ are refused, however each piece was made', () => {
    assert.throws(() => render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"), /built a string of 16777216 characters/)
    assert.throws(() => render("{{ 'x' * 9000000 }}{{ 'y' * 9000000 }}"), /built a string of 18000000 characters/)
  })

  it('a loop that runs for ever is stopped by the render deadline', {timeout: 60_000}, () => {
    assert.throws(() => render('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'), /ran for more than 5 s/)
  })

  it('generate --chat: a template that raises, loops, recurses or writes megabytes is one error line, exit 2', {timeout: 80_000}, async () => {
    const cases: [string, string, RegExp][] = [
      ['raise', "{{ raise_exception('no system role') }}", /The chat template rejected these messages: no system role/],
      ['range', '{% for i in range(10**9) %}x{% endfor %}', /range\(\) of 1000000000 items/],
      ['recursion', '{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}', /The chat template rejected these messages: .*recursion too deep/],
      // 9M characters render within the limits, but the tiny model's 512 tokens hold far fewer: refused by size, not tokenized for a minute.
      ['huge', "{{ 'x' * 9000000 }}", /maximum context length is 512 tokens\. However, your prompt is 9000000 bytes of text/],
    ]
    const results = await Promise.all(cases.map(([name, template]) => runCommand('generate', ['--model', withChatTemplate(name, template), '--threads', '1', '--max-tokens', '2', '--chat', 'hi'])))
    results.forEach((result, i) => assertOneErrorLine(result, 2, cases[i]![2]))
  })

  it('a chat_template.jinja that cannot be read (a directory) is a model error naming it, not a bare EISDIR', async () => {
    const dir = scratch.copy('template-dir')
    mkdirSync(join(dir, 'chat_template.jinja'))
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--max-tokens', '2', 'hi'])
    assertOneErrorLine(result, 3, /^Error: Cannot read \S+\/template-dir\/chat_template\.jinja: EISDIR/)
  })

  it('generate --chat on a model without a chat template says to give one or drop --chat (not "use the completions endpoint")', async () => {
    const dir = scratch.copy('no-template')
    const path = join(dir, 'tokenizer_config.json')
    const {chat_template: _, ...config} = JSON.parse(readFileSync(path, 'utf8'))
    writeFileSync(path, JSON.stringify(config))
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--max-tokens', '2', '--chat', 'hi'])
    assertOneErrorLine(result, 2, /^Error: --chat needs a chat template, and no-template has none: give one with --chat-template, or the prompt without --chat$/)
  })
})

/** A GGUF v3 file holding only `metadata` (raw key/value bytes) and no tensors. */
function ggufWithMetadata(kvCount: number, metadata: Buffer): Buffer {
  const head = Buffer.alloc(24)
  head.write('GGUF', 0, 'latin1')
  head.writeUInt32LE(3, 4)
  head.writeBigUInt64LE(0n, 8)
  head.writeBigUInt64LE(BigInt(kvCount), 16)
  return Buffer.concat([head, metadata])
}
const u32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer)
const u64 = (n: number | bigint) => Buffer.from(new BigUint64Array([BigInt(n)]).buffer)
const ggufString = (text: string) => Buffer.concat([u64(Buffer.byteLength(text)), Buffer.from(text)])
const [GGUF_U8, GGUF_STRING, GGUF_ARRAY] = [0, 8, 9]

describe('hostile GGUF metadata fails at once, not by exhausting the stack or memory', () => {
  it('arrays nested 100,000 deep, 10M array items, a 600 MB string: one error line each, exit 3', async () => {
    const depth = 100_000
    const nested = Buffer.concat([ggufString('x'), u32(GGUF_ARRAY), Buffer.concat(Array.from({length: depth}, () => Buffer.concat([u32(GGUF_ARRAY), u64(1)]))), u32(GGUF_U8), u64(1), Buffer.from([7])])
    const items = 10_000_000
    const manyItems = Buffer.concat([ggufString('x'), u32(GGUF_ARRAY), u32(GGUF_U8), u64(items), Buffer.alloc(items)])
    // The string's length is declared, its bytes are not there: the length alone must be refused (not read, not allocated).
    const longString = Buffer.concat([ggufString('general.name'), u32(GGUF_STRING), u64(600 << 20), Buffer.alloc(64)])
    const cases: [string, Buffer, RegExp][] = [
      ['nested.gguf', nested, /not a readable GGUF file \(arrays nested deeper than 8 at byte \d+\)/],
      ['items.gguf', manyItems, /not a readable GGUF file \(more than 8388608 array items in all at byte \d+\)/],
      ['string.gguf', longString, /not a readable GGUF file \(a string of 629145600 bytes \(at most 268435456\) at byte \d+\)/],
    ]
    const results = await Promise.all(
      cases.map(([name, metadata]) => {
        const path = join(scratch.dir, name)
        writeFileSync(path, ggufWithMetadata(1, metadata))
        return runCommand('generate', ['--model', path, '--max-tokens', '2', 'hi'])
      }),
    )
    results.forEach((result, i) => assertOneErrorLine(result, 3, cases[i]![2]))
  })
})

describe('GGUF files by their magic', () => {
  it('a GGUF file without the .gguf extension loads as vLLM and llama.cpp load it (it was "a file; give the model\'s directory")', async () => {
    const bytes = llamaGgufBytes()
    const [named, unnamed] = [join(scratch.dir, 'named.gguf'), join(scratch.dir, 'weights.bin')]
    writeFileSync(named, bytes)
    writeFileSync(unnamed, bytes)
    const args = ['--threads', '1', '--json', '--max-tokens', '4', '--ignore-eos', 'hello']
    const [fromNamed, fromUnnamed] = await Promise.all([runCommand('generate', ['--model', named, ...args]), runCommand('generate', ['--model', unnamed, ...args])])
    assert.equal(fromUnnamed.code, 0, fromUnnamed.stderr)
    const ids = (stdout: string) => (JSON.parse(stdout) as {outputs: {token_ids: number[]}[]}[])[0]!.outputs[0]!.token_ids
    assert.deepEqual(ids(fromUnnamed.stdout), ids(fromNamed.stdout))
    // Any other file is still refused by name.
    const other = join(scratch.dir, 'notes.txt')
    writeFileSync(other, 'GGU')
    assertOneErrorLine(await runCommand('generate', ['--model', other, 'hi']), 2, /notes\.txt is a file but not a GGUF file; give a GGUF file, the model's directory/)
  })
})

describe('tensors whose data overlap', () => {
  it('a GGUF file whose second tensor starts inside the first is refused (it loaded, sharing bytes)', async () => {
    const tensors = llamaTensors(SMALL_GGUF_SHAPE)
    tensors[1]!.offset = 0
    const path = join(scratch.dir, 'overlap.gguf')
    writeFileSync(path, llamaGgufBytes(SMALL_GGUF_SHAPE, {tensors}))
    await assert.rejects(loadModel(path), (error: Error) => {
      assert.ok(error instanceof ModelLoadError, String(error))
      const [, from, to] = /the data of tensors token_embd\.weight and output_norm\.weight overlap \(bytes (\d+) to (\d+)\); the header is corrupt/.exec(error.message) ?? []
      // The shared bytes are the whole of output_norm (hidden size x 4 bytes).
      assert.equal(Number(to) - Number(from), SMALL_GGUF_SHAPE.hiddenSize * 4, error.message)
      return true
    })
  })

  it('a safetensors file whose two tensors point at the same bytes is refused (it loaded)', async () => {
    const dir = scratch.copy('overlap')
    const path = join(dir, 'model.safetensors')
    const bytes = readFileSync(path)
    const headerLength = Number(bytes.readBigUInt64LE(0))
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'))
    // The second layer norm points at the first one's bytes (same shape, so every size check passes).
    header['model.layers.0.post_attention_layernorm.weight'].data_offsets = header['model.layers.0.input_layernorm.weight'].data_offsets
    const json = Buffer.from(JSON.stringify(header).padEnd(headerLength))
    assert.equal(json.length, headerLength)
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), json, bytes.subarray(8 + headerLength)]))
    const result = await runCommand('generate', ['--model', dir, '--max-tokens', '2', 'hi'])
    assertOneErrorLine(result, 3, /the data of tensors model\.layers\.0\.input_layernorm\.weight and model\.layers\.0\.post_attention_layernorm\.weight overlap/)
  })
})
