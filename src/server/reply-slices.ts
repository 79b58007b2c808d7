// Builds and serializes a big reply (logprobs of long prompts and outputs) in slices of bounded work, giving the event
// loop back between them, so one reply cannot stall other clients' streams and /health; the client leaving stops it.
import type {ServerResponse} from 'node:http'
import {setImmediate as nextTurn} from 'node:timers/promises'

/**
 * Work per slice, in logprob entries built or JSON values written: a few ms of the loop. Counted, not timed, so the
 * slices (and the tests that see them) do not depend on the machine's load.
 */
export const WORK_PER_SLICE = 4096

export class ReplySlicer {
  /** Slices the reply has taken so far (1 until the first pause): tests see the work was cut. */
  slices = 1
  private done = 0

  constructor(
    private readonly signal: AbortSignal,
    private readonly workPerSlice = WORK_PER_SLICE,
  ) {}

  /** Counts `work` units done; once a slice's worth is done, yields a turn of the event loop (throws if the client left). */
  async step(work: number): Promise<void> {
    this.done += work
    if (this.done < this.workPerSlice) return
    this.done = 0
    this.slices += 1
    await nextTurn()
    this.signal.throwIfAborted()
  }

  /**
   * `build(start, end)` over consecutive ranges of positions [0, length) that cost about a slice each (`workPerPosition`
   * units a position), results concatenated: a pure, whole-range builder run a slice at a time.
   */
  async inRanges<T>(length: number, workPerPosition: number, build: (start: number, end: number) => T[]): Promise<T[]> {
    const perSlice = Math.max(1, Math.floor(this.workPerSlice / Math.max(1, workPerPosition)))
    const result: T[] = []
    for (let start = 0; start < length; start += perSlice) {
      const end = Math.min(length, start + perSlice)
      for (const item of build(start, end)) result.push(item)
      await this.step((end - start) * workPerPosition)
    }
    return result
  }

  /**
   * JSON.stringify(value)'s text, in pieces of about a slice of values each, a turn of the loop between them. For plain
   * JSON data (objects, arrays, strings, numbers, booleans, null; undefined members left out, as JSON.stringify does);
   * anything with toJSON is stringified whole.
   */
  async json(value: unknown): Promise<string[]> {
    const writer = new JsonPieces(this.workPerSlice)
    for (const _ of writer.write(value)) await this.step(this.workPerSlice)
    writer.pieces.push(writer.piece)
    return writer.pieces
  }
}

/** Values in a part of the reply that one JSON.stringify call takes whole (a position's logprobs entry). */
const SMALL_PART = 256

const skipped = (member: unknown) => member === undefined || typeof member === 'function' || typeof member === 'symbol'
const isContainer = (item: unknown): item is object => item !== null && typeof item === 'object' && typeof (item as {toJSON?: unknown}).toJSON !== 'function'

/** How many values `item` holds, counting up to just past `limit` (then it stops looking). */
function valuesUpTo(item: unknown, limit: number): number {
  if (!isContainer(item)) return 1
  let count = 1
  for (const member of Array.isArray(item) ? item : Object.values(item)) {
    count += valuesUpTo(member, limit - count)
    if (count > limit) break
  }
  return count
}

/** The JSON text of a value written by a generator that stops (yields) after each slice's worth of values. */
class JsonPieces {
  readonly pieces: string[] = []
  piece = ''
  private values = 0

  constructor(private readonly valuesPerPiece: number) {}

  *write(item: unknown): Generator<void> {
    const values = valuesUpTo(item, SMALL_PART)
    if (values <= SMALL_PART) {
      this.piece += JSON.stringify(item) ?? 'null'
      this.values += values
      if (this.values < this.valuesPerPiece) return
      this.pieces.push(this.piece)
      this.piece = ''
      this.values = 0
      yield
      return
    }
    if (Array.isArray(item)) {
      this.piece += '['
      for (let i = 0; i < item.length; i++) {
        if (i > 0) this.piece += ','
        yield* this.write(skipped(item[i]) ? null : item[i])
      }
      this.piece += ']'
      return
    }
    this.piece += '{'
    let first = true
    for (const [key, member] of Object.entries(item as object)) {
      if (skipped(member)) continue
      this.piece += `${first ? '' : ','}${JSON.stringify(key)}:`
      first = false
      yield* this.write(member)
    }
    this.piece += '}'
  }
}

/**
 * sendJson's reply (the same headers and bytes), serialized and written a slice at a time. A client that leaves stops
 * it: the slicer throws the request's abort reason at the next slice.
 */
export async function sendJsonInSlices(response: ServerResponse, slicer: ReplySlicer, status: number, body: unknown): Promise<void> {
  return sendJsonPieces(response, slicer, status, await slicer.json(body))
}

/** The pieces of a JSON text (ReplySlicer.json's), written a slice at a time. */
export async function sendJsonPieces(response: ServerResponse, slicer: ReplySlicer, status: number, pieces: readonly string[]): Promise<void> {
  const length = bytesOf(pieces)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': length})
  for (const piece of pieces.slice(0, -1)) {
    response.write(piece)
    await slicer.step(WORK_PER_SLICE)
  }
  response.end(pieces.at(-1))
}

/** The UTF-8 length of the text made of `pieces`. */
export function bytesOf(pieces: readonly string[]): number {
  let length = 0
  for (const piece of pieces) length += Buffer.byteLength(piece)
  return length
}
