// The generate and bench commands through oclif, as a user runs them: output, JSON and exit codes.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ReferenceModel} from './support/reference-model.js'

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Runs a command class from src/commands in a child process (through tsx, no build), as bin/run.js would. */
function runCommand(command: string, args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  const program =
    `const {handle} = await import('@oclif/core'); const {default: Command} = await import('./src/commands/${command}.ts');` +
    ` await Command.run(${JSON.stringify(args)}, import.meta.url).catch(handle)`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {cwd: REPO_ROOT})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
}

describe('pagedllm generate', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('--json gives the greedy tokens of the float64 reference for each prompt', async () => {
    const result = await runCommand('generate', ['--model', modelDir, '--json', '--max-tokens', '6', '--threads', '1', 'hello world', 'the sea'])
    assert.equal(result.code, 0, result.stderr)
    const outputs = JSON.parse(result.stdout)
    assert.equal(outputs.length, 2)
    const reference = await ReferenceModel.load(modelDir)
    for (const output of outputs) {
      assert.deepEqual(output.outputs[0].token_ids, reference.greedy(output.prompt_token_ids, 6))
      assert.equal(output.outputs[0].finish_reason, 'length')
    }
  })

  it('--n 3 returns three samples of one prompt', async () => {
    const result = await runCommand('generate', ['--model', modelDir, '--json', '--n', '3', '--temperature', '1', '--max-tokens', '4', 'hello'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout)[0].outputs.map((o: {index: number}) => o.index), [0, 1, 2])
  })

  it('streams text and reports the token rate', async () => {
    const result = await runCommand('generate', ['--model', modelDir, '--max-tokens', '5', 'hello'])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(result.stdout.startsWith('hello'))
    assert.match(result.stderr, /kv cache: \d+ blocks x 16 tokens/)
    assert.match(result.stderr, /\[5 tokens in [\d.]+ s/)
  })

  it('without --model says how to get one, exit code 2', async () => {
    const result = await runCommand('generate', ['hello'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /make-test-model/)
  })

  it('a prompt longer than the context is a clear error, exit code 2', async () => {
    const result = await runCommand('generate', ['--model', modelDir, '--max-model-len', '8', '--max-tokens', '4', 'a b c d e f g h i j k l'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /maximum context length is 8 tokens/)
  })

  it('--logit-bias forces a token and rejects a malformed map (exit code 2)', async () => {
    const forced = await runCommand('generate', ['--model', modelDir, '--json', '--threads', '1', '--max-tokens', '3', '--logit-bias', '{"77": 100}', 'hello'])
    assert.equal(forced.code, 0, forced.stderr)
    assert.deepEqual(JSON.parse(forced.stdout)[0].outputs[0].token_ids, [77, 77, 77])
    const bad = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--logit-bias', '{"77": 101}', 'hello'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /logit_bias values must be numbers in \[-100, 100\], got 101/)
  })

  it('a KV pool smaller than the context: an explicit --max-model-len is refused, the model default lowered with a note', async () => {
    const refused = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--num-blocks', '8', '--max-model-len', '512', 'hi'])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr.replace(/\s*›\s*/g, ' '), /--max-model-len 512 does not fit the KV cache: the KV cache holds 8 blocks x 16 tokens = 128 tokens/)
    const lowered = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--num-blocks', '8', '--max-tokens', '2', 'hi'])
    assert.equal(lowered.code, 0, lowered.stderr)
    assert.match(lowered.stderr, /context 128\)/)
    assert.match(lowered.stderr, /note: max-model-len lowered from the model's 512 to 128/)
  })
})

describe('pagedllm bench', () => {
  it('runs two policies on a short trace and records identical outputs in --json', async () => {
    const modelDir = await ensureTestModel('tiny')
    const json = join(mkdtempSync(join(tmpdir(), 'pagedllm-bench-')), 'results.json')
    const result = await runCommand('bench/index', [
      '--model', modelDir, '--trace', 'alpaca', '--num-prompts', '4', '--policies', 'paged,orca-max', '--max-model-len', '512', '--num-blocks', '64', '--json', json,
    ])
    assert.equal(result.code, 0, result.stderr)
    const results = JSON.parse(readFileSync(json, 'utf8'))
    assert.deepEqual(results.runs.map((run: {policy: string}) => run.policy), ['paged', 'orca-max'])
    assert.equal(results.engineOutputs.identical, true)
    assert.match(result.stdout, /orca-max/)
  })
})
