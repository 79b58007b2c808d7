// Host work on a step's critical path: per step, the time the backend waits between steps for the host (scheduling,
// batch layout, applying the samples, text and snapshots) against the time it computes, for a batch of sampled
// requests run to the end, under each EngineConfig.hostOverlap: 'none' (all host work between the steps), 'outputs'
// (text and snapshots while the next forward pass runs), 'async' (also the next step scheduled and queued first).
// On a GPU every host millisecond on the critical path is a millisecond the GPU waits.
// Usage: npx tsx scripts/bench-host-work.ts [--preset tiny | --model DIR] [--device cpu|cuda] [--batch 256]
//          [--prompt-len 256] [--output-len 200] [--threads 1] [--rounds 2] [--stop-strings]
// --stop-strings gives every request a stop string, whose text must be made before the stop decision.
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import type {HostOverlap} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
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
  idleMs: number
  busyMs: number
  steps: number
  wallMs: number
}

/** Runs the batch to the end in a fresh engine: the backend's idle and busy time per step, and the wall time. */
async function measure(hostOverlap: HostOverlap): Promise<Measured & {device: string}> {
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
      hostOverlap,
    }),
  )
  const vocab = engine.model.config.vocabSize
  const before = engine.native.timing()
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
  const after = engine.native.timing()
  await engine.shutdown()
  const steps = after.steps - before.steps
  return {idleMs: (after.idleMs - before.idleMs) / steps, busyMs: (after.busyMs - before.busyMs) / steps, steps, wallMs, device: engine.native.info.deviceName}
}

const modes: HostOverlap[] = ['none', 'outputs', 'async']
const rows: Array<{mode: HostOverlap; measured: Measured & {device: string}}> = []
for (let round = 0; round < Number(args.rounds); round++) {
  for (const mode of modes) rows.push({mode, measured: await measure(mode)})
}
console.log(`${rows[0]!.measured.device}; ${args.model ?? args.preset}; ${batch} requests, ${args['prompt-len']} prompt + ${args['output-len']} output tokens${args['stop-strings'] ? ', a stop string each' : ''}`)
for (const {mode, measured: m} of rows) {
  const share = (100 * m.idleMs) / (m.idleMs + m.busyMs)
  console.log(`hostOverlap ${mode.padEnd(7)}  backend idle ${m.idleMs.toFixed(3)} ms + busy ${m.busyMs.toFixed(3)} ms per step (idle ${share.toFixed(1)}%), ${m.steps} steps, wall ${(m.wallMs / 1000).toFixed(2)} s`)
}
const medianOf = (mode: HostOverlap, pick: (m: Measured) => number) => median(rows.filter((row) => row.mode === mode).map((row) => pick(row.measured)))
for (const mode of modes.slice(1)) {
  const idleRatio = medianOf('none', (m) => m.idleMs) / medianOf(mode, (m) => m.idleMs)
  const wallRatio = medianOf('none', (m) => m.wallMs) / medianOf(mode, (m) => m.wallMs)
  console.log(`none / ${mode}: backend idle per step ${idleRatio.toFixed(2)}x, wall time ${wallRatio.toFixed(2)}x`)
}
