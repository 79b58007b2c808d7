// The check hostile-model-file tests pass to assert.rejects: a ModelLoadError of one line matching the pattern.
import assert from 'node:assert/strict'
import {ModelLoadError} from '../../src/engine/errors.js'

export function loadError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected a ModelLoadError, got ${String(error)}`)
    assert.match(error.message, pattern)
    assert.ok(!error.message.includes('\n'), 'one line')
    return true
  }
}
