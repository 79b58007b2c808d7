// Black-box: `generate` as an outside tester drives it (vLLM's LLM.generate and llama-cli as yardsticks): seeds, streaming vs --json, stops, the context edge, beam search with stops, penalties and logprobs.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {samplingFlags} from '../src/cli/sampling-flags.js'
import {parseCommon} from '../src/server/openai-schema.js'
import {runCommand} from './support/run-command.js'

interface JsonOutput {
  index: number
  text: string
  token_ids: number[]
  finish_reason: string
  stop_reason: string | number | null
  cumulative_logprob: number
}
interface JsonResult {
  prompt: string
  prompt_token_ids: number[]
  num_cached_tokens: number
  outputs: JsonOutput[]
}

let modelDir = ''
before(async () => {
  modelDir = await ensureTestModel('tiny')
})

async function generateJson(args: string[]): Promise<JsonResult[]> {
  const result = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--json', ...args])
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout)
}

describe('generate: seeded sampling repeats', () => {
  it('the same seed gives the same samples across runs and beside another prompt; --n samples differ', async () => {
    const args = ['--temperature', '1', '--n', '2', '--max-tokens', '8', '--ignore-eos']
    const [alone, again, batched, otherSeed] = await Promise.all([
      generateJson([...args, '--seed', '7', 'hello']),
      generateJson([...args, '--seed', '7', 'hello']),
      generateJson([...args, '--seed', '7', 'the sea', 'hello']),
      generateJson([...args, '--seed', '8', 'hello']),
    ])
    const samples = (result: JsonResult) => result.outputs.map((output) => output.token_ids)
    assert.deepEqual(samples(again[0]!), samples(alone[0]!))
    assert.deepEqual(samples(batched[1]!), samples(alone[0]!))
    assert.notDeepEqual(samples(alone[0]!)[0], samples(alone[0]!)[1])
    assert.notDeepEqual(samples(otherSeed[0]!), samples(alone[0]!))
    assert.ok(alone[0]!.outputs.every((output) => output.token_ids.length === 8 && output.finish_reason === 'length'))
  })
})

describe('generate: sampling without --seed', () => {
  it('two identical prompts sample differently (each request its own seed, as vLLM), and the run repeats', async () => {
    const args = ['--temperature', '1', '--max-tokens', '8', '--ignore-eos', 'hello', 'hello']
    const [first, second] = await Promise.all([generateJson(args), generateJson(args)])
    const samples = (results: JsonResult[]) => results.map((result) => result.outputs[0]!.token_ids)
    assert.notDeepEqual(samples(first)[0], samples(first)[1])
    assert.deepEqual(samples(second), samples(first))
  })
})

describe('generate: streamed text and --json agree', () => {
  it('the stream is the prompt and the JSON text; a --stop string cuts both at the same place', async () => {
    const prompt = 'hello'
    const [plain] = await generateJson(['--max-tokens', '40', '--ignore-eos', prompt])
    const text = plain!.outputs[0]!.text
    // A stop string of plain letters from the middle of the greedy text.
    const stop = /[a-z]{3,}/i.exec(text.slice(4))?.[0]
    assert.ok(stop, `no plain word in ${JSON.stringify(text)}`)
    const stopArgs = ['--model', modelDir, '--threads', '1', '--max-tokens', '40', '--ignore-eos', '--stop', stop]
    const [streamed, json, streamedPlain] = await Promise.all([
      runCommand('generate', [...stopArgs, prompt]),
      runCommand('generate', [...stopArgs, '--json', prompt]),
      runCommand('generate', ['--model', modelDir, '--threads', '1', '--max-tokens', '40', '--ignore-eos', prompt]),
    ])
    assert.equal(streamedPlain.stdout, `${prompt}${text}\n`)
    const cut = (JSON.parse(json.stdout) as JsonResult[])[0]!.outputs[0]!
    assert.equal(cut.text, text.slice(0, text.indexOf(stop)))
    assert.equal(cut.finish_reason, 'stop')
    assert.equal(cut.stop_reason, stop)
    assert.equal(streamed.code, 0, streamed.stderr)
    assert.equal(streamed.stdout, `${prompt}${cut.text}\n`)
    // Results on stdout, the report on stderr.
    assert.doesNotMatch(streamed.stdout, /tokens\/s|kv cache/)
    assert.match(streamed.stderr, /tokens in [\d.]+ s/)
  })
})

describe('generate --json: field names', () => {
  it("metrics use vLLM's RequestMetrics names (snake_case, as every other field), in time order", async () => {
    const [result] = await generateJson(['--max-tokens', '2', 'hello'])
    const metrics = (result as unknown as {metrics: Record<string, number>}).metrics
    assert.deepEqual(Object.keys(metrics), ['arrival_time', 'first_scheduled_time', 'first_token_time', 'finished_time'])
    const times = Object.values(metrics)
    assert.ok(times.every((time, i) => i === 0 || time >= times[i - 1]!), JSON.stringify(metrics))
  })
})

