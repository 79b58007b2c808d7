// Download progress on stderr: a line per large file when stderr is not a terminal, nothing for small files.
import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {describe, it} from 'node:test'
import {stderrProgress} from '../src/engine/hub/progress.js'

function collectingStream(): {stream: NodeJS.WriteStream; written: () => string} {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString()
      done()
    },
  }) as unknown as NodeJS.WriteStream
  return {stream, written: () => text}
}

describe('stderrProgress', () => {
  it('writes one line per large file, with the resume offset, when the stream is not a terminal', () => {
    const {stream, written} = collectingStream()
    const progress = stderrProgress(stream)
    progress.fileStarted('config.json', 700, 0)
    progress.bytesReceived(700)
    progress.fileFinished()
    progress.fileStarted('model.safetensors', 3 << 20, 1 << 20)
    progress.bytesReceived(2 << 20)
    progress.fileFinished()
    assert.equal(written(), 'Downloading model.safetensors (3.0 MiB, resuming at 1.0 MiB)\n')
  })
})
