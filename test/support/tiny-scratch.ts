// A scratch directory per test file, and fresh copies of the tiny test model in it for tests that break a checkpoint.
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before} from 'node:test'
import {ensureTestModel} from '../../src/engine/model/test-model.js'

export interface TinyScratch {
  /** The scratch directory (removed after the file's tests). */
  readonly dir: string
  /** The cached tiny test model (never to be modified). */
  readonly tinyDir: string
  /** A fresh copy of the tiny test model under `name` in the scratch directory. */
  copy(name: string): string
}

/** Registers the file's before/after hooks; the fields are set once `before` has run. */
export function tinyScratch(prefix: string): TinyScratch {
  let dir = ''
  let tinyDir = ''
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix))
    tinyDir = await ensureTestModel('tiny')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))
  return {
    get dir() {
      return dir
    },
    get tinyDir() {
      return tinyDir
    },
    copy(name) {
      const copy = join(dir, name)
      cpSync(tinyDir, copy, {recursive: true})
      return copy
    },
  }
}
