// Offline replay of n-gram speculation settings: tinychat's greedy continuations are generated once (no speculation),
// then each setting's proposals are checked against them, with the engine's proposer and back-off rules, and priced
// with a step-cost curve (ms per step by rows, e.g. from scripts/bench-verify-rows.ts plus the JS part of a step).
// Usage: npx tsx scripts/replay-ngram.ts [--tokens 128] [--cost 2.1,2.4,...] [--passages N --sharegpt ShareGPT_V3_sample1000_seed42.json]
//        (--passages: the first N "repeat this passage" prompts of scripts/bench-spec.ts instead of tinychat's reference prompts)
import {existsSync, readFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {proposeNgram} from '../src/engine/spec-decode/ngram-proposer.js'

const {values: args} = parseArgs({
  options: {
    tokens: {type: 'string', default: '128'},
    // Measured on the 2-core dev machine (docs/PERFORMANCE.md): 10th-percentile native step + 0.2 ms of JS, 1..9 rows.
    cost: {type: 'string', default: '2.08,2.41,2.75,2.83,3.03,3.42,3.58,3.69,3.86'},
    passages: {type: 'string', default: '0'},
    sharegpt: {type: 'string', default: ''},
  },
})
const stepCost = args.cost.split(',').map(Number)
/** Rows past the measured curve cost what the last measured row did. */
const costOf = (rows: number) => stepCost[rows - 1] ?? stepCost.at(-1)! + (rows - stepCost.length) * (stepCost.at(-1)! - stepCost.at(-2)!)

function prompts(): Array<number[] | string> {
  const passages = Number(args.passages)
  if (passages === 0) {
    const reference = JSON.parse(readFileSync(`${BUILTIN_MODEL_DIR}/reference.json`, 'utf8')) as {prompts: Array<{prompt_token_ids: number[]}>}
    return reference.prompts.map((entry) => entry.prompt_token_ids)
  }
  if (!existsSync(args.sharegpt)) throw new Error(`--passages needs --sharegpt FILE (got '${args.sharegpt}')`)
  const conversations = JSON.parse(readFileSync(args.sharegpt, 'utf8')) as Array<{conversations: Array<{from: string; value: string}>}>
  return conversations
    .map((conversation) => conversation.conversations[0])
    .filter((turn) => turn?.from === 'human' && turn.value.length >= 200 && turn.value.length <= 800)
    .slice(0, passages)
    .map((turn) => `Repeat the following passage exactly.\n\n${turn!.value}\n\nThe passage, repeated:\n${turn!.value.slice(0, 40)}`)
}

const engine = await LLMEngine.create(makeEngineConfig({modelPath: BUILTIN_MODEL_DIR, device: 'cpu', kvMemoryBytes: 256 << 20}))
const params = makeSamplingParams({temperature: 0, maxTokens: Number(args.tokens), ignoreEos: true})
const outputs = await engine.generate(prompts().map((prompt) => ({prompt, params})))
await engine.shutdown()
const texts = outputs.map((output) => ({prompt: output.promptTokenIds, generated: output.outputs[0]!.tokenIds}))

/** Steps, proposed and accepted tokens and cost of one setting, with speculator.ts's back-off (k = accepted + 2, pauses after misses). */
function replay(k: number, ngramMin: number, ngramMax: number) {
  let steps = 0, proposed = 0, accepted = 0, cost = 0
  for (const {prompt, generated} of texts) {
    let done = 0, nextK = k, misses = 0, skip = 0
    while (done < generated.length) {
      let draft: number[] = []
      if (skip > 0) skip--
      else if (done > 0) draft = proposeNgram([...prompt, ...generated.slice(0, done)], ngramMin, ngramMax, Math.min(nextK, generated.length - done - 1))
      let matched = 0
      while (matched < draft.length && draft[matched] === generated[done + matched]) matched++
      if (draft.length > 0) {
        proposed += draft.length
        accepted += matched
        misses = matched > 0 ? 0 : misses + 1
        nextK = Math.min(k, matched + 2)
        if (misses >= 2) skip = Math.min(16, 2 ** (misses - 2))
      }
      steps++
      cost += costOf(1 + draft.length)
      done += matched + 1
    }
  }
  return {steps, proposed, accepted, cost}
}

const totalTokens = texts.reduce((sum, text) => sum + text.generated.length, 0)
const baseline = totalTokens * costOf(1)
console.log(`${texts.length} greedy continuations of ${args.tokens} tokens; step cost (ms) by rows ${stepCost.join(', ')}`)
console.log('| K | n-grams | steps | tokens/step | accepted/proposed | modelled speedup |\n|---|---|---|---|---|---|')
for (const k of [4, 8]) {
  for (const [ngramMin, ngramMax] of [[1, 4], [2, 4], [3, 4]] as const) {
    const r = replay(k, ngramMin, ngramMax)
    console.log(`| ${k} | ${ngramMin}-${ngramMax} | ${r.steps} | ${(totalTokens / r.steps).toFixed(2)} | ${r.accepted}/${r.proposed} | ${(baseline / r.cost).toFixed(2)}x |`)
  }
}
