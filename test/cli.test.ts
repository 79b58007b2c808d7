// The generate and bench commands through oclif, as a user runs them: output, JSON, the built-in model, errors and exit codes.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {before, describe, it} from 'node:test'
import {unknownCommandMessage} from '../src/cli/unknown-command.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ReferenceModel} from './support/reference-model.js'
import {runCommand} from './support/run-command.js'
import {tinychatReference} from './support/tinychat.js'


// {concurrency: 2}: each case spawns its own commands and shares nothing with the others, so two run at once.
describe('pagedllm generate', {concurrency: 2}, () => {
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

  it('--no-async-scheduling gives the same greedy tokens', async () => {
    const args = ['--model', modelDir, '--json', '--max-tokens', '12', '--threads', '1', 'hello world', 'the sea']
    const [ahead, between] = await Promise.all([runCommand('generate', args), runCommand('generate', [...args, '--no-async-scheduling'])])
    assert.equal(between.code, 0, between.stderr)
    const tokens = (stdout: string) => JSON.parse(stdout).map((output: {outputs: Array<{token_ids: number[]}>}) => output.outputs[0]!.token_ids)
    assert.deepEqual(tokens(between.stdout), tokens(ahead.stdout))
  })

  it('--speculative-method ngram: the same greedy tokens, with proposed / accepted counts in --json', async () => {
    const prompt = 'the cat sat on the mat and the cat sat on the mat and the cat sat on the'
    const base = ['--model', modelDir, '--json', '--max-tokens', '24', '--threads', '1', prompt]
    const [plain, spec] = await Promise.all([runCommand('generate', base), runCommand('generate', [...base, '--speculative-method', 'ngram', '--num-speculative-tokens', '3'])])
    assert.equal(spec.code, 0, spec.stderr)
    const [plainOut, specOut] = [JSON.parse(plain.stdout)[0], JSON.parse(spec.stdout)[0]]
    assert.deepEqual(specOut.outputs[0].token_ids, plainOut.outputs[0].token_ids)
    const counts = specOut.metrics.spec_decode
    assert.ok(counts.proposed > 0 && counts.accepted <= counts.proposed, JSON.stringify(counts))
    assert.equal(counts.acceptance_rate, counts.accepted / counts.proposed)
    assert.equal(plainOut.metrics.spec_decode, undefined)
  })

  it('--speculative-method draft (the target quantized to q8_0 as its own draft): the same greedy tokens, counts in --json', async () => {
    const base = ['--model', modelDir, '--json', '--max-tokens', '16', '--threads', '1', 'the cat sat on the mat']
    const [plain, spec] = await Promise.all([
      runCommand('generate', base),
      runCommand('generate', [...base, '--speculative-config', '{"method":"draft","quantization":"q8_0","num_speculative_tokens":3}']),
    ])
    assert.equal(spec.code, 0, spec.stderr)
    const [plainOut, specOut] = [JSON.parse(plain.stdout)[0], JSON.parse(spec.stdout)[0]]
    assert.deepEqual(specOut.outputs[0].token_ids, plainOut.outputs[0].token_ids)
    const counts = specOut.metrics.spec_decode
    assert.ok(counts.proposed > 0 && counts.accepted > 0, JSON.stringify(counts))
  })

  it('speculative flags without a method, and the draft method without a draft, are refused by name', async () => {
    const stray = await runCommand('generate', ['--num-speculative-tokens', '3', 'hi'])
    assert.equal(stray.code, 2)
    assert.match(stray.stderr, /--num-speculative-tokens needs --speculative-method/)
    const draft = await runCommand('generate', ['--speculative-method', 'draft', 'hi'])
    assert.match(draft.stderr, /--speculative-method draft needs --speculative-model DIR/)
    const json = await runCommand('generate', ['--speculative-config', '{"method":"ngram","prompt_lookup_min":5,"prompt_lookup_max":2}', 'hi'])
    assert.match(json.stderr, /--ngram-min 5 exceeds --ngram-max 2/)
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

  it('without --model runs the built-in tinychat and reproduces its reference greedy ids (text and --chat)', async () => {
    const reference = tinychatReference().prompts
    const text = reference.find((p) => p.kind === 'text' && p.prompt!.startsWith('Here is a simple recipe'))!
    const chat = reference.find((p) => p.kind === 'chat' && p.messages!.length === 2)!
    const [system, user] = chat.messages!
    for (const [args, expected] of [
      [[text.prompt!], text],
      [['--chat', '--system', system!.content, user!.content], chat],
    ] as const) {
      const result = await runCommand('generate', ['--json', '--max-tokens', '32', '--threads', '1', '--num-blocks', '64', ...args])
      assert.equal(result.code, 0, result.stderr)
      const [output] = JSON.parse(result.stdout)
      assert.deepEqual(output.prompt_token_ids, expected.prompt_token_ids)
      assert.deepEqual(output.outputs[0].token_ids, expected.greedy_token_ids)
      // One line says what the model is and how to use a real one.
      assert.equal(result.stderr.match(/built-in tinychat demo model \(6M parameters.*--model ORG\/NAME/g)?.length, 1, result.stderr)
    }
  })

  it('a model given with --model is used without the built-in notice', async () => {
    const result = await runCommand('generate', ['--model', modelDir, '--max-tokens', '2', 'hello'])
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /built-in/)
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
    // Past +-100 a bias is clamped, as the server does (vLLM); a key that is no token id is refused, naming the flag.
    const bad = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--logit-bias', '{"77": 101, "x": 1}', 'hello'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--logit-bias keys must be token ids \(non-negative integers\), got 'x'/)
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
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-bench-'))
    try {
      const json = join(dir, 'results.json')
      const result = await runCommand('bench/index', [
        '--model', modelDir, '--trace', 'alpaca', '--num-prompts', '4', '--policies', 'paged,orca-max', '--max-model-len', '512', '--num-blocks', '64', '--json', json,
      ])
      assert.equal(result.code, 0, result.stderr)
      const results = JSON.parse(readFileSync(json, 'utf8'))
      assert.deepEqual(results.runs.map((run: {policy: string}) => run.policy), ['paged', 'orca-max'])
      assert.equal(results.engineOutputs.identical, true)
      assert.match(result.stdout, /orca-max/)
      // The lengths run, for tools that replay the same requests (scripts/gpu/hf-generate.py).
      const requests = results.workload.requests as {prompt_len: number; output_len: number}[]
      assert.equal(requests.length, 4)
      assert.ok(requests.every((r) => Number.isInteger(r.prompt_len) && r.prompt_len > 0 && Number.isInteger(r.output_len) && r.output_len > 0))
      assert.equal(requests.reduce((sum, r) => sum + r.prompt_len, 0) / 4, results.workload.stats.prompt.mean)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('command-line errors: the message and one usage line, exit code 2', {concurrency: 2}, () => {
  const usage = 'Usage: pagedllm generate PROMPT... [FLAGS]   (all flags: pagedllm generate --help)'
  /** The whole stderr: no stack, no flag list. */
  const expectUsageError = (result: {code: number | null; stderr: string}, error: string) => {
    assert.equal(result.code, 2, result.stderr)
    assert.equal(result.stderr, `Error: ${error}\n${usage}\n`)
  }

  it('a number flag that is not a number names the flag and the value', async () => {
    expectUsageError(await runCommand('generate', ['--temperature', 'abc', 'hi']), '--temperature: "abc" is not a number')
    expectUsageError(await runCommand('generate', ['--top-p', '', 'hi']), '--top-p: "" is not a number')
    const bench = await runCommand('bench/index', ['--step-cost-ms', '1x'])
    assert.equal(bench.code, 2)
    assert.match(bench.stderr, /^Error: --step-cost-ms: "1x" is not a number\nUsage: pagedllm bench \[FLAGS\]/)
  })

  it('an integer flag that is not an integer names the flag and the value', async () => {
    expectUsageError(await runCommand('generate', ['--max-tokens', 'lots', 'hi']), '--max-tokens: Expected an integer but received: lots')
  })

  it('an unknown flag and a missing prompt', async () => {
    expectUsageError(await runCommand('generate', ['--bogus', 'hi']), 'Nonexistent flag: --bogus')
    // No argument reads stdin: an empty one is still a missing prompt (an open, silent one waits 2 s for it).
    const missing = await runCommand('generate', [], {stdin: ''})
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /^Error: Missing 1 required arg: prompt/)
    assert.ok(missing.stderr.endsWith(`\n${usage}\n`))
    assert.equal(missing.stderr.split('\n').length, 3, missing.stderr)
  })

  it('an out-of-range value is reported by what checks it, without the usage line', async () => {
    const result = await runCommand('generate', ['--temperature', '-1', 'hi'])
    assert.equal(result.code, 2)
    assert.equal(result.stderr, 'Error: --temperature must be in [0, 100], got -1\n')
  })
})

describe('pagedllm make-test-model --gguf', () => {
  it('writes a GGUF file beside the checkpoint that generate loads and runs to the same greedy tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-gguf-'))
    try {
      const made = await runCommand('make-test-model', ['--preset', 'tiny', '--out', dir, '--gguf', 'f32'])
      assert.equal(made.code, 0, made.stderr)
      assert.match(made.stdout, /GGUF \(f32\): .*model-f32\.gguf/)
      const args = ['--max-tokens', '6', '--ignore-eos', '--json', 'Hello there']
      const fromCheckpoint = await runCommand('generate', ['--model', dir, ...args])
      const fromGguf = await runCommand('generate', ['--model', join(dir, 'model-f32.gguf'), ...args])
      assert.equal(fromGguf.code, 0, fromGguf.stderr)
      const ids = (stdout: string) => (JSON.parse(stdout) as {outputs: {token_ids: number[]}[]}[])[0]!.outputs[0]!.token_ids
      assert.deepEqual(ids(fromGguf.stdout), ids(fromCheckpoint.stdout))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a variant no GGUF file can say (an architecture it lacks, yarn) is refused in one line, exit 2, before anything is written', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pagedllm-gguf-')), 'out')
    try {
      for (const [variant, why] of [['gpt2', /not GPT2LMHeadModel$/], ['yarn', /does not write yarn rope scaling$/]] as const) {
        const made = await runCommand('make-test-model', ['--preset', 'tiny', '--variant', variant, '--out', dir, '--gguf', 'f32'])
        assert.equal(made.code, 2, made.stderr)
        assert.match(made.stderr, new RegExp(`^Error: --gguf cannot write --variant ${variant}: `))
        assert.match(made.stderr.trimEnd(), why)
        assert.equal(made.stderr.trimEnd().split('\n').length, 1, made.stderr)
        assert.equal(existsSync(dir), false, 'no checkpoint (nor its folder) written')
      }
    } finally {
      rmSync(dirname(dir), {recursive: true, force: true})
    }
  })
})

describe('help as vLLM and llama.cpp users ask for it (bin/run.js, as installed)', () => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const run = (args: string[]) => {
    const result = spawnSync(process.execPath, ['bin/run.js', ...args], {cwd: root, encoding: 'utf8'})
    return {code: result.status, stdout: result.stdout, stderr: result.stderr}
  }

  it('-h is --help; `pagedllm help COMMAND` is COMMAND --help; a name that is no command is one error line', () => {
    assert.ok(existsSync(join(root, 'dist/commands/help.js')), 'dist/ is not built: run npm run build:ts')
    const generateHelp = run(['generate', '--help'])
    assert.equal(generateHelp.code, 0, generateHelp.stderr)
    assert.match(generateHelp.stdout, /^Generate text for one or more prompts/)
    for (const args of [['generate', '-h'], ['help', 'generate']]) assert.deepEqual(run(args), generateHelp, args.join(' '))
    assert.deepEqual(run(['help', 'bench', 'kernels']), run(['bench', 'kernels', '--help']))
    assert.deepEqual(run(['-h']), run(['--help']))
    const unknown = run(['help', 'nosuch'])
    assert.deepEqual([unknown.code, unknown.stdout, unknown.stderr], [2, '', 'Error: nosuch is not a pagedllm command (pagedllm --help lists them)\n'])
  })

  it('a mistyped command is one error line naming what was typed (not the prompt after it), with the command meant', () => {
    const typo = run(['gen', 'hello world'])
    assert.deepEqual([typo.code, typo.stdout, typo.stderr], [2, '', 'Error: gen is not a pagedllm command; did you mean generate? (pagedllm --help lists them)\n'])
    assert.equal(run(['bench', 'kernel']).stderr, 'Error: bench kernel is not a pagedllm command; did you mean bench kernels? (pagedllm --help lists them)\n')
  })

  it('names the command meant only when one is close (a prefix, or two edits)', () => {
    const commands = ['generate', 'serve', 'compare', 'bench', 'bench:kernels', 'models', 'models:list', 'models:rm', 'make-test-model']
    const hint = (id: string) => /did you mean (.*)\?/.exec(unknownCommandMessage(id, commands))?.[1] ?? null
    assert.deepEqual(['gen:hi', 'genrate', 'serv', 'compar', 'bench:kernel', 'models:rm2', 'models:ls', 'xyz', 'm'].map(hint), ['generate', 'generate', 'serve', 'compare', 'bench kernels', 'models rm', null, null, null])
    assert.equal(unknownCommandMessage('gen:hi:there', commands), 'gen is not a pagedllm command; did you mean generate? (pagedllm --help lists them)')
  })
})
