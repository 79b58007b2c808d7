// The native paged forward pass agrees with the float64 reference (relative error < 1e-4) on every kind of batch the engine builds.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {loadModel} from '../src/engine/model/load-model.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import type {TensorDtype} from '../src/engine/model/safetensors.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {loadNativeModel, type NativeModel, type WeightFormat} from '../src/engine/native.js'
import {TestBlockPool, TestSequence, buildStep, logitsRow, type StepPart} from './support/paged-batch.js'
import {relativeError} from './support/relative-error.js'
import {ReferenceModel, argmax} from './support/reference-model.js'
import {TINYCHAT_DIR, tinychatReference} from './support/tinychat.js'

const TOLERANCE = 1e-4
/** Small blocks so that sequences span many blocks and every block boundary case shows up. */
const BLOCK_SIZE = 4
const NUM_BLOCKS = 256
/** PAGEDLLM_TEST_DEVICE=cuda runs the same checks on the GPU backend. */
const DEVICE = process.env.PAGEDLLM_TEST_DEVICE === 'cuda' ? 'cuda' : 'cpu'

interface Harness {
  native: NativeModel
  reference: ReferenceModel
  vocabSize: number
  /** Largest relative error seen, for the report line at the end. */
  worst: number
}

async function openHarness(dir: string, weightFormat: WeightFormat = 'f32'): Promise<Harness> {
  const model = await loadModel(dir)
  const native = await loadNativeModel({
    config: model.config, tensors: model.tensors, numBlocks: NUM_BLOCKS, blockSize: BLOCK_SIZE,
    numSwapBlocks: 0, weightFormat, threads: 2, device: DEVICE,
  })
  return {native, reference: await ReferenceModel.load(dir), vocabSize: model.config.vocabSize, worst: 0}
}

/** Runs one step; returns each part's requested logits rows. */
async function step(h: Harness, parts: StepPart[], pool: TestBlockPool): Promise<Float32Array[][]> {
  const {batch, logitRows} = buildStep(parts, pool, BLOCK_SIZE)
  const logits = await h.native.step({}, batch)
  assert.equal(logits.length, batch.logitsIndices.length * h.vocabSize)
  return logitRows.map((rows) => rows.map((row) => logitsRow(logits, row, h.vocabSize)))
}

/** Checks the rows a part produced against the reference logits of the same positions. */
function expectMatches(h: Harness, sequence: TestSequence, part: StepPart, rows: Float32Array[], label: string): void {
  const end = sequence.cachedTokens
  const reference = h.reference.logits(sequence.tokens.slice(0, end))
  const positions = part.logits === 'all' ? [...Array(part.count).keys()].map((i) => end - part.count + i) : [end - 1]
  assert.equal(rows.length, positions.length)
  positions.forEach((position, i) => {
    const error = relativeError(rows[i], reference[position])
    h.worst = Math.max(h.worst, error)
    assert.ok(error < TOLERANCE, `${label}: position ${position} relative error ${error.toExponential(2)}`)
  })
}

function randomTokens(count: number, vocabSize: number, seed: number): number[] {
  const random = new SeededRandom(seed)
  return [1, ...Array.from({length: count - 1}, () => 5 + random.nextInt(vocabSize - 5))]
}

/** Greedy decoding of `sequences` for `steps` steps; `joins` maps a step index to sequences that start (prefill) then. */
async function greedyRun(h: Harness, pool: TestBlockPool, runs: {sequence: TestSequence; startStep: number; newTokens: number}[]): Promise<number[][]> {
  const generated = runs.map(() => [] as number[])
  for (let stepIndex = 0; runs.some((r, i) => generated[i].length < r.newTokens); stepIndex++) {
    const active = runs.map((r, i) => ({r, i})).filter(({r, i}) => r.startStep <= stepIndex && generated[i].length < r.newTokens)
    const parts = active.map(({r}) => ({sequence: r.sequence, count: r.sequence.tokens.length - r.sequence.cachedTokens, logits: 'last' as const}))
    const rows = await step(h, parts, pool)
    active.forEach(({r, i}, k) => {
      const next = argmax(rows[k][0])
      generated[i].push(next)
      r.sequence.tokens.push(next)
    })
  }
  return generated
}

