// Which files of a Hugging Face repository make a loadable checkpoint, and whether a cached snapshot already holds them.
import {readFile} from 'node:fs/promises'
import {ModelLoadError} from '../errors.js'
import type {RepoCache} from './hf-cache.js'

const CONFIG_FILE = 'config.json'
/** The weights in the loader's order of preference (safetensors first, as transformers and vLLM pick): an index and its shards' extension, or one file. */
const WEIGHT_FILES = [
  {file: 'model.safetensors.index.json', shardExtension: '.safetensors'},
  {file: 'model.safetensors', shardExtension: null},
  {file: 'pytorch_model.bin.index.json', shardExtension: '.bin'},
  {file: 'pytorch_model.bin', shardExtension: null},
] as const
/** Downloaded when the repository has them; the tokenizer loader reads tokenizer.json, or without it the files below. */
const OPTIONAL_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json', 'generation_config.json']
/** The tokenizer's files in the loader's order of preference: each entry is complete on its own. */
const TOKENIZER_FILE_SETS = [['tokenizer.json'], ['vocab.json', 'merges.txt'], ['tokenizer.model']]
/** Fetched with GPT-2-style vocab.json + merges.txt when the repository has it (older checkpoints' extra tokens). */
const GPT2_EXTRA_FILES = ['added_tokens.json']

export interface CheckpointPlan {
  /** Downloaded first, in this order (the weight index among them when sharded). */
  files: string[]
  /** Set when the weights are sharded: the shards are read from this index after it is downloaded. */
  weightsIndex: string | null
}

export function planCheckpointFiles(repoId: string, repoFiles: readonly string[]): CheckpointPlan {
  const present = new Set(repoFiles)
  if (!present.has(CONFIG_FILE)) {
    throw new ModelLoadError(`${repoId} has no config.json at its top level, so it is not a Transformers model pagedllm can load.`, {code: 'not_a_model'})
  }
  const optional = OPTIONAL_FILES.filter((file) => present.has(file))
  // Slow-tokenizer files are fetched only for repositories without tokenizer.json (they can be large and go unread):
  // the first complete set the loader would read.
  const tokenizerSet = TOKENIZER_FILE_SETS.find((set) => set.every((file) => present.has(file)))
  if (tokenizerSet !== undefined && tokenizerSet[0] !== 'tokenizer.json') {
    optional.push(...tokenizerSet)
    if (tokenizerSet[0] === 'vocab.json') optional.push(...GPT2_EXTRA_FILES.filter((file) => present.has(file)))
  }
  const weights = WEIGHT_FILES.find(({file}) => present.has(file))
  if (weights !== undefined) return {files: [CONFIG_FILE, ...optional, weights.file], weightsIndex: weights.shardExtension === null ? null : weights.file}
  const otherWeights = repoFiles.filter((file) => /\.(bin|pt|pth|ckpt|gguf|safetensors)$/.test(file))
  const found = otherWeights.length === 0 ? 'no weight files at all' : `only ${otherWeights.slice(0, 4).join(', ')}${otherWeights.length > 4 ? ', ...' : ''}`
  throw new ModelLoadError(
    `${repoId} has no weights pagedllm loads (${WEIGHT_FILES.map(({file}) => file).join(', ')}); it has ${found}. ` +
      'Pick a repository that ships them, or convert the weights yourself and pass the directory to --model.',
    {code: 'no_weights'},
  )
}

/** The distinct shard files named by a model.safetensors.index.json (or pytorch_model.bin.index.json), in first-use order. */
export function shardsOfIndex(indexText: string, source: string): string[] {
  const extension = WEIGHT_FILES.find(({file}) => source.endsWith(file))?.shardExtension ?? '.safetensors'
  let weightMap: unknown
  try {
    weightMap = (JSON.parse(indexText) as {weight_map?: unknown}).weight_map
  } catch (error) {
    throw new ModelLoadError(`${source} is not valid JSON: ${(error as Error).message}`, {cause: error})
  }
  if (typeof weightMap !== 'object' || weightMap === null) throw new ModelLoadError(`${source} has no "weight_map" object.`)
  const shards = [...new Set(Object.values(weightMap))]
  // A shard path must stay inside the snapshot: it becomes a link path there.
  if (shards.length === 0 || !shards.every((shard) => typeof shard === 'string' && /^[^/\\][^\\]*$/.test(shard) && shard.endsWith(extension) && !shard.split('/').includes('..'))) {
    throw new ModelLoadError(`${source} names no usable ${extension} shards in its "weight_map".`)
  }
  return shards as string[]
}

/** The files a snapshot still lacks before it can be loaded; empty means complete. Reads the cached index for sharded weights. */
export async function missingSnapshotFiles(repo: RepoCache, commit: string): Promise<string[]> {
  const missing: string[] = []
  // Without these a cached snapshot is not worth returning without asking the Hub.
  if (!(await repo.hasSnapshotFile(commit, CONFIG_FILE))) missing.push(CONFIG_FILE)
  let hasTokenizer = false
  for (const set of TOKENIZER_FILE_SETS) {
    let complete = true
    for (const file of set) complete &&= await repo.hasSnapshotFile(commit, file)
    hasTokenizer ||= complete
  }
  if (!hasTokenizer) missing.push(TOKENIZER_FILE_SETS.map((set) => set.join(' + ')).join(' or '))
  let weights: (typeof WEIGHT_FILES)[number] | undefined
  for (const candidate of WEIGHT_FILES) if (weights === undefined && (await repo.hasSnapshotFile(commit, candidate.file))) weights = candidate
  if (weights === undefined) missing.push(`${WEIGHT_FILES[1].file} (or ${WEIGHT_FILES[0].file} and its shards)`)
  else if (weights.shardExtension !== null) {
    const indexPath = repo.snapshotFile(commit, weights.file)
    for (const shard of shardsOfIndex(await readFile(indexPath, 'utf8'), indexPath)) {
      if (!(await repo.hasSnapshotFile(commit, shard))) missing.push(shard)
    }
  }
  return missing
}
