// Adversarial parity fuzz of the samplers: the backend's (native/cpu/sampler.cpp, AVX2 and portable) against the JS
// reference (sampler.ts) over extreme parameters (temperature 1e-6..100, top_k -1..>vocab, top_p 1e-9, min_p 1,
// +-100 biases on many and out-of-range ids, repetition_penalty 0.01..100 over long histories) and hostile rows
// (ties, all-equal, -inf, NaN, +-3e38, every token suppressed), at vocab sizes that are not multiples of 8 or 32; and
// samplingDistribution (speculative decoding) of each request must be a distribution that holds the drawn token.
// Usage: npx tsx scripts/fuzz-sampling.ts [cases per vocab, default 400] [seed]
import {nativeOps} from '../src/engine/native.js'
import {encodeSampleRequests, sampledResult} from '../src/engine/native-sampling.js'
import {makeRng} from '../src/engine/random.js'
import {sampleRows, samplingDistribution, type SampleRequest, type SampleResult} from '../src/engine/sampler.js'
import {extremeRequest, hostileRow, HOSTILE_ROW_KINDS} from '../test/support/sample-requests.js'

const ops = nativeOps()
const avx2 = ops.avx2Status()
const casesPerVocab = Number(process.argv[2] ?? 400)
const rng = makeRng(Number(process.argv[3] ?? 7), 3)
const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.nextFloat() * values.length)]!
const int = (n: number) => Math.floor(rng.nextFloat() * n)

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
const nanLogprobs = new Map<string, number>()
const note = (key: string, example: string) => {
  const entry = failures.get(key) ?? {count: 0, example}
  entry.count++
  failures.set(key, entry)
}
for (const vocab of vocabs) {
  const rowsPerBatch = vocab > 100000 ? 4 : 16
  const batches = Math.ceil(casesPerVocab / 64)
  for (let b = 0; b < batches; b++) {
    const kinds = Array.from({length: rowsPerBatch}, () => pick(HOSTILE_ROW_KINDS))
    const logits = new Float32Array(rowsPerBatch * vocab)
    kinds.forEach((kind, r) => logits.set(hostileRow(rng, kind, vocab), r * vocab))
    const requests = Array.from({length: 64}, () => extremeRequest(rng, int(rowsPerBatch), vocab))
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
      // A row with a NaN, a +inf or no finite logit has NaN raw logprobs (as log_softmax gives; served as -9999.0).
      if (Number.isNaN(want.logprob)) nanLogprobs.set(kind, (nanLogprobs.get(kind) ?? 0) + 1)
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
console.log(`NaN raw logprobs (hostile rows, expected): ${JSON.stringify(Object.fromEntries(nanLogprobs))}`)
for (const [key, {count, example}] of failures) console.log(`${count}x ${key}\n   e.g. ${example}`)
if (failures.size === 0) console.log('no differences')
