// Hostile and unusual command lines: each mistake is one "Error:" line (plus the usage line for a bad command line) and a non-zero exit.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {runCommand, spawnCommand, spawnCommandBehindPipe} from './support/run-command.js'

const GENERATE_USAGE = 'Usage: pagedllm generate PROMPT... [FLAGS]   (all flags: pagedllm generate --help)'

/** The whole stderr is the message and the usage line: no stack, no oclif "›" wrapping. */
function assertUsageError(result: {code: number | null; stderr: string}, error: string, usage = GENERATE_USAGE): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stderr, `Error: ${error}\n${usage}\n`)
}

// {concurrency: 2}: each case spawns its own commands and shares nothing with the others, so two run at once.
describe("oclif's own parse errors read like ours", {concurrency: 2}, () => {
  it('an empty flag value is refused, never read as "not given" (--model \'\' is not the built-in model)', async () => {
    assertUsageError(await runCommand('generate', ['--model', '', 'hi']), '--model cannot be empty')
    assertUsageError(await runCommand('generate', ['--stop', 'x', '--stop', '', 'hi']), '--stop cannot be empty')
    assertUsageError(await runCommand('serve', ['--host', '']), '--host cannot be empty', 'Usage: pagedllm serve [MODEL] [FLAGS]   (all flags: pagedllm serve --help)')
  })

  it('--json-schema naming a directory is refused, not a crash', async () => {
    const result = await runCommand('generate', ['--json-schema', tmpdir(), 'hi'])
    assert.equal(result.code, 2)
    assert.equal(result.stderr, `Error: --json-schema: cannot read ${tmpdir()}: EISDIR: illegal operation on a directory, read\n`)
  })

  it('a flag given twice, a flag without its value, two exclusive flags', async () => {
    assertUsageError(await runCommand('generate', ['--max-tokens', '2', '--max-tokens', '3', 'hi']), '--max-tokens can only be specified once')
    assertUsageError(await runCommand('generate', ['hi', '--max-tokens']), '--max-tokens expects a value')
    assertUsageError(await runCommand('generate', ['hi', '--device']), '--device expects one of these values: auto, cpu, cuda')
    assertUsageError(await runCommand('generate', ['--json-schema', '{}', '--regex', 'a', 'hi']), '--json-schema={} cannot also be provided when using --regex')
  })

  it("a command's own refusal is one unwrapped line", async () => {
    const result = await runCommand('models/rm', ['not-a-model-id'])
    assert.equal(result.code, 2)
    assert.equal(result.stderr, 'Error: not-a-model-id is not a model id of the form ORG/NAME (revisions cannot be removed one by one).\n')
    const kernels = await runCommand('bench/kernels', ['--heads', '3'])
    assert.equal(kernels.code, 2)
    assert.equal(kernels.stderr, 'Error: --hidden-size must be a multiple of --heads, and --heads a multiple of --kv-heads\n')
  })
})

describe('generate: repeatable flags before the prompt', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('--stop and --choice take one value each, so the prompt after them stays the prompt', async () => {
    const stopped = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--json', '--max-tokens', '3', '--stop', 'zzz', '--stop', 'yyy', 'hi'])
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.deepEqual(JSON.parse(stopped.stdout).map((output: {prompt: string}) => output.prompt), ['hi'])
    const chosen = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--json', '--choice', 'yes', '--choice', 'no', 'hi'])
    assert.equal(chosen.code, 0, chosen.stderr)
    const [output] = JSON.parse(chosen.stdout)
    assert.equal(output.prompt, 'hi')
    assert.ok(['yes', 'no'].includes(output.outputs[0].text), output.outputs[0].text)
  })

  it("vLLM's --dtype names (half, bfloat16, float) load the weights in our format of that name", async () => {
    const runs = await Promise.all(['half', 'bfloat16', 'float'].map((dtype) =>
      runCommand('generate', ['--model', modelDir, '--threads', '1', '--max-tokens', '1', '--dtype', dtype, 'hi'])))
    runs.forEach((run) => assert.equal(run.code, 0, run.stderr))
    assert.deepEqual(runs.map((run) => /weights [\d.]+ MiB (\w+)/.exec(run.stderr)?.[1]), ['f16', 'bf16', 'f32'])
  })
})

