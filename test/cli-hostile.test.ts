// What scripts/cli-attacks.ts found the commands doing with hostile flags and prompts, each now refused by name:
// tested on the engine in-process where the fix lives there, and through the CLI for a few representative cases.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {runCommand} from './support/run-command.js'

let tiny = ''
before(async () => {
  tiny = await ensureTestModel('tiny')
})

function refusedAs(param: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof InvalidRequestError, `expected an InvalidRequestError, got ${String(error)}`)
    assert.equal(error.param, param)
    assert.match(error.message, pattern)
    return true
  }
}

describe('a KV pool or swap space larger than the machine', () => {
  // Before: the native allocation failed with "cannot allocate N bytes", or "numBlocks must be an integer" past 2^31 blocks.
  it('--kv-memory of 4 PiB is refused by its flag before any allocation', async () => {
    await assert.rejects(LLMEngine.create(makeEngineConfig({modelPath: tiny, kvMemoryBytes: 2 ** 52, threads: 1})), refusedAs('kv-memory', /^--kv-memory: the KV cache would take .* more than this machine's .* of memory/))
  })
  it('--num-blocks past 2^31 is refused by its flag (not "numBlocks must be an integer")', async () => {
    await assert.rejects(LLMEngine.create(makeEngineConfig({modelPath: tiny, numBlocks: 2 ** 31, threads: 1})), refusedAs('num-blocks', /^--num-blocks: the KV cache would take /))
  })
  it('--swap-space of 4 PiB is refused by its flag', async () => {
    await assert.rejects(LLMEngine.create(makeEngineConfig({modelPath: tiny, numBlocks: 8, swapSpaceBytes: 2 ** 52, threads: 1})), refusedAs('swap-space', /^--swap-space: the swap space would take/))
  })
})

describe('guided decoding specs from a file', () => {
  it('a JSON schema nested 2,000 deep is refused, not a stack overflow in the compile key', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: tiny, numBlocks: 8, threads: 1}))
    try {
      let schema: Record<string, unknown> = {}
      for (let i = 0; i < 2000; i++) schema = {type: 'array', items: schema}
      const params = makeSamplingParams({maxTokens: 2, guided: {kind: 'json', schema, anyWhitespace: true, param: 'json-schema'}})
      await assert.rejects(engine.prepareRequest(params), refusedAs('json-schema', /nests deeper than 32 levels/))
    } finally {
      await engine.shutdown()
    }
  })
})

describe('the command line', () => {
  // Before: oclif took "--json=false" as --json and a second prompt "false", and ran both prompts as JSON.
  it('a switch given a value (--json=false) is refused, not read as the switch plus a prompt "false"', async () => {
    const {code, stdout, stderr} = await runCommand('generate', ['--model', tiny, '--json=false', 'hi'])
    assert.equal(code, 2)
    assert.equal(stdout, '')
    assert.match(stderr, /^Error: --json=false cannot take a value: --json is a switch \(give --json, or leave it out\)\nUsage: /)
  })
})
