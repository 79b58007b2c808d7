// Batch independence of seeded and greedy sampling through the engine (tiny q8_0 model, vocab 512): eight requests with
// extreme parameters (n > 1, best_of, repetition_penalty 100, +-100 biases, min_p 1, temperature 100, min_tokens with
// stop ids, bad words, logprobs 20, prompt_logprobs, beams) alone, then among 56 unseeded others, under preemption
// (recompute, swap), with prefix caching off, with every row in the JS sampler, and (greedy ones) with n-gram speculation.
// Usage: npx tsx scripts/probe-sampling-engine.ts
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeRng} from '../src/engine/random.js'
import {makeSamplingParams, type SamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'

const prompt = (i: number, length: number) => Array.from({length}, (_, t) => 1 + ((t * 37 + i * 101) % 250))
const repeating = (length: number) => Array.from({length}, (_, t) => 3 + (t % 7)) // n-gram speculation finds matches
const base = {maxTokens: 20, ignoreEos: true}
const TARGETS: Array<{prompt: number[]; params: SamplingParamsInput}> = [
  {prompt: prompt(1, 9), params: {...base, n: 3, temperature: 1.3, seed: 7, repetitionPenalty: 100, logitBias: {5: 100, 6: -100}, logprobs: 5}},
  {prompt: prompt(2, 30), params: {...base, temperature: 100, topK: 600, seed: -3, logprobs: 20, promptLogprobs: 5}},
  {prompt: prompt(3, 17), params: {...base, temperature: 0.9, minP: 1, seed: 2 ** 53 - 1, frequencyPenalty: 2, presencePenalty: -2}},
  {prompt: repeating(40), params: {...base, temperature: 0, logprobs: 20, promptLogprobs: 3, repetitionPenalty: 0.01}},
  {prompt: prompt(5, 12), params: {...base, ignoreEos: false, minTokens: 10, stopTokenIds: [11, 12, 13], temperature: 0.7, seed: 5, logprobs: 0}},
  {prompt: prompt(6, 12), params: {...base, temperature: 0.8, seed: 9, badWordTokenIds: [[40], [41, 42]], badWords: ['x'], topP: 1e-9}},
  {prompt: prompt(7, 20), params: {...base, n: 2, bestOf: 4, temperature: 1, seed: 12, logprobs: 2}},
  {prompt: repeating(33), params: {...base, temperature: 0, logprobs: 3}},
  {prompt: prompt(8, 10), params: {...base, n: 2, useBeamSearch: true, temperature: 0, maxTokens: 8}},
]
const rng = makeRng(5, 1)
const FILLERS = Array.from({length: 56}, (_, i) => ({
  prompt: prompt(100 + i, 3 + Math.floor(rng.nextFloat() * 60)),
  params: {maxTokens: 4 + Math.floor(rng.nextFloat() * 30), ignoreEos: true, temperature: [0, 0.5, 1.5][i % 3]!, topK: [0, 5, -1][i % 3]!, n: 1 + (i % 4 === 0 ? 2 : 0), logprobs: i % 5 === 0 ? 4 : null} as SamplingParamsInput,
}))

interface Outcome {
  outputs: Array<{tokens: number[]; cumulative: number; logprobs: Array<Array<[number, number]>> | null; finish: string | null}>
  promptLogprobs: Array<Array<[number, number]> | null> | null
}
async function run(config: Partial<EngineConfig>, requests: Array<{prompt: number[]; params: SamplingParamsInput}>, sampler: 'native' | 'js' = 'native'): Promise<{outcomes: Outcome[]; preemptions: number; accepted: number}> {
  process.env.PAGEDLLM_SAMPLER = process.env.PROBE_JS ? 'js' : sampler
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), kvMemoryBytes: 8 << 20, threads: 2, quantization: 'q8_0', ...config}))
  try {
    const results = await engine.generate(requests.map((r) => ({prompt: r.prompt, params: makeSamplingParams(r.params) as SamplingParams})))
    return {
      outcomes: results.slice(0, TARGETS.length).map((r) => ({
        outputs: r.outputs.map((o) => ({tokens: o.tokenIds, cumulative: o.cumulativeLogprob, logprobs: o.logprobs?.map((m) => [...m]) ?? null, finish: o.finishReason})),
        promptLogprobs: r.promptLogprobs?.map((m) => (m ? [...m] : null)) ?? null,
      })),
      accepted: results.reduce((sum, r) => sum + (r.specDecode?.numAcceptedTokens ?? 0), 0),
      preemptions: engine.stats().numPreemptions,
    }
  } finally {
    await engine.shutdown()
    delete process.env.PAGEDLLM_SAMPLER
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
let failures = 0
const alone: Outcome[] = []
for (const target of TARGETS) alone.push((await run({}, [target])).outcomes[0]!)
// What the parameters promise, beyond agreeing with themselves: n = 3 distinct samples; no stop id (or EOS 2, 4) before
// min_tokens; no bad word; top_p 1e-9 and min_p 1 leave only the best token (greedy with the same edits).
const distinct = new Set(alone[0]!.outputs.map((o) => o.tokens.join(','))).size
if (distinct !== 3) failures++
const early = alone[4]!.outputs[0]!.tokens.slice(0, 10).filter((t) => [2, 4, 11, 12, 13].includes(t))
if (early.length > 0) failures++
const banned = alone[5]!.outputs[0]!.tokens.filter((t, i, all) => t === 40 || (t === 42 && all[i - 1] === 41))
if (banned.length > 0) failures++
console.log(`n = 3: ${distinct} distinct samples; stop ids before min_tokens: [${early}]; bad words emitted: [${banned}]`)
const greedyTwins: Array<[number, SamplingParamsInput]> = [[2, {frequencyPenalty: 2, presencePenalty: -2}], [5, {badWordTokenIds: [[40], [41, 42]], badWords: ['x']}]]
for (const [index, edits] of greedyTwins) {
  const greedy = (await run({}, [{prompt: TARGETS[index]!.prompt, params: {...base, temperature: 0, ...edits}}])).outcomes[0]!.outputs[0]!.tokens
  const ok = same(greedy, alone[index]!.outputs[0]!.tokens)
  if (!ok) failures++
  console.log(`target ${index} (${index === 2 ? 'min_p 1' : 'top_p 1e-9'}) ${ok ? 'equals' : 'DIFFERS FROM'} greedy with the same edits`)
}
const mixed = [...TARGETS, ...FILLERS]
const variants: Array<[string, Partial<EngineConfig>, 'native' | 'js']> = [
  ['batch of 65', {}, 'native'],
  ['batch, JS sampler', {}, 'js'],
  ['batch, prefix caching off', {enablePrefixCaching: false}, 'native'],
  ['batch, chunked prefill 64', {enableChunkedPrefill: true, maxNumBatchedTokens: 64}, 'native'],
  ['batch, preemption recompute', {numBlocks: 40, preemptionMode: 'recompute', enablePrefixCaching: false}, 'native'],
  ['batch, preemption swap', {numBlocks: 40, preemptionMode: 'swap', enablePrefixCaching: false}, 'native'],
]
for (const [name, config, sampler] of variants) {
  const {outcomes, preemptions} = await run(config, mixed, sampler)
  const differing = outcomes.map((o, i) => (same(o, alone[i]) ? -1 : i)).filter((i) => i >= 0)
  failures += differing.length
  console.log(`${name}: preemptions ${preemptions}, targets differing from alone: [${differing.join(', ')}]`)
  for (const i of differing.slice(0, 3)) console.log(`  target ${i}: alone ${JSON.stringify(alone[i]).slice(0, 300)}\n            here  ${JSON.stringify(outcomes[i]).slice(0, 300)}`)
}
// n-gram speculation: greedy rows must keep their tokens and raw logprobs (targets 3 and 7 are greedy on repeating prompts).
const spec = makeSpeculativeConfig({method: 'ngram', numSpeculativeTokens: 4, ngramMin: 1, ngramMax: 3, adaptive: false})
for (const index of [3, 7]) {
  const {outcomes, accepted} = await run({speculative: spec}, [TARGETS[index]!])
  const ok = same(outcomes[0], alone[index])
  if (!ok) failures++
  console.log(`speculative ngram, greedy target ${index} (${accepted} draft tokens accepted): ${ok ? 'same as without' : 'DIFFERENT'}`)
  if (!ok) console.log(`  without ${JSON.stringify(alone[index]).slice(0, 400)}\n  with    ${JSON.stringify(outcomes[0]).slice(0, 400)}`)
}
console.log(failures === 0 ? 'no differences' : `${failures} differences`)

// Reported logprobs are the raw log_softmax (vLLM's default logprobs_mode): each output token's logprob (and its top
// list) must equal what prompt_logprobs reports for that token when prompt + output is fed back as a prompt.
async function rawCheck(name: string, config: Partial<EngineConfig>, target: {prompt: number[]; params: SamplingParamsInput}): Promise<void> {
  const {outcomes, accepted} = await run(config, [target])
  const outcome = outcomes[0]!
  let worst = 0
  let compared = 0
  for (const output of outcome.outputs) {
    if (output.logprobs === null) continue
    const fed = (await run({}, [{prompt: [...target.prompt, ...output.tokens], params: {maxTokens: 1, promptLogprobs: 20}}])).outcomes[0]!
    output.tokens.forEach((_, i) => {
      const reference = new Map(fed.promptLogprobs![target.prompt.length + i]!)
      for (const [id, logprob] of output.logprobs![i]!) {
        if (!reference.has(id)) continue // top-20 of the prompt row may not hold a low-ranked chosen token
        worst = Math.max(worst, Math.abs(reference.get(id)! - logprob))
        compared++
      }
    })
  }
  if (worst > 1e-4) failures++
  console.log(`raw logprobs, ${name}${config.speculative ? ` (${accepted} draft tokens accepted)` : ''}: ${compared} values compared with prompt_logprobs, largest difference ${worst.toExponential(2)}`)
}
const seededSpec = {prompt: repeating(40), params: {...base, temperature: 0.5, seed: 4, logprobs: 4, repetitionPenalty: 0.01}}
await rawCheck('seeded, penalties and bias (native)', {}, TARGETS[0]!)
process.env.PROBE_JS = '1'; await rawCheck('seeded, penalties and bias (JS sampler)', {}, TARGETS[0]!); delete process.env.PROBE_JS
await rawCheck('temperature 100', {}, TARGETS[1]!)
await rawCheck('beam search', {}, {prompt: TARGETS[8]!.prompt, params: {...TARGETS[8]!.params, logprobs: 3}})
await rawCheck('seeded, n-gram speculation', {speculative: spec}, seededSpec)
await rawCheck('greedy, repetition_penalty 0.01, n-gram speculation', {speculative: spec}, TARGETS[3]!)
console.log(failures === 0 ? 'no differences' : `${failures} differences`)
