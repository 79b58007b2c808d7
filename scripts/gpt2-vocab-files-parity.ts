// Dev check of vocab.json + merges.txt loading against transformers' AutoTokenizer (never run by npm test): GPT-2's and
// GPT-NeoX's real vocabularies (taken from ../shared's GGUF files) and the gpt2/opt test models, on hostile and dataset texts.
//
//   npx tsx scripts/gpt2-vocab-files-parity.ts WORK [PYTHON]     (PYTHON defaults to /work/venv-hf/bin/python)
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {readGguf} from '../src/engine/model/gguf-file.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {hostileTexts} from '../test/support/hostile-text.js'

const SHARED = process.env.SHARED_DIR ?? join(import.meta.dirname, '..', '..', 'shared')
const [work = '/tmp/gpt2-vocab-files-parity', python = '/work/venv-hf/bin/python'] = process.argv.slice(2)

function writeSlowFiles(dir: string, vocab: Record<string, number>, merges: string[], config: Record<string, unknown>): string {
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab))
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`)
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
  return dir
}

function fromGguf(name: string, config: Record<string, unknown>): string {
  const metadata = readGguf(join(SHARED, `tokenizers/ggml-vocab-${name}.gguf`), {metadataOnly: true}).metadata
  const tokens = metadata.get('tokenizer.ggml.tokens') as string[]
  return writeSlowFiles(join(work, name), Object.fromEntries(tokens.map((token, id) => [token, id])), metadata.get('tokenizer.ggml.merges') as string[], config)
}

async function fromTestModel(variant: 'gpt2' | 'opt', changes: Record<string, unknown> = {}): Promise<string> {
  const source = await ensureTestModel('tiny', {variant})
  const model = JSON.parse(readFileSync(join(source, 'tokenizer.json'), 'utf8')).model as {vocab: Record<string, number>; merges: Array<string | string[]>}
  const config = {...JSON.parse(readFileSync(join(source, 'tokenizer_config.json'), 'utf8')), ...changes}
  const name = `test-${variant}${Object.keys(changes).length > 0 ? '-changed' : ''}`
  return writeSlowFiles(join(work, name), model.vocab, model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))), config)
}

function datasetTexts(limit: number): string[] {
  const sharegpt = JSON.parse(readFileSync(join(SHARED, 'datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json'), 'utf8')) as {conversations: {value: string}[]}[]
  const alpaca = JSON.parse(readFileSync(join(SHARED, 'datasets/alpaca/alpaca_5000_random_subset.json'), 'utf8')) as {instruction: string; input: string; output: string}[]
  const turns = sharegpt.flatMap((c) => c.conversations.slice(0, 2).map((t) => t.value)).filter((t) => t.length <= 20000)
  return [...turns.slice(0, limit), ...alpaca.slice(0, limit).map((r) => [r.instruction, r.input, r.output].filter((s) => s !== '').join('\n'))]
}

const GPT2_CONFIG = {tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>'}
const dirs = [
  fromGguf('gpt-2', GPT2_CONFIG),
  fromGguf('gpt-neox', {tokenizer_class: 'GPTNeoXTokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>'}),
  await fromTestModel('gpt2'),
  await fromTestModel('gpt2', {add_prefix_space: true, add_eos_token: true}),
  await fromTestModel('opt'),
]
// Lone surrogates are not UTF-8 (Python cannot encode them); the tokenizer maps them to U+FFFD, so give that form.
const texts = [...hostileTexts({mixes: 600, long: 2000}), ...datasetTexts(800)].map((text) => Buffer.from(text, 'utf8').toString('utf8'))
writeFileSync(join(work, 'texts.json'), JSON.stringify(texts))
const pythonCode = `
import json, sys
from transformers import AutoTokenizer
texts = json.load(open(sys.argv[1]))
for d in sys.argv[2:]:
    t = AutoTokenizer.from_pretrained(d)
    json.dump([t(x)['input_ids'] for x in texts], open(d + '/hf-ids.json', 'w'))
`
const run = spawnSync(python, ['-c', pythonCode, join(work, 'texts.json'), ...dirs], {stdio: 'inherit'})
if (run.status !== 0) throw new Error(`${python} failed`)
for (const dir of dirs) {
  const expected = JSON.parse(readFileSync(join(dir, 'hf-ids.json'), 'utf8')) as number[][]
  const tokenizer = Tokenizer.load(dir)
  const mismatches = texts.filter((text, i) => JSON.stringify(tokenizer.encode(text)) !== JSON.stringify(expected[i]))
  console.log(`${dir}: ${mismatches.length} mismatches of ${texts.length} texts${mismatches.length ? `; first: ${JSON.stringify(mismatches[0]!.slice(0, 80))}` : ''}`)
}
