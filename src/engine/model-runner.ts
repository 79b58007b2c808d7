// Turns a scheduler output into flat typed arrays and runs them as ONE native call per step.
import type {BlockCopy, BlockManager, BlockMapping} from './block-manager.js'
import type {BlockMovesArrays, ForwardBatchArrays, NativeModel} from './native.js'
import {compactRows, type NativeSampledArrays, type NativeSamplingArrays, type SamplingPlan} from './native-sampling.js'
import type {ScheduledSequence, SchedulerOutput} from './scheduler.js'

/** Where each scheduled sequence's logits rows landed in the returned logits array. */
export interface LogitsRows {
  /** Row of the last computed token (sampling), or -1 when the sequence did not reach its end this step. */
  sampleRow: number
  /** Rows of every computed token, in order, when prompt logprobs were asked for (else null). */
  promptRows: number[] | null
  /** Speculative decoding: the rows after sampleRow, one per draft token (row i predicts the token after draft i). */
  draftRows: number[]
}

export interface PreparedStep {
  batch: ForwardBatchArrays
  moves: BlockMovesArrays
  rows: LogitsRows[]
}

function flattenPairs(pairs: ReadonlyArray<BlockCopy>): Int32Array {
  const flat = new Int32Array(pairs.length * 2)
  pairs.forEach((pair, i) => {
    flat[2 * i] = pair.src
    flat[2 * i + 1] = pair.dst
  })
  return flat
}

function flattenMappings(mappings: ReadonlyArray<BlockMapping>): Int32Array {
  return flattenPairs(mappings.map((mapping) => ({src: mapping.from, dst: mapping.to})))
}

/** Builds the batch layout of native/include/pagedllm/backend.h from the scheduled sequences. */
export function prepareStep(output: SchedulerOutput, blockManager: BlockManager, blockSize: number): PreparedStep {
  const scheduled: ScheduledSequence[] = output.scheduled
  const numTokens = scheduled.reduce((sum, entry) => sum + entry.numNewTokens, 0)
  const tables = scheduled.map((entry) => blockManager.getBlockTable(entry.seq))
  const maxBlocksPerSeq = Math.max(1, ...tables.map((table) => table.length))

  const tokenIds = new Int32Array(numTokens)
  const positions = new Int32Array(numTokens)
  const slotMapping = new Int32Array(numTokens)
  const queryStartLoc = new Int32Array(scheduled.length + 1)
  const contextLens = new Int32Array(scheduled.length)
  const blockTables = new Int32Array(scheduled.length * maxBlocksPerSeq)
  const logitsIndices: number[] = []
  const rows: LogitsRows[] = []

  let row = 0
  scheduled.forEach((entry, i) => {
    const {seq, numNewTokens, draftTokenIds} = entry
    const table = tables[i]!
    const {start} = entry
    for (let k = 0; k < numNewTokens; k++) {
      const position = start + k
      tokenIds[row + k] = position < seq.length ? seq.tokenIds[position]! : draftTokenIds[position - seq.length]!
      positions[row + k] = position
      slotMapping[row + k] = table[Math.floor(position / blockSize)]! * blockSize + (position % blockSize)
    }
    queryStartLoc[i + 1] = row + numNewTokens
    contextLens[i] = start + numNewTokens
    blockTables.set(table, i * maxBlocksPerSeq)

    // Prompt logprobs need every prompt row; sampling needs only the last row.
    const wantsPromptRows = entry.group.params.promptLogprobs !== null && start < seq.promptLength
    let promptRows: number[] | null = null
    if (wantsPromptRows) {
      promptRows = []
      for (let k = 0; k < numNewTokens; k++) {
        promptRows.push(logitsIndices.length)
        logitsIndices.push(row + k)
      }
    }
    let sampleRow = -1
    const draftRows: number[] = []
    const lastRealRow = row + numNewTokens - 1 - draftTokenIds.length
    if (entry.samples) {
      if (promptRows) sampleRow = promptRows[lastRealRow - row]!
      else {
        sampleRow = logitsIndices.length
        logitsIndices.push(lastRealRow)
      }
      for (let k = 1; k <= draftTokenIds.length; k++) {
        draftRows.push(promptRows ? promptRows[lastRealRow - row + k]! : logitsIndices.length)
        if (!promptRows) logitsIndices.push(lastRealRow + k)
      }
    }
    rows.push({sampleRow, promptRows, draftRows})
    row += numNewTokens
  })

  return {
    batch: {
      tokenIds,
      positions,
      slotMapping,
      queryStartLoc,
      contextLens,
      blockTables,
      maxBlocksPerSeq,
      logitsIndices: Int32Array.from(logitsIndices),
    },
    moves: {
      copies: flattenPairs(output.blockCopies),
      swapOut: flattenMappings(output.swapOut),
      swapIn: flattenMappings(output.swapIn),
    },
    rows,
  }
}

/** A step's answer: the logits JS reads, where each sequence's rows are in them, and the backend's samples (if planned). */
export interface RunResult<Plan extends {arrays: NativeSamplingArrays} = SamplingPlan> {
  logits: Float32Array
  rows: LogitsRows[]
  backend: {plan: Plan; sampled: NativeSampledArrays} | null
}

export class ModelRunner {
  constructor(
    private readonly model: NativeModel,
    private readonly blockManager: BlockManager,
    private readonly blockSize: number,
  ) {}

  /**
   * Runs one step; resolves with the logits JS reads and where each sequence's rows are in them. `planSampling` (given
   * where the rows are) may ask the backend to sample: then only its host rows come back, plus the backend's samples.
   */
  async run<Plan extends {arrays: NativeSamplingArrays}>(
    output: SchedulerOutput,
    planSampling: (rows: readonly LogitsRows[]) => Plan | null = () => null,
  ): Promise<RunResult<Plan>> {
    const prepared = prepareStep(output, this.blockManager, this.blockSize)
    const plan = planSampling(prepared.rows)
    if (plan === null) return {logits: await this.model.step(prepared.moves, prepared.batch), rows: prepared.rows, backend: null}
    const {logits, sampled} = await this.model.stepAndSample(prepared.moves, prepared.batch, plan.arrays)
    return {logits, rows: compactRows(prepared.rows, plan.arrays.hostRows), backend: {plan, sampled}}
  }
}
