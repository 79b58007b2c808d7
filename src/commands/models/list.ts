// `pagedllm models list`: the models in the Hugging Face cache, with disk size and cached revisions.
import {Flags} from '@oclif/core'
import {cacheDirFlag, cacheDirFromFlag} from '../../cli/cache-dir-flag.js'
import {PagedLLMCommand} from '../../cli/pagedllm-command.js'
import {formatBytes, listCachedModels, type CachedModel} from '../../engine/hub/cache-inventory.js'

/** "main@1a2b3c4d" for each ref, then the short shas of snapshots no ref points to. */
function describeRevisions(model: CachedModel): string {
  const referenced = new Set(Object.values(model.refs))
  const named = Object.entries(model.refs).map(([ref, commit]) => `${ref}@${commit.slice(0, 8)}`)
  const unnamed = model.snapshots.filter((commit) => !referenced.has(commit)).map((commit) => commit.slice(0, 8))
  return [...named, ...unnamed].join(', ') || '-'
}

function formatModelTable(models: CachedModel[]): string {
  const rows = models.map((model) => [
    model.repoId,
    formatBytes(model.sizeBytes) + (model.partialBytes > 0 ? ` (+${formatBytes(model.partialBytes)} partial)` : ''),
    describeRevisions(model),
    model.dir,
  ])
  const table = [['MODEL', 'SIZE', 'REVISIONS', 'PATH'], ...rows]
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)))
  return table.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n')
}

export default class ModelsList extends PagedLLMCommand {
  static override description = 'List the models in the Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)'
  static override examples = ['<%= config.bin %> models list', '<%= config.bin %> models list --json']
  static override flags = {
    'cache-dir': cacheDirFlag,
    json: Flags.boolean({description: 'Print machine-readable JSON', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ModelsList)
    const cacheDir = cacheDirFromFlag(flags['cache-dir'])
    const models = await listCachedModels(cacheDir)
    if (flags.json) {
      this.log(JSON.stringify({cacheDir, models}, null, 2))
    } else if (models.length === 0) {
      this.log(`No models in ${cacheDir}. Download one with e.g. \`pagedllm generate --model Qwen/Qwen2.5-0.5B-Instruct "Hello"\`.`)
    } else {
      this.log(formatModelTable(models))
      this.log(`\n${models.length} model(s), ${formatBytes(models.reduce((sum, model) => sum + model.sizeBytes, 0))} in ${cacheDir}`)
    }
  }
}
