// Reads ShareGPT- and Alpaca-format JSON files into (prompt, reference completion) text pairs.
import {readRegularFile} from '../engine/model/regular-file.js'
import {InvalidRequestError} from '../engine/errors.js'
import {decodeUtf8Strictly} from '../engine/strict-utf8.js'

export type DatasetFormat = 'sharegpt' | 'alpaca'

export interface PromptCompletionPair {
  prompt: string
  completion: string
}

export interface DatasetPairs {
  format: DatasetFormat
  /** Records in the file, before any filter. */
  records: number
  /** Pairs that could be formed (ShareGPT: conversations with at least two turns), in file order. */
  pairs: PromptCompletionPair[]
}

interface AlpacaRecord {
  instruction: string
  input?: string
  output: string
}

/** Tells the format from the first record: ShareGPT has `conversations`, Alpaca has `instruction` and `output`. */
export function detectDatasetFormat(records: unknown[], source: string): DatasetFormat {
  const first = records[0] as Record<string, unknown> | undefined
  if (first && Array.isArray(first.conversations)) return 'sharegpt'
  if (first && typeof first.instruction === 'string' && typeof first.output === 'string') return 'alpaca'
  throw new InvalidRequestError(
    `${source}: unknown dataset format; expected ShareGPT ([{conversations: [{from, value}]}]) or Alpaca ([{instruction, input, output}])`,
    {param: 'dataset'},
  )
}

/**
 * vLLM's pairing rules: ShareGPT keeps conversations with >= 2 turns, prompt = turn 0, completion = turn 1
 * (whatever their roles); Alpaca's prompt is the instruction, plus "\n" + input when there is one.
 * A record of the wrong shape is refused by its index: skipping it would quietly change the workload.
 */
export function pairsFromRecords(records: unknown[], format: DatasetFormat): PromptCompletionPair[] {
  const malformed = (index: number, expected: string) =>
    new InvalidRequestError(`dataset record ${index} is not ${format === 'sharegpt' ? 'a ShareGPT' : 'an Alpaca'} record: expected ${expected}`, {param: 'dataset'})
  const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
  const pairs: PromptCompletionPair[] = []
  records.forEach((record, index) => {
    if (format === 'sharegpt') {
      const turns = isRecord(record) ? record.conversations : undefined
      if (!Array.isArray(turns)) throw malformed(index, '{conversations: [{from, value}, ...]}')
      if (turns.length < 2) return
      const [prompt, completion] = turns.slice(0, 2).map((turn) => (isRecord(turn) ? turn.value : undefined))
      if (typeof prompt !== 'string' || typeof completion !== 'string') throw malformed(index, 'turns 0 and 1 with a string value')
      pairs.push({prompt, completion})
      return
    }
    const {instruction, input, output} = (isRecord(record) ? record : {}) as Partial<AlpacaRecord>
    if (typeof instruction !== 'string' || typeof output !== 'string' || (input !== undefined && typeof input !== 'string'))
      throw malformed(index, '{instruction, input, output} strings')
    pairs.push({prompt: input ? `${instruction}\n${input}` : instruction, completion: output})
  })
  return pairs
}

export function readDatasetPairs(path: string): DatasetPairs {
  let records: unknown
  try {
    records = JSON.parse(decodeUtf8Strictly(readRegularFile(path)))
  } catch (error) {
    throw new InvalidRequestError(`cannot read dataset ${path}: ${(error as Error).message}`, {param: 'dataset'})
  }
  if (!Array.isArray(records) || records.length === 0)
    throw new InvalidRequestError(`${path}: expected a non-empty JSON array of records`, {param: 'dataset'})
  const format = detectDatasetFormat(records, path)
  return {format, records: records.length, pairs: pairsFromRecords(records, format)}
}