describe('generate: the prompt from stdin', () => {
  it('no PROMPT argument reads stdin to its end as one prompt; empty stdin is a missing prompt', async () => {
    const modelDir = await ensureTestModel('tiny')
    const args = ['--model', modelDir, '--threads', '1', '--json', '--max-tokens', '1']
    const [piped, empty] = await Promise.all([runCommand('generate', args, {stdin: 'line one\nline two\n'}), runCommand('generate', args, {stdin: ''})])
    assert.equal(piped.code, 0, piped.stderr)
    assert.deepEqual(JSON.parse(piped.stdout).map((output: {prompt: string}) => output.prompt), ['line one\nline two'])
    assertUsageError(empty, 'Missing 1 required arg: prompt (and stdin is empty)')
  })

  it('a shell pipe whose producer is slow (`python make_prompt.py | pagedllm generate`) is waited on, with a note, not refused after 2 s', async () => {
    const modelDir = await ensureTestModel('tiny')
    const child = spawnCommandBehindPipe('generate', ['--model', modelDir, '--threads', '1', '--json', '--max-tokens', '1'])
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk) => (stdout += chunk))
    // The prompt is sent only once the command says it is waiting: it was silent past the old 2 s limit.
    child.stderr!.on('data', (chunk) => {
      stderr += chunk
      if (stderr.includes('waiting for the prompt on stdin')) child.stdin!.end('slow prompt\n')
      // Refused instead: end the pipe too, so `cat` (and the shell) exit and the failure shows.
      if (stderr.includes('Error:')) child.stdin!.end()
    })
    const code = await new Promise((resolve) => child.on('close', resolve))
    assert.equal(code, 0, stderr)
    assert.match(stderr, /^waiting for the prompt on stdin \(no PROMPT argument given\)\.\.\.$/m)
    assert.deepEqual(JSON.parse(stdout).map((output: {prompt: string}) => output.prompt), ['slow prompt'])
  })
})

describe('generate: flags the run would ignore or contradict are refused by name (before the model loads)', {concurrency: 2}, () => {
  const refusals: [string[], string][] = [
    [['--beam-width', '4', '--temperature', '1'], '--temperature cannot be used with --beam-width: beam search keeps the most likely beams and samples nothing'],
    [['--beam-width', '4', '--top-p', '0.5'], '--top-p cannot be used with --beam-width: beam search keeps the most likely beams and samples nothing'],
    [['--beam-width', '4', '--best-of', '6'], '--best-of cannot be used with --beam-width: the beam width is the number of candidates'],
    [['--beam-width', '4', '--n', '8'], '--n 8 exceeds --beam-width 4: beam search returns at most its beams'],
    [['--length-penalty', '2'], '--length-penalty scores beams: it needs --beam-width'],
    [['--best-of', '3'], '--best-of 3 picks the best of several samples, but with --temperature 0 every sample is the same greedy text: set --temperature'],
    [['--system', 'be brief'], '--system is a chat message: it needs --chat'],
    [['--logprobs', '3'], '--logprobs are printed in the --json output only: add --json'],
    [['--early-stopping', 'never'], '--early-stopping ends a beam search: it needs --beam-width'],
    // The server's checks, in the flags' names.
    [['--presence-penalty', '3'], '--presence-penalty must be in [-2, 2], got 3'],
    [['--min-tokens', '9', '--max-tokens', '4'], '--min-tokens must be an integer in [0, --max-tokens], got 9'],
  ]
  for (const [flags, message] of refusals)
    it(flags.join(' '), async () => {
      const result = await runCommand('generate', [...flags, '--model', '/nonexistent-model-dir', 'hi'])
      assert.equal(result.code, 2, result.stderr)
      assert.equal(result.stderr, `Error: ${message}\n`)
    })
})

