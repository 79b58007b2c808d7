#!/usr/bin/env node
// Runs the test suite with node:test through tsx. The shell-free glob keeps Node 20 from ignoring .ts files.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const only = process.argv.slice(2)
const files = (only.length > 0 ? only : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f)))
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]
const result = spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root})
process.exit(result.status ?? 1)
