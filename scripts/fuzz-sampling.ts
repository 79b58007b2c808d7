// Adversarial parity fuzz of the samplers: the backend's (native/cpu/sampler.cpp, AVX2 and portable) against the JS
// reference (sampler.ts) over extreme parameters (temperature 1e-6..100, top_k -1..>vocab, top_p 1e-9, min_p 1,
// +-100 biases on many and out-of-range ids, repetition_penalty 0.01..100 over long histories) and hostile rows
// (ties, all-equal, -inf, NaN, +-3e38, every token suppressed), at vocab sizes that are not multiples of 8 or 32; and
// samplingDistribution (speculative decoding) of each request must be a distribution that holds the drawn token.
// Usage: npx tsx scripts/fuzz-sampling.ts [cases per vocab, default 400] [seed]
import {bitmaskOf} from '../src/engine/guided/token-mask.js'
import {nativeOps} from '../src/engine/native.js'
import {encodeSampleRequests, sampledResult} from '../src/engine/native-sampling.js'
import {makeRng} from '../src/engine/random.js'
import {sampleRows, samplingDistribution, type SampleRequest, type SampleResult} from '../src/engine/sampler.js'
import {makeSamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'

const ops = nativeOps()
const avx2 = ops.avx2Status()
const casesPerVocab = Number(process.argv[2] ?? 400)
const rng = makeRng(Number(process.argv[3] ?? 7), 3)
const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.nextFloat() * values.length)]!
const int = (n: number) => Math.floor(rng.nextFloat() * n)

const ROW_KINDS = ['model', 'ties', 'equal', 'neg-inf', 'nan', 'huge', 'all-neg-inf', 'pos-inf'] as const
function hostileRow(kind: (typeof ROW_KINDS)[number], vocab: number): Float32Array {
  const row = new Float32Array(vocab)
  for (let i = 0; i < vocab; i++) row[i] = 2.5 * Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat())
  for (let k = 0; k < 4; k++) row[int(vocab)] = 8 + 4 * rng.nextFloat()
  switch (kind) {
    case 'ties': for (let i = 0; i < vocab; i++) row[i] = Math.round(row[i]! / 2); break
    case 'equal': row.fill(pick([0, -3.5, 1e4])); break
    case 'neg-inf': for (let i = 0; i < vocab; i++) if (rng.nextFloat() < 0.7) row[i] = -Infinity; break
    case 'nan': for (let i = 0; i < vocab; i++) if (rng.nextFloat() < 0.1) row[i] = Number.NaN; break
    case 'huge': for (let i = 0; i < vocab; i++) row[i] = (rng.nextFloat() * 2 - 1) * pick([1e30, 3e38, 1e4]); break
    case 'all-neg-inf': row.fill(-Infinity); break
    case 'pos-inf': row[int(vocab)] = Infinity; row[int(vocab)] = Infinity; break
  }
  return row
}

function extremeRequest(row: number, vocab: number): SampleRequest {
  const ids = (count: number) => Array.from({length: count}, () => int(vocab))
  const biasIds = pick([0, 0, 1, 50, Math.min(vocab, 2000)])
  const bias: Record<number, number> = {}
  for (const id of ids(biasIds)) bias[id] = pick([100, -100, 0.5, -7])
  if (rng.nextFloat() < 0.3) bias[vocab + int(1000)] = pick([100, -100])
  const params: SamplingParamsInput = {
    temperature: pick([0, 1e-6, 0.01, 0.05, 0.7, 1, 2, 100]),
    topK: pick([-1, 0, 1, 2, vocab - 1, vocab, vocab + 5, 40]),
    topP: pick([1, 1, 1e-9, 0.5, 0.999999, 0.9]),
    minP: pick([0, 0, 1, 0.999, 0.3, 1e-9]),
    repetitionPenalty: pick([1, 1, 0.01, 100, 1.1, 3]),
    frequencyPenalty: pick([0, 2, -2, 0.3]),
    presencePenalty: pick([0, 2, -2, 0.5]),
    logprobs: pick([null, 0, 1, 5, 20]),
    logitBias: biasIds > 0 || Object.keys(bias).length > 0 ? bias : null,
  }
  const promptLength = pick([0, 3, 500])
  const history = ids(promptLength + pick([0, 1, 300, 2000]))
  // makeSamplingParams raises (0, 0.01) to 0.01; set some tiny ones after it so the samplers' own greedy rule is fuzzed.
  const made = makeSamplingParams(params)
  const rawTemperature = pick([null, null, null, 1e-6, 9.9e-6, 1e-5])
  return {
    row,
    params: rawTemperature === null ? made : {...made, temperature: rawTemperature},
    tokenIds: history,
    promptLength,
    seed: pick([0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, int(2 ** 31)]),
    stream: pick([0, 1, 63]),
    suppressTokenIds: pick([[], ids(5), [vocab + 1, -1], Array.from({length: vocab}, (_, i) => i)]),
    allowedMask: pick([null, null, null, bitmaskOf(ids(Math.max(1, vocab >> 3)), vocab), bitmaskOf([int(vocab)], vocab)]),
  }
}