describe('numbers and sizes: exact decimals, nothing past what the machine or node timers can hold', {concurrency: 2}, () => {
  it('a decimal flag refuses hex and padded numbers, which Number() would read', async () => {
    assertUsageError(await runCommand('generate', ['--temperature', '0x10', 'hi']), '--temperature: "0x10" is not a number')
    assertUsageError(await runCommand('generate', ['--top-p', ' 1', 'hi']), '--top-p: " 1" is not a number')
  })

  it('a seed past 2^53 (which oclif rounded: two seeds typed apart ran alike) and a test-model seed past 32 bits are refused', async () => {
    const [past, generator] = await Promise.all([
      runCommand('generate', ['--seed', '9007199254740993', 'hi']),
      runCommand('make-test-model', ['--seed', '4294967296']),
    ])
    assertUsageError(past, '--seed: "9007199254740993" is not an integer from -9007199254740991 to 9007199254740991')
    assert.equal(generator.code, 2)
    assert.match(generator.stderr, /^Error: --seed: Expected an integer less than or equal to 4294967295 but received: 4294967296\nUsage: pagedllm /)
  })

  it('--threads past 1024 is refused at parse time (100000 threads hung the load)', async () => {
    assertUsageError(await runCommand('generate', ['--threads', '100000', 'hi']), '--threads: Expected an integer less than or equal to 1024 but received: 100000')
  })

  it('--dtype beside --quantization (the quantized format is the weight format: the dtype did nothing); a missing draft model names its flag', async () => {
    const modelDir = await ensureTestModel('tiny')
    const [dtype, draft] = await Promise.all([
      runCommand('generate', ['--model', modelDir, '--quantization', 'q8_0', '--dtype', 'bf16', 'hi']),
      runCommand('generate', ['--model', modelDir, '--threads', '1', '--speculative-method', 'draft', '--speculative-model', '/nonexistent-draft', 'hi']),
    ])
    assert.equal(dtype.code, 2)
    assert.equal(dtype.stderr, 'Error: --dtype bf16 cannot be used with --quantization q8_0: the weights are stored as q8_0\n')
    assert.equal(draft.code, 3)
    assert.equal(draft.stderr, 'Error: --speculative-model /nonexistent-draft: Model directory /nonexistent-draft does not exist.\n')
  })

  it('a byte size past 2^53 is refused by name, not passed on as an inexact block count', async () => {
    const modelDir = await ensureTestModel('tiny')
    const result = await runCommand('generate', ['--model', modelDir, '--kv-memory', '99999999999999999999999', 'hi'])
    assert.equal(result.code, 2)
    assert.equal(result.stderr, 'Error: --kv-memory: 99999999999999999999999 is more bytes than any machine has\n')
  })

  it('serve: timeouts past 2^31 ms (which node fires at once), 100000 tokenizer threads and a zero body size are refused before the port is taken', async () => {
    const serveUsage = 'Usage: pagedllm serve [MODEL] [FLAGS]   (all flags: pagedllm serve --help)'
    // Without the checks the server would start, then fail on the model: never left running.
    const noModel = ['--port', '0', '--model', '/nonexistent-model-dir']
    assertUsageError(await runCommand('serve', ['--shutdown-grace', '2147484', ...noModel]), '--shutdown-grace: Expected an integer less than or equal to 2147483 but received: 2147484', serveUsage)
    assertUsageError(await runCommand('serve', ['--slow-client-timeout', '99999999999', ...noModel]), '--slow-client-timeout: Expected an integer less than or equal to 2147483 but received: 99999999999', serveUsage)
    assertUsageError(await runCommand('serve', ['--tokenizer-threads', '100000', ...noModel]), '--tokenizer-threads: Expected an integer less than or equal to 64 but received: 100000', serveUsage)
    const body = await runCommand('serve', ['--max-body-size', '0', ...noModel])
    assert.equal(body.code, 2)
    assert.equal(body.stderr, 'Error: --max-body-size must be at least 1 byte, got 0\n')
  })
})

