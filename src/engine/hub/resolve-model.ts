// Entry point for --model: a local directory is returned as is; ORG/NAME[@revision] is found in or downloaded to the HF cache.
import {readFile} from 'node:fs/promises'
import {InvalidRequestError, NotFoundError} from '../errors.js'
import {missingSnapshotFiles, planCheckpointFiles, shardsOfIndex} from './checkpoint-files.js'
import {downloadSnapshotFile} from './download.js'
import {RepoCache} from './hf-cache.js'
import {HubClient, type FetchImpl} from './hub-client.js'
import {assertInside, checkRevision} from './hub-names.js'
import {hubCacheDir, hubEndpoint, hubToken, isOfflineByEnv} from './hub-settings.js'
import {parseModelSpec} from './model-spec.js'
import {stderrProgress, type ProgressSink} from './progress.js'

export interface ResolveModelOptions {
  /** Cache only, no network; defaults to HF_HUB_OFFLINE. */
  offline?: boolean
  /** Bearer token for gated or private models; defaults to HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the huggingface-cli login file. */
  token?: string
  /** Hub or mirror base URL; defaults to HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string
  /** Hub cache folder; defaults to HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string
  /** Branch, tag or commit when the spec has no @revision; defaults to main. */
  revision?: string
  /** true (default): a progress bar when stderr is a terminal, else a line per large file; false: silent; or a sink of one's own. */
  progress?: boolean | ProgressSink
  fetchImpl?: FetchImpl
}

const DEFAULT_REVISION = 'main'

function chooseRevision(specRevision: string | null, optionRevision: string | undefined, spec: string): string {
  if (specRevision !== null && optionRevision !== undefined && optionRevision !== specRevision) {
    throw new InvalidRequestError(`--model ${spec} names revision ${specRevision} but --revision says ${optionRevision}; give only one.`, {param: 'revision'})
  }
  return specRevision ?? optionRevision ?? DEFAULT_REVISION
}

function progressSink(option: ResolveModelOptions['progress']): ProgressSink | null {
  if (option === false) return null
  if (option === undefined || option === true) return stderrProgress()
  return option
}

/** The local directory (holding config.json, tokenizer and safetensors) for a --model value. */
export async function resolveModel(spec: string, options: ResolveModelOptions = {}): Promise<string> {
  const parsed = parseModelSpec(spec)
  if (parsed.kind === 'local') return parsed.dir
  const revision = chooseRevision(parsed.revision, options.revision, spec)
  // The revision names refs/<revision>, read below and written at the end: it must not lead out of the repo's folder.
  checkRevision(revision)
  const repo = new RepoCache(options.cacheDir ?? hubCacheDir(), parsed.repoId)
  assertInside(repo.root, repo.refPath(revision))

  const cachedCommit = await repo.commitFor(revision)
  const missing = cachedCommit === null ? null : await missingSnapshotFiles(repo, cachedCommit)
  if (cachedCommit !== null && missing?.length === 0) return repo.snapshotDir(cachedCommit)

  if (options.offline ?? isOfflineByEnv()) {
    const what = missing === null ? 'is not in' : `is only partly in (missing ${missing.join(', ')})`
    throw new NotFoundError(
      `Model ${parsed.repoId}@${revision} ${what} the Hugging Face cache at ${repo.cacheDir}, and offline mode (HF_HUB_OFFLINE) forbids downloading it. ` +
        'Unset HF_HUB_OFFLINE to download it, or pass a local model directory to --model (`pagedllm models list` shows what is cached).',
      {param: 'model', code: 'model_not_cached'},
    )
  }

  const client = new HubClient({endpoint: (options.endpoint ?? hubEndpoint()).replace(/\/+$/, ''), token: options.token ?? hubToken(), fetchImpl: options.fetchImpl})
  const {commit} = await client.revisionInfo(parsed.repoId, revision)
  // The listing of a commit never changes: a cached one (ours or huggingface_hub's) saves the request.
  const cachedTree = await repo.readTree(commit)
  const tree = cachedTree ?? (await client.listTree(parsed.repoId, revision, commit))
  const files = tree.map((file) => file.path)
  const plan = planCheckpointFiles(parsed.repoId, files)
  if (cachedTree === null) await repo.writeTree(commit, tree)
  const progress = progressSink(options.progress)
  const download = (file: string) => downloadSnapshotFile({client, repo, revision, commit, file, progress})
  for (const file of plan.files) await download(file)
  if (plan.weightsIndex !== null) {
    const indexPath = repo.snapshotFile(commit, plan.weightsIndex)
    const listed = new Set(files)
    for (const shard of shardsOfIndex(await readFile(indexPath, 'utf8'), `${parsed.repoId}/${plan.weightsIndex}`)) {
      if (!listed.has(shard)) throw new NotFoundError(`${parsed.repoId}/${plan.weightsIndex} names shard ${shard}, which the repository does not have.`, {code: 'file_not_found'})
      await download(shard)
    }
  }
  // The ref is written last: it is what later runs trust, so it must point at a complete snapshot.
  await repo.writeRef(revision, commit)
  return repo.snapshotDir(commit)
}