describe('generate --json: num_cached_tokens', () => {
  it('a prompt run after the same prompt takes its whole blocks from the prefix cache; none without prefix caching', async () => {
    // One sequence at a time: the second prompt is admitted after the first has computed (and cached) its blocks.
    const prompt = 'the quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun by the window'
    const args = ['--max-num-seqs', '1', '--block-size', '4', '--max-tokens', '2', prompt, prompt]
    const [cached, uncached] = await Promise.all([generateJson(args), generateJson(['--no-prefix-caching', ...args])])
    const promptLength = cached[0]!.prompt_token_ids.length
    assert.equal(cached[0]!.num_cached_tokens, 0)
    const hits = cached[1]!.num_cached_tokens
    assert.ok(hits > 0 && hits % 4 === 0 && hits < promptLength, `${hits} cached of ${promptLength} prompt tokens`)
    assert.deepEqual(uncached.map((result) => result.num_cached_tokens), [0, 0])
  })
})

describe('generate: the context edge', () => {
  it('a prompt plus --max-tokens of exactly --max-model-len runs to the last token; one more is refused (exit 2)', async () => {
    const [probe] = await generateJson(['--max-tokens', '1', 'hello'])
    const promptLength = probe!.prompt_token_ids.length
    const maxModelLen = 64
    const [full] = await generateJson(['--max-model-len', String(maxModelLen), '--max-tokens', String(maxModelLen - promptLength), '--ignore-eos', 'hello'])
    assert.equal(full!.outputs[0]!.token_ids.length, maxModelLen - promptLength)
    assert.equal(full!.outputs[0]!.finish_reason, 'length')
    const over = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--max-model-len', String(maxModelLen), '--max-tokens', String(maxModelLen - promptLength + 1), 'hello'])
    assert.equal(over.code, 2)
    assert.match(over.stderr, new RegExp(`maximum context length is ${maxModelLen} tokens\\. However, you requested ${maxModelLen + 1} tokens`))
  })

  it('without --max-tokens a prompt near the context runs to its end (the default 64 is capped, as the server caps its default)', async () => {
    const [probe] = await generateJson(['--max-tokens', '1', 'hello'])
    const promptLength = probe!.prompt_token_ids.length
    const maxModelLen = promptLength + 5
    const [capped] = await generateJson(['--max-model-len', String(maxModelLen), '--ignore-eos', 'hello'])
    assert.equal(capped!.outputs[0]!.token_ids.length, 5)
    assert.equal(capped!.outputs[0]!.finish_reason, 'length')
    // Streamed too, and for each of --n samples.
    const streamed = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--max-model-len', String(maxModelLen), '--ignore-eos', 'hello'])
    assert.equal(streamed.code, 0, streamed.stderr)
    assert.match(streamed.stderr, /\[5 tokens in/)
    const [samples] = await generateJson(['--max-model-len', String(maxModelLen), '--ignore-eos', '--n', '2', '--temperature', '1', 'hello'])
    assert.deepEqual(samples!.outputs.map((output) => output.token_ids.length), [5, 5])
    // A prompt that fills the context leaves nothing to cap to: still the context error, exit 2.
    const full = await runCommand('generate', ['--model', modelDir, '--threads', '1', '--max-model-len', String(promptLength), 'hello'])
    assert.equal(full.code, 2)
    assert.match(full.stderr, /maximum context length/)
  })
})

describe('generate: beam search takes --stop, --logprobs and --repetition-penalty (it once refused them)', () => {
  it('what beam search takes (--n, --length-penalty, --logit-bias, --ignore-eos) runs', async () => {
    const [result] = await generateJson(['--beam-width', '3', '--n', '2', '--length-penalty', '0.5', '--logit-bias', '{"77": 5}', '--ignore-eos', '--max-tokens', '5', 'hi'])
    assert.equal(result!.outputs.length, 2)
    assert.notDeepEqual(result!.outputs[0]!.token_ids, result!.outputs[1]!.token_ids)
    assert.ok(result!.outputs.every((output) => output.token_ids.length === 5))
  })

  it('a stop string ends a beam with its text cut; a repetition penalty moves the ranking; logprobs add up to each beam', async () => {
    const beams = ['--beam-width', '3', '--n', '2', '--ignore-eos', '--max-tokens', '6', 'hi']
    const [plain] = await generateJson(beams)
    const text = plain!.outputs[0]!.text
    const stop = text.slice(Math.floor(text.length / 2)).trim().slice(0, 2)
    const [[stopped], [penalized]] = await Promise.all([
      generateJson(['--stop', stop, ...beams]),
      generateJson(['--repetition-penalty', '1.5', '--logprobs', '2', ...beams]),
    ])
    const ended = stopped!.outputs.filter((output) => output.finish_reason === 'stop')
    assert.ok(ended.length > 0, JSON.stringify(stopped))
    for (const output of ended) {
      assert.equal(output.stop_reason, stop)
      assert.ok(!output.text.includes(stop), output.text)
    }
    assert.notDeepEqual(penalized!.outputs.map((output) => output.cumulative_logprob), plain!.outputs.map((output) => output.cumulative_logprob))
    for (const output of penalized!.outputs as Array<JsonOutput & {logprobs: Array<Record<string, number>>}>) {
      assert.equal(output.logprobs.length, output.token_ids.length)
      const sum = output.logprobs.reduce((total, entry, i) => total + entry[String(output.token_ids[i])]!, 0)
      assert.ok(Math.abs(sum - output.cumulative_logprob) < 1e-4, `${sum} vs ${output.cumulative_logprob}`)
    }
  })
})

describe("generate takes the server's sampling fields as flags", () => {
  it('--stop-token-ids ends at the first such token, --min-tokens holds it back, the penalties move the text, --prompt-logprobs', async () => {
    const args = ['--max-tokens', '8', '--ignore-eos', 'hello']
    const [[plain], [beams]] = await Promise.all([generateJson(args), generateJson(['--beam-width', '2', '--early-stopping', 'never', ...args])])
    const tokens = plain!.outputs[0]!.token_ids
    const at = tokens.findIndex((id, i) => i >= 1 && tokens.indexOf(id) === i)
    assert.ok(at >= 1, `no new token after the first in ${tokens}`)
    const stopId = tokens[at]!
    const [[stopped], [held], [present], [frequent], [scored]] = await Promise.all([
      generateJson(['--stop-token-ids', `${stopId},100000`, ...args]),
      generateJson(['--stop-token-ids', String(stopId), '--min-tokens', String(at + 2), ...args]),
      // Negative penalties favour tokens already out: the greedy text (no token twice) starts repeating.
      generateJson(['--presence-penalty', '-2', ...args]),
      generateJson(['--frequency-penalty', '-2', ...args]),
      generateJson(['--prompt-logprobs', '1', ...args]),
    ])
    assert.deepEqual(stopped!.outputs[0]!.token_ids, tokens.slice(0, at + 1))
    assert.equal(stopped!.outputs[0]!.finish_reason, 'stop')
    assert.equal(stopped!.outputs[0]!.stop_reason, stopId)
    assert.ok(!held!.outputs[0]!.token_ids.slice(0, at + 2).includes(stopId), JSON.stringify(held!.outputs[0]))
    assert.equal(new Set(tokens).size, tokens.length)
    const distinct = (result: JsonResult) => new Set(result.outputs[0]!.token_ids).size
    // Presence counts a token once, frequency each time it is out: the second repeats more.
    assert.ok(distinct(present!) < tokens.length && distinct(frequent!) < distinct(present!), `${distinct(present!)} ${distinct(frequent!)}`)
    const promptLogprobs = (scored as JsonResult & {prompt_logprobs: Array<Record<string, number> | null>}).prompt_logprobs
    assert.equal(promptLogprobs.length, scored!.prompt_token_ids.length)
    assert.equal(promptLogprobs[0], null)
    promptLogprobs.slice(1).forEach((entry, i) => assert.ok(String(scored!.prompt_token_ids[i + 1]) in entry!, JSON.stringify(entry)))
    // "never" with a length penalty of 1 runs every beam to --max-tokens.
    assert.ok(beams!.outputs.every((output) => output.token_ids.length === 8))
  })

  it("every sampling field the server's parser reads is a flag of generate, or listed here with why it is not", () => {
    // Not sampling, or reached otherwise: the constraint flags (--json-schema, --regex, --choice, --grammar) for guided_*.
    const notFlags = new Set([
      'stream', 'stream_options', 'model', 'user', 'priority', 'logits_processors', 'add_special_tokens', 'truncate_prompt_tokens',
      'return_tokens_as_token_ids', 'return_token_ids', 'max_tokens',
      // Our decoder never puts spaces between special tokens: the server type-checks the field and ignores it.
      'spaces_between_special_tokens',
      'use_beam_search', // --beam-width
      'seed', // the engine flag --seed
      'guided_json', 'guided_regex', 'guided_choice', 'guided_grammar', 'guided_whitespace_pattern', 'guided_decoding_backend', 'structured_outputs', 'response_format',
    ])
    const read = new Set<string>()
    parseCommon(new Proxy({}, {get: (_target, key) => (read.add(String(key)), undefined)}), true)
    const flags = new Set(Object.keys(samplingFlags))
    const missing = [...read].filter((field) => !notFlags.has(field.split('.')[0]!) && !flags.has(field.replaceAll('_', '-')))
    assert.deepEqual(missing, [])
    assert.ok(read.has('presence_penalty') && read.has('early_stopping'), [...read].join(' '))
  })
})