describe('bench kernels: shapes are checked before anything is allocated or measured', {concurrency: 2}, () => {
  const tiny = ['--hidden-size', '32', '--heads', '2', '--kv-heads', '1', '--intermediate-size', '32', '--vocab', '16', '--layers', '1', '--batch', '2', '--prefill-tokens', '4', '--context-len', '8', '--time-ms', '10']
  const refusals: [string[], RegExp][] = [
    [['--vocab', '2000000000'], /^Error: these shapes need about \d+\.\d GiB \(one array of 1024000000000 floats\), more than half of this machine's [\d.]+ GiB: lower the sizes, --batch, --prefill-tokens or --context-len\n$/],
    [['--context-len', '100000000'], /^Error: these shapes need about \d+\.\d GiB .*lower the sizes/],
    [[...tiny, '--weight-format', 'q4_k'], /^Error: --weight-format q4_k stores rows in blocks of 256 values: --hidden-size and --intermediate-size must be multiples of 256\n$/],
    [[...tiny, '--only', 'no_such_kernel'], /^ {2}building weights\nError: --only no_such_kernel matches no kernel; kernels: linear .*paged_attention, rms_norm, silu_and_mul, rotary \(q\)\n$/],
  ]
  for (const [flags, message] of refusals)
    it(flags.slice(-2).join(' '), async () => {
      const result = await runCommand('bench/kernels', flags)
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, message)
    })
})

describe('flags that would do nothing in this run are refused by name', {concurrency: 2}, () => {
  const noModel = ['--model', '/nonexistent-model-dir']
  it('--revision without a hub id', async () => {
    const modelDir = await ensureTestModel('tiny')
    for (const command of ['generate', 'bench/index']) {
      const result = await runCommand(command, ['--model', modelDir, '--revision', 'main', ...(command === 'generate' ? ['hi'] : [])])
      assert.equal(result.code, 2, result.stderr)
      assert.equal(result.stderr, `Error: --revision needs a hub model id (--model ORG/NAME); ${modelDir} is a local path\n`)
    }
  })

  it("the synthetic trace's flags with another workload, --range-ratio with another spread", async () => {
    const cases: [string, string[], string][] = [
      ['bench/index', ['--input-len', '64'], '--input-len shapes the synthetic trace: it needs --trace synthetic'],
      ['compare', ['--trace', 'synthetic', '--dataset', '/x.json', '--spread', 'fixed'], '--spread shapes the synthetic trace: it needs --trace synthetic and no --dataset'],
      ['bench/index', ['--trace', 'synthetic', '--spread', 'exponential', '--range-ratio', '0.2'], '--range-ratio sets the width of --spread uniform, not exponential'],
    ]
    for (const [command, flags, message] of cases) {
      const result = await runCommand(command, [...flags, ...noModel])
      assert.equal(result.code, 2, result.stderr)
      assert.equal(result.stderr, `Error: ${message}\n`)
    }
  })

  it('--num-prompts past 100000 is refused at parse time (1e8 synthetic requests exhausted memory)', async () => {
    const result = await runCommand('bench/index', ['--trace', 'synthetic', '--num-prompts', '100000000', ...noModel])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^Error: --num-prompts: Expected an integer less than or equal to 100000 but received: 100000000\n/)
  })

  it('compare has no --request-rate (it always sweeps --request-rates)', async () => {
    const result = await runCommand('compare', ['--request-rate', '2', ...noModel])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^Error: Nonexistent flag: --request-rate\nUsage: pagedllm compare \[FLAGS\]/)
  })
})

