// Reads ShareGPT- and Alpaca-format JSON files into (prompt, reference completion) text pairs.
import {readFileSync} from 'node:fs'
import {InvalidRequestError} from '../engine/errors.js'

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

interface ShareGptRecord {
  conversations: {from?: string; value: string}[]
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
 */
export function pairsFromRecords(records: unknown[], format: DatasetFormat): PromptCompletionPair[] {
  if (format === 'sharegpt')
    return (records as ShareGptRecord[])
      .filter((record) => Array.isArray(record.conversations) && record.conversations.length >= 2)
      .map((record) => ({prompt: String(record.conversations[0].value ?? ''), completion: String(record.conversations[1].value ?? '')}))
  return (records as AlpacaRecord[]).map((record) => ({
    prompt: record.input ? `${record.instruction}\n${record.input}` : record.instruction,
    completion: record.output,
  }))
}

export function readDatasetPairs(path: string): DatasetPairs {
  let records: unknown
  try {
    records = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new InvalidRequestError(`cannot read dataset ${path}: ${(error as Error).message}`, {param: 'dataset'})
  }
  if (!Array.isArray(records) || records.length === 0)
    throw new InvalidRequestError(`${path}: expected a non-empty JSON array of records`, {param: 'dataset'})
  const format = detectDatasetFormat(records, path)
  return {format, records: records.length, pairs: pairsFromRecords(records, format)}
}
