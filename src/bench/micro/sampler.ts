// Micro-benchmark of the samplers (tinybench): ms per row for greedy, temperature, top-p, top-k, min-p and penalties at real vocab
// sizes, the JS sampler (sampler.ts) and the CPU backend's (ops.sampleRows, on the ops pool) on the same rows.
import {fileURLToPath} from 'node:url'
import {Bench} from 'tinybench'
import {nativeOps} from '../../engine/native.js'
import {encodeSampleRequests} from '../../engine/native-sampling.js'
import {type LogitBias, logitBiasFromPairs} from '../../engine/logit-bias.js'
import {makeRng} from '../../engine/random.js'
import {makeSamplingParams, type SamplingParams} from '../../engine/sampling-params.js'
import {sampleRows, type SampleRequest} from '../../engine/sampler.js'

export interface SamplerBenchRow {
  name: string
  vocabSize: number
  batchSize: number
  /** Mean time of one sampleRows call over the whole batch. */
  meanMs: number
  /** Fastest call: the least disturbed by other load on a shared machine. */
  minMs: number
  msPerRow: number
  samples: number
}

export interface SamplerBenchOptions {
  vocabSizes?: number[]
  batchSizes?: number[]
  /** Time budget per case in ms (each case also runs at least `iterations` times). */
  timeMs?: number
  iterations?: number
}

/** 300 biased tokens spread over the vocabulary (OpenAI's most), half pushed up, half down. */
function spreadBias(vocabSize: number): LogitBias {
  const ids = Array.from({length: 300}, (_, i) => Math.floor((i * vocabSize) / 300) + 1)
  return logitBiasFromPairs(ids, ids.map((_, i) => (i % 2 === 0 ? 5 : -5)))
}

const CASES: Array<{name: string; params: Partial<SamplingParams>; penalties?: boolean; bias?: boolean}> = [
  {name: 'greedy', params: {temperature: 0}},
  {name: 'temperature 0.8', params: {temperature: 0.8}},
  {name: 'top-p 0.9', params: {topP: 0.9}},
  {name: 'top-k 50', params: {topK: 50}},
  {name: 'min-p 0.05 + top-p 0.9', params: {minP: 0.05, topP: 0.9}},
  {name: 'penalties (rep 1.1, freq 0.5, pres 0.5)', params: {repetitionPenalty: 1.1, frequencyPenalty: 0.5, presencePenalty: 0.5}, penalties: true},
  {name: 'logit_bias 300, greedy', params: {temperature: 0}, bias: true},
  {name: 'logit_bias 300, top-p 0.9', params: {topP: 0.9}, bias: true},
]

/** Gaussian logits (std 2.5): peaked enough to look like a model, flat enough that top-p keeps thousands of tokens. */
function gaussianLogits(numRows: number, vocabSize: number): Float32Array {
  const rng = makeRng(1234, 0)
  const logits = new Float32Array(numRows * vocabSize)
  for (let i = 0; i < logits.length; i++) {
    const radius = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()))
    logits[i] = 2.5 * radius * Math.cos(2 * Math.PI * rng.nextFloat())
  }
  return logits
}

function tokenHistory(length: number, vocabSize: number, stream: number): number[] {
  const rng = makeRng(99, stream)
  return Array.from({length}, () => Math.floor(rng.nextFloat() * vocabSize))
}

export async function runSamplerBenchmark(options: SamplerBenchOptions = {}): Promise<SamplerBenchRow[]> {
  const vocabSizes = options.vocabSizes ?? [32000, 152064]
  const batchSizes = options.batchSizes ?? [1, 64]
  const bench = new Bench({time: options.timeMs ?? 300, iterations: options.iterations ?? 5, warmupTime: 50, warmupIterations: 2})
  const shapes = new Map<string, {vocabSize: number; batchSize: number}>()
  for (const vocabSize of vocabSizes) {
    for (const batchSize of batchSizes) {
      const logits = gaussianLogits(batchSize, vocabSize)
      for (const benchCase of CASES) {
        const params = makeSamplingParams({...benchCase.params, logitBias: benchCase.bias ? spreadBias(vocabSize) : null})
        // A 512-token prompt and 128 generated tokens per row: what penalties have to walk.
        const requests: SampleRequest[] = Array.from({length: batchSize}, (_, row) => ({
          row,
          params,
          tokenIds: benchCase.penalties ? [...tokenHistory(512, vocabSize, 2 * row), ...tokenHistory(128, vocabSize, 2 * row + 1)] : [],
          promptLength: benchCase.penalties ? 512 : 0,
          seed: 7,
          stream: row,
          suppressTokenIds: [],
        }))
        const name = `${benchCase.name} | vocab ${vocabSize} | batch ${batchSize}`
        shapes.set(`${name} | js`, {vocabSize, batchSize})
        bench.add(`${name} | js`, () => {
          sampleRows(logits, vocabSize, requests)
        })
        const arrays = encodeSampleRequests(requests, [])
        shapes.set(`${name} | native`, {vocabSize, batchSize})
        bench.add(`${name} | native`, () => {
          nativeOps().sampleRows(logits, batchSize, vocabSize, arrays)
        })
      }
    }
  }
  await bench.run()
  return bench.tasks.map((task) => {
    const result = task.result
    if (!('latency' in result)) throw new Error(`benchmark task ${task.name} did not complete (${result.state})`)
    const shape = shapes.get(task.name)!
    return {
      name: task.name,
      ...shape,
      meanMs: result.latency.mean,
      minMs: result.latency.min,
      msPerRow: result.latency.mean / shape.batchSize,
      samples: result.latency.samplesCount,
    }
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runSamplerBenchmark()
  console.table(
    rows.map((row) => ({
      case: row.name,
      'mean ms': row.meanMs.toFixed(3),
      'ms/row (mean)': row.msPerRow.toFixed(4),
      'ms/row (min)': (row.minMs / row.batchSize).toFixed(4),
      samples: row.samples,
    })),
  )
}
