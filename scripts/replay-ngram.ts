// Offline replay of n-gram speculation settings: tinychat's greedy continuations are generated once (no speculation),
// then each setting's proposals are checked against them, with the engine's proposer and back-off rules, and priced
// with a step-cost curve (ms per step by rows, e.g. from scripts/bench-verify-rows.ts plus the JS part of a step).
// Usage: npx tsx scripts/replay-ngram.ts [--tokens 128] [--cost 2.1,2.4,...] [--passages N --sharegpt ShareGPT_V3_sample1000_seed42.json]
//          [--batches 1,2,4,8,16,32]
//        (--passages: the first N "repeat this passage" prompts of scripts/bench-spec.ts instead of tinychat's reference prompts;
//         --batches: the default K and n-grams under each back-off policy at those batch sizes, instead of the K / n-gram table)
import {existsSync, readFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {SequenceBackOff, VERIFY_ROW_COST} from '../src/engine/spec-decode/back-off.js'
import {ngramInHindsight, proposeNgram} from '../src/engine/spec-decode/ngram-proposer.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'

const {values: args} = parseArgs({
  options: {
    tokens: {type: 'string', default: '128'},
    // Measured on the 2-core dev machine (docs/PERFORMANCE.md): 10th-percentile native step + 0.2 ms of JS, 1..9 rows.
    cost: {type: 'string', default: '2.08,2.41,2.75,2.83,3.03,3.42,3.58,3.69,3.86'},
    passages: {type: 'string', default: '0'},
    sharegpt: {type: 'string', default: ''},
    batches: {type: 'string', default: ''},
  },
})
const stepCost = args.cost.split(',').map(Number)
/** Rows past the measured curve (large batches) cost the curve's mean extra row each: decode and verification rows alike. */
const perExtraRow = (stepCost.at(-1)! - stepCost[0]!) / (stepCost.length - 1)
const costOf = (rows: number) => stepCost[rows - 1] ?? stepCost.at(-1)! + (rows - stepCost.length) * perExtraRow
/** The n-gram default of --speculative-max-batch before the batch-aware back-off. */
const OLD_MAX_BATCH = 8

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

interface Policy {
  label: string
  /** false: K tokens at every step (no back-off). */
  adaptive: boolean
  /** r of the break-even acceptance (0: only pauses after misses, the back-off before batch-awareness). */
  rowCost: number
  /** No proposals at all in a step with more decoding sequences than this (--speculative-max-batch). */
  maxBatch: number
}

/**
 * Steps, proposed and accepted tokens and cost of one policy at one batch size: the texts run in waves of `batch`
 * sequences in lockstep (as bench-spec's requests do; a wave cycles through the texts when there are fewer), each
 * step priced by its total rows, with the engine's own back-off (back-off.ts) and hindsight check (ngram-proposer.ts).
 */
function replay(k: number, ngramMin: number, ngramMax: number, batch: number, policy: Policy) {
  let steps = 0, proposed = 0, accepted = 0, cost = 0, baseline = 0
  const numWaves = Math.max(1, Math.floor(texts.length / batch))
  for (let wave = 0; wave < numWaves; wave++) {
    const seqs = Array.from({length: batch}, (_, i) => ({...texts[(wave * batch + i) % texts.length]!, done: 0, backOff: new SequenceBackOff(k, policy.rowCost)}))
    baseline += Math.max(...seqs.map((seq) => seq.generated.length)) * costOf(batch)
    for (let active = seqs; active.length > 0; active = active.filter((seq) => seq.done < seq.generated.length)) {
      let rows = 0
      for (const seq of active) {
        const {prompt, generated, done, backOff} = seq
        const tokenIds = [...prompt, ...generated.slice(0, done)]
        let budget = 0
        if (done > 0 && active.length <= policy.maxBatch) {
          if (!policy.adaptive) budget = k
          else budget = backOff.budget(active.length, (k) => ngramInHindsight(tokenIds, ngramMin, ngramMax, k))
        }
        const draft = proposeNgram(tokenIds, ngramMin, ngramMax, Math.min(budget, generated.length - done - 1))
        let matched = 0
        while (matched < draft.length && draft[matched] === generated[done + matched]) matched++
        if (draft.length > 0) {
          proposed += draft.length
          accepted += matched
          if (policy.adaptive) backOff.recordVerified(draft.length, matched)
        }
        rows += 1 + draft.length
        seq.done += matched + 1
      }
      steps++
      cost += costOf(rows)
    }
  }
  return {steps, proposed, accepted, cost, baseline}
}

const totalTokens = texts.reduce((sum, text) => sum + text.generated.length, 0)
console.log(`${texts.length} greedy continuations of ${args.tokens} tokens; step cost (ms) by rows ${stepCost.join(', ')}, then +${perExtraRow.toFixed(3)} per row`)
if (args.batches === '') {
  console.log('| K | n-grams | steps | tokens/step | accepted/proposed | modelled speedup |\n|---|---|---|---|---|---|')
  for (const k of [4, 8]) {
    for (const [ngramMin, ngramMax] of [[1, 4], [2, 4], [3, 4]] as const) {
      const r = replay(k, ngramMin, ngramMax, 1, {label: 'adaptive', adaptive: true, rowCost: VERIFY_ROW_COST, maxBatch: Infinity})
      console.log(`| ${k} | ${ngramMin}-${ngramMax} | ${r.steps} | ${(totalTokens / r.steps).toFixed(2)} | ${r.accepted}/${r.proposed} | ${(r.baseline / r.cost).toFixed(2)}x |`)
    }
  }
} else {
  const defaults = makeSpeculativeConfig({method: 'ngram'})
  const policies: Policy[] = [
    {label: 'always', adaptive: false, rowCost: 0, maxBatch: Infinity},
    {label: `misses only, max batch ${OLD_MAX_BATCH}`, adaptive: true, rowCost: 0, maxBatch: OLD_MAX_BATCH},
    {label: `batch-aware r=${VERIFY_ROW_COST}, max batch ${defaults.maxBatchSize}`, adaptive: true, rowCost: VERIFY_ROW_COST, maxBatch: defaults.maxBatchSize},
    {label: `batch-aware r=${VERIFY_ROW_COST}, no max batch`, adaptive: true, rowCost: VERIFY_ROW_COST, maxBatch: Infinity},
  ]
  console.log(`K = ${defaults.numSpeculativeTokens}, n-grams ${defaults.ngramMin}-${defaults.ngramMax}`)
  console.log('| batch | back-off | steps | accepted/proposed | modelled speedup |\n|---|---|---|---|---|')
  for (const batch of args.batches.split(',').map(Number)) {
    for (const policy of policies) {
      const r = replay(defaults.numSpeculativeTokens, defaults.ngramMin, defaults.ngramMax, batch, policy)
      const rate = r.proposed === 0 ? '-' : `${r.accepted}/${r.proposed} (${((100 * r.accepted) / r.proposed).toFixed(0)}%)`
      console.log(`| ${batch} | ${policy.label} | ${r.steps} | ${rate} | ${(r.baseline / r.cost).toFixed(2)}x |`)
    }
  }
}