describe('bench and compare: the runs asked for', {concurrency: 2}, () => {
  it('output paths that cannot be written (and a cache folder that is a file) are refused before the run, not after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-outputs-'))
    try {
      const file = join(dir, 'a-file')
      writeFileSync(file, '')
      const noModel = ['--model', '/nonexistent-model-dir']
      const cases: [string, string[], string][] = [
        ['bench/index', ['--plots', file], `--plots ${file}: is a file (or below one), not a directory`],
        ['bench/index', ['--json', dir], `--json ${dir}: is a directory; give a file name`],
        ['compare', ['--out', join(file, 'sub')], `--out ${join(file, 'sub')}: is a file (or below one), not a directory`],
        ['make-test-model', ['--out', file], `--out ${file}: is a file (or below one), not a directory`],
        ['models/list', ['--cache-dir', file], `--cache-dir ${file} is a file, not a Hugging Face cache folder`],
        ['models/rm', ['acme/model', '--cache-dir', file], `--cache-dir ${file} is a file, not a Hugging Face cache folder`],
      ]
      for (const [command, flags, message] of cases) {
        const result = await runCommand(command, [...flags, ...(command.startsWith('bench') || command === 'compare' ? noModel : [])])
        assert.equal(result.code, 2, result.stderr)
        assert.equal(result.stderr, `Error: ${message}\n`)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })


  it('--trace: a name that is no built-in trace nor a file, and a bad trace file, are refused before any model loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagedllm-trace-'))
    try {
      const file = join(dir, 'mine.jsonl')
      writeFileSync(file, '{"prompt_len": 12, "output_len": -1}\n')
      // A binary file's line, quoted in the message, keeps its control characters out of the terminal (\r, ESC, BEL); a tab is left.
      const binary = join(dir, 'binary.jsonl')
      writeFileSync(binary, Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x0d, 0x7f, 0x00, 0x09, 0x41, 0x0a]))
      const [unknown, malformed, binaryLine] = await Promise.all([
        runCommand('bench/index', ['--trace', 'shargpt', '--model', '/nonexistent-model-dir']),
        runCommand('compare', ['--trace', file, '--model', '/nonexistent-model-dir']),
        runCommand('bench/index', ['--trace', binary, '--model', '/nonexistent-model-dir']),
      ])
      assert.equal(binaryLine.code, 2, binaryLine.stderr)
      assert.equal(binaryLine.stderr, `Error: --trace ${binary} line 1: expected {"prompt_len": N, "output_len": N} with whole numbers N >= 1, got \\x1b[2J\\x07\\x0d\\x7f\\x00\tA\n`)
      assert.equal(unknown.code, 2, unknown.stderr)
      assert.equal(unknown.stderr, 'Error: --trace shargpt: not a built-in trace (sharegpt, alpaca, synthetic) nor a trace file (JSONL of {"prompt_len", "output_len"})\n')
      assert.equal(malformed.code, 2, malformed.stderr)
      assert.equal(malformed.stderr, `Error: --trace ${file} line 1: expected {"prompt_len": N, "output_len": N} with whole numbers N >= 1, got {"prompt_len": 12, "output_len": -1}\n`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a policy given twice is refused before any model loads', async () => {
    for (const command of ['bench/index', 'compare']) {
      const result = await runCommand(command, ['--policies', 'paged,orca-max,paged', '--model', '/nonexistent-model-dir'])
      assert.equal(result.code, 2, result.stderr)
      assert.equal(result.stderr, 'Error: --policies: paged is given twice\n')
    }
  })
})

describe('Ctrl-C', () => {
  it('generate: SIGINT while streaming ends the line, says how far it got and exits 130', async () => {
    // The built-in model: its 2048-token context at tens of tokens/s outlasts the interrupt by far.
    const child = spawnCommand('generate', ['--threads', '1', '--max-tokens', '2000', '--num-blocks', '128', '--ignore-eos', 'hi'])
    let stdout = ''
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise<{code: number | null; signal: string | null}>((resolve) => child.on('close', (code, signal) => resolve({code, signal})))
    // Interrupt once tokens are streaming (or report how it ended before).
    await Promise.race([
      new Promise<void>((resolve) => child.stdout!.on('data', (chunk) => (stdout += chunk).length > 'hi'.length + 8 && resolve())),
      exited.then(() => assert.fail(`generate ended before the interrupt:\n${stderr}`)),
    ])
    child.kill('SIGINT')
    const {code, signal} = await exited
    assert.deepEqual({code, signal}, {code: 130, signal: null}, stderr)
    assert.match(stderr, /\nInterrupted: \d+ tokens generated \(the text above\)\n$/)
  })
})
