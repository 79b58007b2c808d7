#!/usr/bin/env node
// Links node_modules/.bin/pagedllm to bin/run.js so `npx pagedllm` works in a fresh clone (npx does not see a package's own bin).
import {mkdirSync, rmSync, symlinkSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const binDir = join(root, 'node_modules', '.bin')
mkdirSync(binDir, {recursive: true})
const link = join(binDir, 'pagedllm')
rmSync(link, {force: true})
symlinkSync(join('..', '..', 'bin', 'run.js'), link)