function nativeSample(logits: Float32Array, vocab: number, requests: SampleRequest[], useAvx2: boolean): SampleResult[] {
  ops.setAvx2(useAvx2)
  const arrays = encodeSampleRequests(requests, [])
  const sampled = ops.sampleRows(logits, logits.length / vocab, vocab, arrays)
  return requests.map((request, i) => sampledResult(sampled, i, arrays.topStride, request.params))
}

const close = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b))
function differences(got: SampleResult, want: SampleResult): string[] {
  const found: string[] = []
  if (got.tokenId !== want.tokenId) found.push(`token ${got.tokenId} vs ${want.tokenId}`)
  if (!close(got.logprob, want.logprob)) found.push(`logprob ${got.logprob} vs ${want.logprob}`)
  if ((got.topLogprobs === null) !== (want.topLogprobs === null)) found.push('topLogprobs presence')
  else if (want.topLogprobs !== null) {
    const g = [...got.topLogprobs!], w = [...want.topLogprobs]
    if (g.length !== w.length) found.push(`top count ${g.length} vs ${w.length}`)
    else if (g.some(([id, lp], i) => id !== w[i]![0] || !close(lp, w[i]![1]))) found.push(`tops ${JSON.stringify(g.slice(0, 4))} vs ${JSON.stringify(w.slice(0, 4))}`)
  }
  return found
}

const vocabs = [7, 33, 50257, 151936]
let checked = 0
const failures = new Map<string, {count: number; example: string}>()
const note = (key: string, example: string) => {
  const entry = failures.get(key) ?? {count: 0, example}
  entry.count++
  failures.set(key, entry)
}
for (const vocab of vocabs) {
  const rowsPerBatch = vocab > 100000 ? 4 : 16
  const batches = Math.ceil(casesPerVocab / 64)
  for (let b = 0; b < batches; b++) {
    const kinds = Array.from({length: rowsPerBatch}, () => pick(ROW_KINDS))
    const logits = new Float32Array(rowsPerBatch * vocab)
    kinds.forEach((kind, r) => logits.set(hostileRow(kind, vocab), r * vocab))
    const requests = Array.from({length: 64}, () => extremeRequest(int(rowsPerBatch), vocab))
    const before = logits.slice()
    const reference = sampleRows(logits, vocab, requests)
    const runs: Array<[string, SampleResult[]]> = [['portable', nativeSample(logits, vocab, requests, false)]]
    if (avx2.supported) runs.push(['avx2', nativeSample(logits, vocab, requests, true)])
    if (!logits.every((v, i) => v === before[i] || (Number.isNaN(v) && Number.isNaN(before[i]!)))) note('logits changed', `vocab ${vocab}`)
    requests.forEach((request, i) => {
      checked++
      const want = reference[i]!
      const kind = kinds[request.row]!
      const {params} = request
      const desc = `vocab ${vocab} row ${kind} ${JSON.stringify({t: params.temperature, k: params.topK, p: params.topP, minP: params.minP, rep: params.repetitionPenalty, f: params.frequencyPenalty, pr: params.presencePenalty, lp: params.logprobs, bias: params.logitBias?.ids.length ?? 0, suppress: request.suppressTokenIds.length, mask: request.allowedMask ? 1 : 0, hist: request.tokenIds.length})}`
      if (!(Number.isInteger(want.tokenId) && want.tokenId >= 0 && want.tokenId < vocab)) note(`js token out of vocab (${kind})`, desc)
      if (Number.isNaN(want.logprob)) note(`js NaN logprob (${kind})`, desc)
      // Speculative decoding's view of the same request: a distribution (no NaN, sums to 1) holding the drawn token.
      const distribution = samplingDistribution(logits.subarray(request.row * vocab, (request.row + 1) * vocab), vocab, {...request, row: 0})
      let sum = 0
      for (const p of distribution) sum += p
      if (!(Math.abs(sum - 1) < 1e-4)) note(`samplingDistribution sums to ${Number.isNaN(sum) ? 'NaN' : 'not 1'} (${kind})`, `${desc}: ${sum}`)
      if (!(distribution[want.tokenId]! > 0)) note(`drawn token outside samplingDistribution (${kind})`, `${desc}: token ${want.tokenId}`)
      for (const [name, results] of runs) {
        const diff = differences(results[i]!, want)
        if (diff.length > 0) note(`${name} != js (${kind}): ${diff.map((d) => d.split(' ')[0]).join(',')}`, `${desc}: ${diff.join('; ')}`)
      }
    })
  }
}
ops.setAvx2(avx2.enabled)
console.log(`checked ${checked} requests (vocab ${vocabs.join(', ')}), avx2 ${avx2.supported}`)
for (const [key, {count, example}] of failures) console.log(`${count}x ${key}\n   e.g. ${example}`)
if (failures.size === 0) console.log('no differences')
