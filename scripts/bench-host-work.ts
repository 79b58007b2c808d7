// Host work on a step's critical path: per decode step, the time outside the forward pass (scheduling, batch
// layout, applying the samples, stats) against the forward pass itself, for a batch of sampled requests run to the
// end, with the text and snapshots made between steps and while the next forward pass runs (overlapOutputs).
// On a GPU every host millisecond on the critical path is a millisecond the GPU waits.
// Usage: npx tsx scripts/bench-host-work.ts [--preset tiny | --model DIR] [--device cpu|cuda] [--batch 256]
//          [--prompt-len 256] [--output-len 200] [--threads 1] [--rounds 2] [--stop-strings]
// --stop-strings gives every request a stop string, whose text must be made before the stop decision.
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'tiny'},
    model: {type: 'string'},
    device: {type: 'string', default: 'cpu'},
    batch: {type: 'string', default: '256'},
    'prompt-len': {type: 'string', default: '256'},
    'output-len': {type: 'string', default: '200'},
    threads: {type: 'string', default: '1'},
    rounds: {type: 'string', default: '2'},
    'stop-strings': {type: 'boolean', default: false},
  },
})
const batch = Number(args.batch)
const modelPath = args.model ?? (await ensureTestModel(args.preset as TestModelPreset))
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN

interface Measured {
  hostMs: number
  forwardMs: number
  wallMs: number
}

/** Runs the batch to the end in a fresh engine: the median decode step's host time on the critical path and forward time. */
async function measure(overlapOutputs: boolean): Promise<Measured & {device: string}> {
  const engine = await LLMEngine.create(
    makeEngineConfig({
      modelPath,
      device: args.device as 'cpu' | 'cuda',
      threads: Number(args.threads),
      // A GPU sizes its pool from free memory; the CPU default is smaller than a large batch wants.
      ...(args.device === 'cpu' ? {kvMemoryBytes: 2 ** 30} : {}),
      enablePrefixCaching: false,
      maxNumSeqs: batch,
      maxNumBatchedTokens: 8192,
      overlapOutputs,
    }),
  )
  const steps: StepStats[] = []
  engine.onStep((stats) => steps.push(stats))
  const vocab = engine.model.config.vocabSize
  const started = performance.now()
  await engine.generate(
    Array.from({length: batch}, (_, r) => ({
      prompt: Array.from({length: Number(args['prompt-len'])}, (_, i) => 5 + ((i * 7919 + r * 104729) % (vocab - 5))),
      params: makeSamplingParams({
        temperature: 0.8,
        topP: 0.9,
        seed: r,
        maxTokens: Number(args['output-len']),
        ignoreEos: true,
        stop: args['stop-strings'] ? ['\u0000never'] : [],
      }),
    })),
  )
  const wallMs = performance.now() - started
  await engine.shutdown()
  const decode = steps.filter((s) => s.numPrefillTokens === 0 && s.numDecodeTokens > 0)
  return {
    hostMs: median(decode.map((s) => s.durationMs - s.forwardMs)),
    forwardMs: median(decode.map((s) => s.forwardMs)),
    wallMs,
    device: engine.native.info.deviceName,
  }
}

const rows: Array<{overlap: boolean; measured: Measured & {device: string}}> = []
for (let round = 0; round < Number(args.rounds); round++) {
  for (const overlap of [false, true]) rows.push({overlap, measured: await measure(overlap)})
}
console.log(`${rows[0]!.measured.device}; ${args.model ?? args.preset}; ${batch} requests, ${args['prompt-len']} prompt + ${args['output-len']} output tokens${args['stop-strings'] ? ', a stop string each' : ''}`)
for (const {overlap, measured: m} of rows) {
  const share = (100 * m.hostMs) / (m.hostMs + m.forwardMs)
  console.log(`overlapOutputs ${String(overlap).padEnd(5)}  host ${m.hostMs.toFixed(3)} ms + forward ${m.forwardMs.toFixed(3)} ms per decode step (host ${share.toFixed(1)}%), wall ${(m.wallMs / 1000).toFixed(2)} s`)
}
const medianOf = (overlap: boolean, pick: (m: Measured) => number) => median(rows.filter((row) => row.overlap === overlap).map((row) => pick(row.measured)))
const hostRatio = medianOf(false, (m) => m.hostMs) / medianOf(true, (m) => m.hostMs)
const wallRatio = medianOf(false, (m) => m.wallMs) / medianOf(true, (m) => m.wallMs)
console.log(`without overlap / with: host work on the critical path ${hostRatio.toFixed(2)}x, wall time ${wallRatio.toFixed(2)}x`)