describe(`native forward vs float64 reference (${DEVICE})`, () => {
  let h: Harness
  before(async () => {
    h = await openHarness(await ensureTestModel('tiny'))
  })
  after(() => {
    h.native.close()
    console.log(`# tiny f32: worst relative error ${h.worst.toExponential(2)}`)
  })

  it('single-sequence prefill: every position', async () => {
    const sequence = new TestSequence(randomTokens(21, h.vocabSize, 1))
    const part: StepPart = {sequence, count: 21, logits: 'all'}
    const [rows] = await step(h, [part], new TestBlockPool(NUM_BLOCKS))
    expectMatches(h, sequence, part, rows, 'prefill')
  })

  it('batch of mixed-length prompts (1 to 40 tokens)', async () => {
    const pool = new TestBlockPool(NUM_BLOCKS)
    const parts: StepPart[] = [1, 6, 17, 40].map((length, i) => ({sequence: new TestSequence(randomTokens(length, h.vocabSize, 10 + i)), count: length, logits: 'all'}))
    const rows = await step(h, parts, pool)
    parts.forEach((part, i) => expectMatches(h, part.sequence, part, rows[i], `prompt ${i}`))
  })

  it('mixed prefill + decode batches, with sequences joining and chunked midway', async () => {
    const pool = new TestBlockPool(NUM_BLOCKS, 7)
    const [a, b, c, d] = [14, 6, 9, 20].map((length, i) => new TestSequence(randomTokens(length, h.vocabSize, 20 + i)))
    const schedule: StepPart[][] = [
      [{sequence: a, count: 12, logits: 'last'}, {sequence: b, count: 5, logits: 'all'}],
      [{sequence: a, count: 1, logits: 'last'}, {sequence: b, count: 1, logits: 'last'}, {sequence: c, count: 9, logits: 'all'}, {sequence: d, count: 7, logits: 'last'}],
      [{sequence: d, count: 13, logits: 'all'}, {sequence: a, count: 1, logits: 'last'}],
    ]
    for (const [s, parts] of schedule.entries()) {
      const rows = await step(h, parts, pool)
      parts.forEach((part, i) => expectMatches(h, part.sequence, part, rows[i], `step ${s} part ${i}`))
    }
  })

  it('prefill in chunks (13, 1, 16, 15 tokens) equals the whole prompt at once', async () => {
    const pool = new TestBlockPool(NUM_BLOCKS)
    const sequence = new TestSequence(randomTokens(45, h.vocabSize, 30))
    for (const count of [13, 1, 16, 15]) {
      const part: StepPart = {sequence, count, logits: 'all'}
      const [rows] = await step(h, [part], pool)
      expectMatches(h, sequence, part, rows, `chunk of ${count}`)
    }
  })

  it('sequences whose blocks are scattered over the pool (shuffled ids, interleaved growth)', async () => {
    const pool = new TestBlockPool(NUM_BLOCKS, 12345)
    const x = new TestSequence(randomTokens(30, h.vocabSize, 40))
    const y = new TestSequence(randomTokens(30, h.vocabSize, 41))
    for (const count of [3, 5, 9, 13]) {
      const parts: StepPart[] = [{sequence: x, count, logits: 'all'}, {sequence: y, count, logits: 'all'}]
      const rows = await step(h, parts, pool)
      parts.forEach((part, i) => expectMatches(h, part.sequence, part, rows[i], `seq ${i}`))
    }
    const ascending = (table: number[]) => table.every((block, i) => i === 0 || block === table[i - 1] + 1)
    assert.ok(!ascending(x.blockTable) && !ascending(y.blockTable), 'block tables are really scattered')
  })

  it('greedy output of a sequence is the same alone, batched with others, and in the reference', async () => {
    const prompt = randomTokens(11, h.vocabSize, 50)
    const expected = h.reference.greedy(prompt, 12)
    const [alone] = await greedyRun(h, new TestBlockPool(NUM_BLOCKS), [{sequence: new TestSequence([...prompt]), startStep: 0, newTokens: 12}])
    assert.deepEqual(alone, expected)
    const batched = await greedyRun(h, new TestBlockPool(NUM_BLOCKS, 3), [
      {sequence: new TestSequence(randomTokens(30, h.vocabSize, 51)), startStep: 0, newTokens: 6},
      {sequence: new TestSequence([...prompt]), startStep: 1, newTokens: 12},
      {sequence: new TestSequence(randomTokens(3, h.vocabSize, 52)), startStep: 0, newTokens: 15},
      {sequence: new TestSequence(randomTokens(25, h.vocabSize, 53)), startStep: 5, newTokens: 4},
    ])
    assert.deepEqual(batched[1], expected)
  })
})

