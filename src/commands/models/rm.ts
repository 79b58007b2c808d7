// `pagedllm models rm ORG/NAME`: removes one model (all its cached revisions) from the Hugging Face cache.
import {createInterface} from 'node:readline/promises'
import {Args, Flags} from '@oclif/core'
import {cacheDirFlag, cacheDirFromFlag} from '../../cli/cache-dir-flag.js'
import {PagedLLMCommand} from '../../cli/pagedllm-command.js'
import {formatBytes, listCachedModels, removeCachedModel} from '../../engine/hub/cache-inventory.js'
import {isValidRepoId} from '../../engine/hub/model-spec.js'

async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({input: process.stdin, output: process.stderr})
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim())
  } finally {
    prompt.close()
  }
}

export default class ModelsRm extends PagedLLMCommand {
  static override description = 'Remove a model (all its cached revisions) from the Hugging Face cache'
  static override examples = ['<%= config.bin %> models rm Qwen/Qwen2.5-0.5B-Instruct', '<%= config.bin %> models rm Qwen/Qwen2.5-0.5B-Instruct --yes']
  static override args = {model: Args.string({description: 'Model id ORG/NAME, as `pagedllm models list` shows it', required: true})}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation (needed when stdin is not a terminal)', default: false}),
    'cache-dir': cacheDirFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ModelsRm)
    const cacheDir = cacheDirFromFlag(flags['cache-dir'])
    if (!isValidRepoId(args.model)) this.error(`${args.model} is not a model id of the form ORG/NAME (revisions cannot be removed one by one).`, {exit: 2})
    const cached = (await listCachedModels(cacheDir)).find((model) => model.repoId === args.model)
    if (cached === undefined) this.error(`${args.model} is not in the Hugging Face cache at ${cacheDir}; \`pagedllm models list\` shows what is.`, {exit: 2})
    if (!flags.yes) {
      if (!process.stdin.isTTY) this.error(`Refusing to remove ${args.model} without confirmation: pass --yes.`, {exit: 2})
      if (!(await confirm(`Remove ${args.model} (${formatBytes(cached.sizeBytes)}) from ${cacheDir}? [y/N] `))) {
        this.log('Nothing removed.')
        return
      }
    }
    const removed = await removeCachedModel(cacheDir, args.model)
    this.log(`Removed ${removed.repoId} (${formatBytes(removed.sizeBytes + removed.partialBytes)}) from ${cacheDir}.`)
  }
}
