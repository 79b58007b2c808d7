// Compares test/support/reference-beam-search.ts with transformers' beam search on the cases scripts/beam-reference-hf.py
// wrote (its header says how to run both). Exits 1 when any case differs.
import {readFileSync} from 'node:fs'
import {referenceBeamSearch} from '../test/support/reference-beam-search.js'

interface HfCase {
  table: number[][]
  prompt: number[]
  width: number
  n: number
  lengthPenalty: number
  earlyStopping: boolean | 'never'
  eos: number[]
  maxTokens: number
  sequences: number[][]
  scores: number[]
}

const cases: HfCase[] = JSON.parse(readFileSync(process.argv[2]!, 'utf8'))
/** transformers' score of a -1e9 filler it returned (an ended beam run on past its EOS, or the prompt's copy): see beam-search.ts. */
const FILLER_SCORE = -1e8
let differing = 0
let fillers = 0
for (const c of cases) {
  const model = (tokens: number[]) => Float64Array.from(c.table[tokens[tokens.length - 1]!]!)
  // EOS ids after the first go in as stop tokens, as vLLM folds a model's further EOS ids into stop_token_ids.
  const beams = referenceBeamSearch(model, c.prompt, {
    beamWidth: c.width,
    n: c.n,
    lengthPenalty: c.lengthPenalty,
    earlyStopping: c.earlyStopping,
    eosTokenIds: [c.eos[0]!],
    stopTokenIds: c.eos.slice(1),
    maxTokens: c.maxTokens,
  })
  const same = JSON.stringify(beams.map((beam) => beam.tokenIds)) === JSON.stringify(c.sequences)
  if (same && beams.every((beam, i) => Math.abs(beam.score - c.scores[i]!) < 1e-4)) continue
  // Fewer than width real candidates in a step: transformers fills the rest with -1e9 fillers, which we do not.
  if (c.scores.some((score) => score < FILLER_SCORE)) {
    fillers++
    continue
  }
  differing++
  console.log(JSON.stringify({...c, table: undefined, reference: beams}))
}
console.log(`${cases.length - differing - fillers}/${cases.length} cases agree with transformers; ${fillers} differ where it returned a -1e9 filler`)
if (differing > 0) process.exit(1)
