// `generate`'s prompt from stdin (no PROMPT argument, or "-"): read to the end, strict UTF-8, bounded, one prompt.
import {fstatSync} from 'node:fs'
import type {Readable} from 'node:stream'
import {InvalidRequestError} from '../engine/errors.js'
import {decodeUtf8Strictly} from '../engine/strict-utf8.js'

/** Far beyond any context's text (a 1M-token prompt is a few MB); past it the input is a mistake, not a prompt. */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024

/**
 * Without a PROMPT argument, how long stdin may stay silent before we say no prompt came: a process spawned with its
 * stdin an open socket that nobody writes (a program's spawn) would otherwise hang. A shell pipe is waited on as long
 * as its producer takes (firstDataLimitMs), with a note on stderr after this long.
 * (oclif's own stdin read gave up after 10 ms, even in the middle of a 1 MB prompt.)
 */
export const STDIN_FIRST_DATA_MS = 2000

/**
 * The silence limit for a stdin of this kind: none for a shell pipe (FIFO) or a file, whose producer may take its
 * time (`python make_prompt.py | pagedllm generate`), as for any Unix filter; STDIN_FIRST_DATA_MS for anything else.
 */
export function firstDataLimitMs(stat: {isFIFO(): boolean; isFile(): boolean}): number | null {
  return stat.isFIFO() || stat.isFile() ? null : STDIN_FIRST_DATA_MS
}

/** firstDataLimitMs of this process's stdin (a closed one: the limit). */
export function stdinFirstDataLimitMs(): number | null {
  try {
    return firstDataLimitMs(fstatSync(0))
  } catch {
    return STDIN_FIRST_DATA_MS
  }
}

type Input = Readable & {isTTY?: boolean}

/** An error that prints with the command's usage line, as oclif's own parse errors do (PagedLLMCommand.catch). */
function commandLineError(message: string): Error {
  return Object.assign(new Error(message), {parse: {}})
}

/**
 * The prompts of `generate PROMPT...`: the arguments as given, "-" replaced by all of stdin; no argument at all reads
 * stdin when it is not a terminal (`echo hi | pagedllm generate`), waiting at most firstDataMs for its first byte
 * (null: as long as it takes, calling onWaiting once it has been silent for STDIN_FIRST_DATA_MS).
 */
export async function promptsFromArgs(args: readonly string[], stdin: Input, firstDataMs: number | null = STDIN_FIRST_DATA_MS, onWaiting?: () => void): Promise<string[]> {
  if (args.length === 0) {
    if (stdin.isTTY) throw commandLineError('Missing 1 required arg: prompt (or pipe the prompt text on stdin)')
    const text = await readStdinPrompt(stdin, firstDataMs, onWaiting)
    if (text === '') throw commandLineError('Missing 1 required arg: prompt (and stdin is empty)')
    return [text]
  }
  const dashes = args.filter((arg) => arg === '-').length
  if (dashes === 0) return [...args]
  if (dashes > 1) throw commandLineError('the prompt "-" (stdin) can be given only once')
  const text = await readStdinPrompt(stdin, null)
  if (text === '') throw new InvalidRequestError('the prompt "-" reads stdin, and stdin is empty', {param: 'prompt'})
  return args.map((arg) => (arg === '-' ? text : arg))
}

/** All of stdin, less the one newline `echo` ends it with. firstDataMs null: wait as long as it takes. */
async function readStdinPrompt(stdin: Input, firstDataMs: number | null, onWaiting?: () => void): Promise<string> {
  const bytes = await readAll(stdin, firstDataMs, onWaiting)
  let text: string
  try {
    text = decodeUtf8Strictly(bytes)
  } catch (error) {
    throw new InvalidRequestError(`the prompt on stdin is ${(error as Error).message} (binary input?)`, {param: 'prompt'})
  }
  return text.replace(/\r?\n$/, '')
}

function readAll(stdin: Input, firstDataMs: number | null, onWaiting?: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (settle: () => void) => {
      clearTimeout(silence)
      clearTimeout(waiting)
      stdin.off('data', onData).off('end', onEnd).off('error', onError)
      stdin.pause()
      settle()
    }
    const silence =
      firstDataMs === null
        ? undefined
        : setTimeout(
            () => finish(() => reject(commandLineError(`Missing 1 required arg: prompt (stdin is open but sent nothing in ${firstDataMs / 1000} s)`))),
            firstDataMs,
          )
    const waiting = firstDataMs === null && onWaiting !== undefined ? setTimeout(onWaiting, STDIN_FIRST_DATA_MS) : undefined
    const onData = (chunk: Buffer) => {
      clearTimeout(silence)
      clearTimeout(waiting)
      size += chunk.length
      if (size > MAX_STDIN_BYTES)
        return finish(() => reject(new InvalidRequestError(`the prompt on stdin is over ${MAX_STDIN_BYTES / (1024 * 1024)} MiB, far more text than any context holds`, {param: 'prompt'})))
      chunks.push(chunk)
    }
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks)))
    const onError = (error: Error) => finish(() => reject(new InvalidRequestError(`cannot read the prompt from stdin: ${error.message}`, {param: 'prompt'})))
    stdin.on('data', onData).on('end', onEnd).on('error', onError)
  })
}
