// Turns a scheduler output into flat typed arrays and runs them as ONE native call per step.
import type {BlockCopy, BlockManager, BlockMapping} from './block-manager.js'
import type {BlockMovesArrays, ForwardBatchArrays, NativeModel, PromptLogprobArrays} from './native.js'
import {compactRows, type NativeSampledArrays, type NativeSamplingArrays, type SamplingPlan} from './native-sampling.js'
import {PromptLogprobRows} from './prompt-logprobs.js'
import type {ScheduledSequence, SchedulerOutput} from './scheduler.js'

/** Where each scheduled sequence's logits rows landed in the returned logits array. */
export interface LogitsRows {
  /** Row of the last computed token (sampling), or -1 when the sequence did not reach its end this step. */
  sampleRow: number
  /** Speculative decoding: the rows after sampleRow, one per draft token (row i predicts the token after draft i). */
  draftRows: number[]
}

export interface PreparedStep {
  batch: ForwardBatchArrays
  moves: BlockMovesArrays
  rows: LogitsRows[]
  /** The prompt rows the step ranks (prompt_logprobs / echo), or null when no entry asks. */
  promptLogprobs: PromptLogprobRows | null
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
  const promptLogprobs = new PromptLogprobRows()

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

    // Prompt rows are ranked in the step (only their answers come back); sampling needs the last row and the drafts'.
    if (entry.group.params.promptLogprobs !== null && start < seq.promptLength) promptLogprobs.add(i, entry.group, seq, start, row, numNewTokens)
    let sampleRow = -1
    const draftRows: number[] = []
    const lastRealRow = row + numNewTokens - 1 - draftTokenIds.length
    if (entry.samples) {
      sampleRow = logitsIndices.length
      for (let k = 0; k <= draftTokenIds.length; k++) {
        if (k > 0) draftRows.push(logitsIndices.length)
        logitsIndices.push(lastRealRow + k)
      }
    }
    rows.push({sampleRow, draftRows})
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
      // Hybrid models: each sequence's recurrent state slot, and the forks' state copies (applied before the forward).
      ...(blockManager.stateSlots ? {stateSlots: Int32Array.from(scheduled, (entry) => blockManager.stateSlot(entry.seq))} : {}),
    },
    moves: {
      copies: flattenPairs(output.blockCopies),
      swapOut: flattenMappings(output.swapOut),
      swapIn: flattenMappings(output.swapIn),
      ...(blockManager.stateSlots ? {stateCopies: flattenPairs(blockManager.takeStateCopies())} : {}),
    },
    rows,
    promptLogprobs: promptLogprobs.isEmpty ? null : promptLogprobs,
  }
}

/** A step's answer: the logits JS reads, where each sequence's rows are in them, and the backend's samples (if planned). */
export interface RunResult<Plan extends {arrays: NativeSamplingArrays} = SamplingPlan> {
  logits: Float32Array
  rows: LogitsRows[]
  backend: {plan: Plan; sampled: NativeSampledArrays} | null
  /** The prompt rows ranked in the step and their answers (null when no entry asked). */
  promptLogprobs: {rows: PromptLogprobRows; ranked: PromptLogprobArrays} | null
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
   * Prompt rows asked for prompt logprobs are ranked in the step: only their answers come back.
   */
  async run<Plan extends {arrays: NativeSamplingArrays}>(
    output: SchedulerOutput,
    planSampling: (rows: readonly LogitsRows[]) => Plan | null = () => null,
  ): Promise<RunResult<Plan>> {
    const prepared = prepareStep(output, this.blockManager, this.blockSize)
    const plan = planSampling(prepared.rows)
    const rows = plan === null ? prepared.rows : compactRows(prepared.rows, plan.arrays.hostRows)
    const asked = prepared.promptLogprobs
    if (asked !== null) {
      const {logits, sampled, promptLogprobs} = await this.model.stepRanked(prepared.moves, prepared.batch, plan?.arrays ?? null, asked.asked())
      return {logits, rows, backend: plan && sampled ? {plan, sampled} : null, promptLogprobs: {rows: asked, ranked: promptLogprobs}}
    }
    if (plan === null) return {logits: await this.model.step(prepared.moves, prepared.batch), rows, backend: null, promptLogprobs: null}
    const {logits, sampled} = await this.model.stepAndSample(prepared.moves, prepared.batch, plan.arrays)
    return {logits, rows, backend: {plan, sampled}, promptLogprobs: null}
  }
}
