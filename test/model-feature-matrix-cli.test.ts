// The generate and bench commands on every kind of model (SPM and byte-level BPE, HF and GGUF, quantized): chat,
// n, stop, logprobs, beam search, a constraint flag, n-gram speculation; draft models and their vocabulary check; bench.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {ensureDraftModel} from './support/draft-model.js'
import {schemaErrors} from './support/guided-check.js'
import {type ModelKind, prepareModelKinds} from './support/model-kinds.js'
import {runCommand} from './support/run-command.js'

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-matrix-cli-'))
after(() => rmSync(scratch, {recursive: true, force: true}))
const kinds = await prepareModelKinds(scratch)

const PROMPT = 'The quick brown fox jumps over the lazy dog. What is the capital of France? é 世界 🙂 1 2 3 10 42 100'

interface Output {
  text: string
  token_ids: number[]
  cumulative_logprob: number
  finish_reason: string
  stop_reason: string | number | null
  logprobs: Record<string, number>[] | null
}

/** `generate --json` on the kind's model; the one prompt's result. */
async function generate(kind: ModelKind, args: string[]): Promise<{prompt_token_ids: number[]; outputs: Output[]; metrics: {spec_decode?: {proposed: number}}}> {
  const result = await runCommand('generate', ['--model', kind.path, ...kind.flags, '--json', '--threads', '1', ...args, PROMPT])
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout)[0]
}

/** The constraint flag each kind is run with, in turn (the serving matrix runs JSON schemas on every kind). */
const CONSTRAINTS = ['choice', 'regex', 'json-schema'] as const
const CHOICES = ['é世 🙂', '<|im_end|>', 'no']
const SCHEMA = {type: 'object', properties: {city: {enum: ['Paris', 'Rome']}, sunny: {type: 'boolean'}}, required: ['city', 'sunny'], additionalProperties: false}
const CONSTRAINT_FLAGS = {
  choice: ['--n', '3', ...CHOICES.flatMap((text) => ['--choice', text])],
  regex: ['--regex', '[a-z]{2} [0-9]{2}'],
  'json-schema': ['--json-schema', JSON.stringify(SCHEMA)],
}

function describeKind(kind: ModelKind, constraint: (typeof CONSTRAINTS)[number]): void {
  // {concurrency: 2}: each case spawns its own commands and shares nothing with the others, so two run at once.
  describe(`generate on ${kind.name}`, {concurrency: 2}, () => {
    const tokenizer = Tokenizer.load(kind.path)
    /** What the ids add to the text after the prompt (a SentencePiece decode alone drops a leading space). */
    const textOf = (prompt: number[], ids: number[]) => {
      const context = prompt.slice(-5)
      return tokenizer.decode([...context, ...ids], {skipSpecialTokens: true, cleanUpSpaces: false}).slice(tokenizer.decode(context, {skipSpecialTokens: true, cleanUpSpaces: false}).length)
    }

    it('--chat --n 2 --logprobs 2: the template, two samples with logprobs; the same tokens with n-gram speculation, cut by --stop', async () => {
      const sampled = ['--chat', '--n', '2', '--logprobs', '2', '--seed', '5', '--temperature', '1', '--max-tokens', '24']
      const result = await generate(kind, sampled)
      assert.deepEqual(result.prompt_token_ids, tokenizer.encodeChat([{role: 'user', content: PROMPT}], {addGenerationPrompt: true}))
      assert.equal(result.outputs.length, 2)
      for (const output of result.outputs) {
        assert.equal(output.logprobs!.length, output.token_ids.length)
        output.logprobs!.forEach((top, position) => assert.ok(String(output.token_ids[position]) in top && Object.keys(top).length <= 3))
        assert.equal(output.text, textOf(result.prompt_token_ids, output.token_ids))
      }
      // Two characters from the middle of sample 0 (across tokens, inside multi-byte characters where they fall).
      const characters = Array.from(result.outputs[0]!.text)
      let at = Math.floor(characters.length / 2)
      while (characters.slice(at, at + 2).join('').includes('\uFFFD') || characters.length - at < 2) at--
      const stop = characters.slice(at, at + 2).join('')
      // Seeded samples are the same tokens with or without speculation; the stop string cuts each where it first shows.
      const speculated = await generate(kind, [...sampled, '--speculative-method', 'ngram', '--ngram-min', '1', '--ngram-max', '2', '--stop', stop])
      // Prompt lookup (n = 1) proposes once a decoded token's predecessor occurred before it.
      const lookupHits = speculated.outputs.some(({token_ids: ids}) => ids.some((_, i) => i > 0 && [...speculated.prompt_token_ids, ...ids.slice(0, i - 1)].includes(ids[i - 1]!)))
      if (lookupHits) assert.ok(speculated.metrics.spec_decode!.proposed > 0)
      result.outputs.forEach((whole, index) => {
        const cut = speculated.outputs[index]!
        const stopAt = whole.text.indexOf(stop)
        assert.deepEqual(cut.token_ids, whole.token_ids.slice(0, cut.token_ids.length))
        if (stopAt < 0) assert.deepEqual([cut.text, cut.finish_reason], [whole.text, whole.finish_reason])
        else assert.deepEqual([cut.text, cut.finish_reason, cut.stop_reason], [whole.text.slice(0, stopAt), 'stop', stop])
      })
    })

    it(`--beam-width 2 --n 2 (two distinct beams, best first) and --${constraint}`, async () => {
      const [beams, guided] = await Promise.all([
        generate(kind, ['--beam-width', '2', '--n', '2', '--max-tokens', '6']),
        generate(kind, ['--temperature', '1', '--seed', '2', '--max-tokens', '150', ...CONSTRAINT_FLAGS[constraint]]),
      ])
      const [best, second] = beams.outputs
      assert.ok(best!.cumulative_logprob >= second!.cumulative_logprob)
      assert.notDeepEqual(best!.token_ids, second!.token_ids)
      for (const output of beams.outputs) assert.equal(output.text, textOf(beams.prompt_token_ids, output.token_ids))
      const output = guided.outputs[0]!
      if (constraint === 'choice') for (const each of guided.outputs) assert.ok(CHOICES.includes(each.text), each.text)
      if (constraint === 'regex') assert.match(output.text, /^[a-z]{2} [0-9]{2}$/)
      if (constraint === 'json-schema') {
        assert.equal(output.finish_reason, 'stop', output.text)
        assert.equal(schemaErrors(SCHEMA, JSON.parse(output.text)), null)
      }
    })
  })
}