describe(`native forward on the built-in tinychat (${DEVICE})`, () => {
  it('matches reference.json: top-10 logits within 1e-4 and 32 greedy ids for all 6 prompts, decoded as one batch', async () => {
    const h = await openHarness(TINYCHAT_DIR)
    try {
      const reference = tinychatReference()
      const pool = new TestBlockPool(NUM_BLOCKS, 99)
      const sequences = reference.prompts.map((p) => new TestSequence([...p.prompt_token_ids]))
      const prefill = await step(h, sequences.map((sequence) => ({sequence, count: sequence.tokens.length, logits: 'last'})), pool)
      let worstTop10 = 0
      reference.prompts.forEach((prompt, i) => {
        const row = prefill[i][0]
        const error = relativeError(prompt.last_position_top10.ids.map((id) => row[id]), prompt.last_position_top10.logits)
        worstTop10 = Math.max(worstTop10, error)
        assert.ok(error < TOLERANCE, `prompt ${i}: top-10 relative error ${error.toExponential(2)}`)
      })
      // Full-row check on the two shortest prompts (the float64 reference is slow on long ones).
      for (const i of [0, 3]) {
        const error = relativeError(prefill[i][0], h.reference.nextLogits(reference.prompts[i].prompt_token_ids))
        h.worst = Math.max(h.worst, error)
        assert.ok(error < TOLERANCE, `prompt ${i}: full-row relative error ${error.toExponential(2)}`)
      }
      const generated = sequences.map((sequence, i) => {
        const next = argmax(prefill[i][0])
        sequence.tokens.push(next)
        return [next]
      })
      for (let n = 1; n < reference.max_new_tokens; n++) {
        const rows = await step(h, sequences.map((sequence) => ({sequence, count: 1, logits: 'last'})), pool)
        sequences.forEach((sequence, i) => {
          const next = argmax(rows[i][0])
          generated[i].push(next)
          sequence.tokens.push(next)
        })
      }
      reference.prompts.forEach((prompt, i) => assert.deepEqual(generated[i], prompt.greedy_token_ids, `prompt ${i}`))
      console.log(`# tinychat: worst top-10 relative error ${worstTop10.toExponential(2)}, full row ${h.worst.toExponential(2)}`)
    } finally {
      h.native.close()
    }
  })
})

describe(`native forward on other architectures and checkpoint dtypes (${DEVICE})`, () => {
  const cases: {variant: TestModelVariant; dtype: TensorDtype; weightFormat: WeightFormat}[] = [
    {variant: 'qwen2', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'llama3', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'qwen3', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'yarn', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'gemma', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'gemma', dtype: 'BF16', weightFormat: 'bf16'},
    {variant: 'gemma2', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'phi3', dtype: 'F32', weightFormat: 'f32'},
    {variant: 'phi3', dtype: 'BF16', weightFormat: 'bf16'},
    {variant: 'qwen3', dtype: 'BF16', weightFormat: 'bf16'},
    {variant: 'llama', dtype: 'BF16', weightFormat: 'bf16'},
    {variant: 'llama', dtype: 'BF16', weightFormat: 'f32'},
    {variant: 'llama', dtype: 'F16', weightFormat: 'f16'},
  ]
  for (const {variant, dtype, weightFormat} of cases) {
    it(`${variant} checkpoint in ${dtype}, computed with ${weightFormat} weights: prefill + decode`, async () => {
      const h = await openHarness(await ensureTestModel('tiny', {variant, dtype}), weightFormat)
      try {
        const pool = new TestBlockPool(NUM_BLOCKS, 5)
        const a = new TestSequence(randomTokens(19, h.vocabSize, 60))
        const b = new TestSequence(randomTokens(8, h.vocabSize, 61))
        const first: StepPart[] = [{sequence: a, count: 18, logits: 'all'}, {sequence: b, count: 7, logits: 'all'}]
        const firstRows = await step(h, first, pool)
        first.forEach((part, i) => expectMatches(h, part.sequence, part, firstRows[i], `prefill ${i}`))
        const second: StepPart[] = [{sequence: a, count: 1, logits: 'last'}, {sequence: b, count: 1, logits: 'last'}]
        const secondRows = await step(h, second, pool)
        second.forEach((part, i) => expectMatches(h, part.sequence, part, secondRows[i], `decode ${i}`))
        console.log(`# ${variant} ${dtype}/${weightFormat}: worst relative error ${h.worst.toExponential(2)}`)
      } finally {
        h.native.close()
      }
    })
  }
})
