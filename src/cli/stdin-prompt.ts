// `generate`'s prompt from stdin (no PROMPT argument, or "-"): read to the end, strict UTF-8, bounded, one prompt.
import type {Readable} from 'node:stream'
import {InvalidRequestError} from '../engine/errors.js'
import {decodeUtf8Strictly} from '../engine/strict-utf8.js'

/** Far beyond any context's text (a 1M-token prompt is a few MB); past it the input is a mistake, not a prompt. */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024

/**
 * Without a PROMPT argument, how long stdin may stay silent before we say no prompt came. A shell pipe's first
 * bytes come at once; a spawned process whose stdin is an open pipe that nobody writes would otherwise hang.
 * (oclif's own stdin read gave up after 10 ms, even in the middle of a 1 MB prompt.)
 */
export const STDIN_FIRST_DATA_MS = 2000

type Input = Readable & {isTTY?: boolean}

/** An error that prints with the command's usage line, as oclif's own parse errors do (PagedLLMCommand.catch). */
function commandLineError(message: string): Error {
  return Object.assign(new Error(message), {parse: {}})
}

/**
 * The prompts of `generate PROMPT...`: the arguments as given, "-" replaced by all of stdin; no argument at all reads
 * stdin when it is not a terminal (`echo hi | pagedllm generate`), waiting at most firstDataMs for its first byte.
 */
export async function promptsFromArgs(args: readonly string[], stdin: Input, firstDataMs = STDIN_FIRST_DATA_MS): Promise<string[]> {
  if (args.length === 0) {
    if (stdin.isTTY) throw commandLineError('Missing 1 required arg: prompt (or pipe the prompt text on stdin)')
    const text = await readStdinPrompt(stdin, firstDataMs)
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
async function readStdinPrompt(stdin: Input, firstDataMs: number | null): Promise<string> {
  const bytes = await readAll(stdin, firstDataMs)
  let text: string
  try {
    text = decodeUtf8Strictly(bytes)
  } catch (error) {
    throw new InvalidRequestError(`the prompt on stdin is ${(error as Error).message} (binary input?)`, {param: 'prompt'})
  }
  return text.replace(/\r?\n$/, '')
}

function readAll(stdin: Input, firstDataMs: number | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (settle: () => void) => {
      clearTimeout(silence)
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
    const onData = (chunk: Buffer) => {
      clearTimeout(silence)
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
