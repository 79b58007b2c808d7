// generate's prompt from stdin: all of it (however slowly it comes), strict UTF-8, one trailing newline dropped, no hang.
import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {describe, it} from 'node:test'
import {MAX_STDIN_BYTES, STDIN_FIRST_DATA_MS, firstDataLimitMs, promptsFromArgs} from '../src/cli/stdin-prompt.js'

/** A pipe that sends these chunks, one per tick, then ends (or stays open when `end` is false). */
function pipe(chunks: (string | Buffer)[], options: {end?: boolean; tty?: boolean} = {}): PassThrough & {isTTY?: boolean} {
  const stream: PassThrough & {isTTY?: boolean} = new PassThrough()
  if (options.tty) stream.isTTY = true
  void (async () => {
    for (const chunk of chunks) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      stream.write(chunk)
    }
    if (options.end !== false) stream.end()
  })()
  return stream
}

describe('promptsFromArgs', () => {
  it('reads every chunk of a slow pipe as one prompt, less the final newline only', async () => {
    const big = 'word '.repeat(50_000)
    assert.deepEqual(await promptsFromArgs([], pipe([big, 'a\r\n', 'b\n\n'])), [`${big}a\r\nb\n`])
    assert.deepEqual(await promptsFromArgs([], pipe(['hi\r\n'])), ['hi'])
  })

  it('arguments win; "-" is stdin in its place, given once', async () => {
    assert.deepEqual(await promptsFromArgs(['a', 'b'], pipe(['ignored'])), ['a', 'b'])
    assert.deepEqual(await promptsFromArgs(['a', '-', 'c'], pipe(['from stdin\n'])), ['a', 'from stdin', 'c'])
    await assert.rejects(promptsFromArgs(['-', '-'], pipe(['x'])), {message: 'the prompt "-" (stdin) can be given only once', parse: {}})
  })

  it('refuses empty, binary and oversized input, a terminal, and an open pipe that sends nothing', async () => {
    await assert.rejects(promptsFromArgs([], pipe([])), {message: 'Missing 1 required arg: prompt (and stdin is empty)', parse: {}})
    await assert.rejects(promptsFromArgs([], pipe(['\n'])), {message: 'Missing 1 required arg: prompt (and stdin is empty)'})
    await assert.rejects(promptsFromArgs(['a', '-'], pipe([])), {message: 'the prompt "-" reads stdin, and stdin is empty'})
    await assert.rejects(promptsFromArgs([], pipe([Buffer.from([0x68, 0xff, 0xfe, 0x00])])), {message: 'the prompt on stdin is not UTF-8 text: invalid byte 0xff at byte offset 1 of 4 (binary input?)'})
    const mib = Buffer.alloc(1024 * 1024, 0x61)
    await assert.rejects(promptsFromArgs([], pipe(Array.from({length: MAX_STDIN_BYTES / mib.length + 1}, () => mib), {end: false})), {message: 'the prompt on stdin is over 64 MiB, far more text than any context holds'})
    await assert.rejects(promptsFromArgs([], pipe([], {tty: true})), {message: 'Missing 1 required arg: prompt (or pipe the prompt text on stdin)', parse: {}})
    await assert.rejects(promptsFromArgs([], pipe([], {end: false}), 50), {message: 'Missing 1 required arg: prompt (stdin is open but sent nothing in 0.05 s)'})
  })

  it('a shell pipe (FIFO) or file has no silence limit, anything else (a spawning program\'s socket) has', () => {
    const stat = (kind: 'fifo' | 'file' | 'socket') => ({isFIFO: () => kind === 'fifo', isFile: () => kind === 'file'})
    assert.equal(firstDataLimitMs(stat('fifo')), null)
    assert.equal(firstDataLimitMs(stat('file')), null)
    assert.equal(firstDataLimitMs(stat('socket')), STDIN_FIRST_DATA_MS)
  })
})