kinds.forEach((kind, index) => describeKind(kind, CONSTRAINTS[index % CONSTRAINTS.length]!))

describe('draft models and bench across vocabularies', {concurrency: 2}, () => {
  const qwen3 = kinds.find((kind) => kind.reasoning && !kind.path.endsWith('.gguf'))!
  const qwen3Gguf = kinds.find((kind) => kind.reasoning && kind.path.endsWith('.gguf'))!

  it('a draft sharing the qwen3 vocabulary (<think> included) keeps the greedy tokens of the HF and the GGUF target', async () => {
    const draft = ensureDraftModel(qwen3.path, 1)
    for (const target of [qwen3, qwen3Gguf]) {
      const greedy = ['--temperature', '0', '--max-tokens', '16']
      const [plain, speculated] = await Promise.all([generate(target, greedy), generate(target, [...greedy, '--speculative-method', 'draft', '--speculative-model', draft])])
      assert.deepEqual(speculated.outputs[0]!.token_ids, plain.outputs[0]!.token_ids, target.name)
      assert.ok(speculated.metrics.spec_decode!.proposed > 0)
    }
  })

  it('a draft with another vocabulary is refused by name (exit 2): a different family, and the same family without <think>', async () => {
    for (const draft of kinds.filter((kind) => kind.name.startsWith('llama (') || kind.name.startsWith('qwen2 ('))) {
      const result = await runCommand('generate', ['--model', qwen3.path, '--speculative-method', 'draft', '--speculative-model', draft.path, 'hi'])
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, /cannot draft for .*: token \d+ is ".*" in its tokenizer but ".*" in the target's/)
    }
  })

  it('--quantization / --speculative-quantization to another format than a quantized GGUF file holds: refused (exit 2), not ignored', async () => {
    for (const flags of [['--quantization', 'q4_0'], ['--speculative-method', 'draft', '--speculative-quantization', 'q4_0']]) {
      const result = await runCommand('generate', ['--model', qwen3Gguf.path, ...flags, '--max-tokens', '2', 'hi'])
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, new RegExp(`${flags.at(-2)} q4_0: .*qwen3-q8_0\\.gguf is already quantized \\(q8_0\\) and runs as stored`))
    }
    // Its own format, or a float file, is fine.
    assert.equal((await runCommand('generate', ['--model', qwen3Gguf.path, '--quantization', 'q8_0', '--max-tokens', '2', 'hi'])).code, 0)
  })

  it('bench runs a GGUF file and a Qwen checkpoint on a short trace, policies giving identical outputs', async () => {
    for (const kind of [qwen3Gguf, qwen3]) {
      const json = join(scratch, 'bench.json')
      const result = await runCommand('bench/index', [
        '--model', kind.path, '--trace', 'alpaca', '--num-prompts', '3', '--policies', 'paged,orca-max', '--max-model-len', '512', '--num-blocks', '64', '--json', json,
      ])
      assert.equal(result.code, 0, result.stderr)
      const results = JSON.parse(readFileSync(json, 'utf8'))
      assert.deepEqual(results.runs.map((run: {policy: string; metrics: {numRequests: number}}) => [run.policy, run.metrics.numRequests]), [['paged', 3], ['orca-max', 3]])
      assert.equal(results.engineOutputs.identical, true)
    }
  })
})
