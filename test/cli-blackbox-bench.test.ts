// Black-box: `compare` writes what it is asked to write (results, plots, --json), with results on stdout and progress on stderr.
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {runCommand} from './support/run-command.js'

let modelDir = ''
let dir = ''
before(async () => {
  modelDir = await ensureTestModel('tiny')
  dir = mkdtempSync(join(tmpdir(), 'pagedllm-blackbox-bench-'))
})
after(() => rmSync(dir, {recursive: true, force: true}))

describe('compare: the files asked for', () => {
  it('--json FILE gets the results as --out/results.json holds them (it was accepted and ignored); plots land in --out', async () => {
    const out = join(dir, 'out')
    const json = join(dir, 'nested', 'results-copy.json')
    const result = await runCommand('compare', [
      '--model', modelDir, '--threads', '1', '--trace', 'alpaca', '--num-prompts', '2', '--request-rates', '4,inf', '--policies', 'paged',
      '--max-model-len', '512', '--num-blocks', '64', '--out', out, '--json', json,
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(existsSync(json), `--json ${json} was not written:\n${result.stdout}`)
    assert.equal(readFileSync(json, 'utf8'), readFileSync(join(out, 'results.json'), 'utf8'))
    const results = JSON.parse(readFileSync(json, 'utf8'))
    assert.deepEqual(results.runs.map((run: {requestRate: number | string}) => run.requestRate), [4, 'inf'])
    for (const plot of ['batch-size', 'kv-memory']) for (const extension of ['svg', 'png']) assert.ok(existsSync(join(out, `${plot}.${extension}`)), `${plot}.${extension}`)
    // Tables and the paths written on stdout; per-run progress on stderr.
    assert.match(result.stdout, new RegExp(`results: .*results\\.json, ${json.replace(/[.\\/]/g, '\\$&')}`))
    assert.match(result.stderr, /paged @ 4 req\/s: \d+ steps/)
    assert.doesNotMatch(result.stdout, /steps in [\d.]+ s/)
    // One finite rate draws no latency line: the plot's absence is said, not left to be puzzled over.
    assert.ok(!existsSync(join(out, 'latency-vs-rate.svg')))
    assert.match(result.stdout, /no latency-vs-rate plot: it needs at least two finite --request-rates/)
  })

  it('a --json path that is a directory is refused before the run', async () => {
    const result = await runCommand('compare', ['--model', '/nonexistent-model-dir', '--out', join(dir, 'out2'), '--json', dir])
    assert.equal(result.code, 2, result.stderr)
    assert.equal(result.stderr, `Error: --json ${dir}: is a directory; give a file name\n`)
  })
})
