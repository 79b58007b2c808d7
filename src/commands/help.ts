// `pagedllm help [COMMAND...]`: the help of a command (or of the CLI), as `git help` and `vllm serve --help` users type it.
// oclif leaves this command to a plugin; its Help class renders the same text --help does.
import {Args, loadHelpClass} from '@oclif/core'
import {PagedLLMCommand} from '../cli/pagedllm-command.js'
import {unknownCommandMessage} from '../cli/unknown-command.js'

export default class HelpCommand extends PagedLLMCommand {
  static override description = 'Show the help of a command (same as COMMAND --help)'
  static override examples = ['<%= config.bin %> help generate', '<%= config.bin %> help bench kernels']
  static override strict = false
  static override args = {command: Args.string({description: 'The command, e.g. generate or bench kernels'})}

  async run(): Promise<void> {
    const {argv} = await this.parse(HelpCommand)
    const words = argv as string[]
    // A name that is no command: the error line, not the whole CLI's help.
    if (words.length > 0 && !this.config.findCommand(words.join(':')) && !this.config.findTopic(words.join(':')))
      this.error(unknownCommandMessage(words.join(':'), this.config.commandIDs), {exit: 2})
    const Help = await loadHelpClass(this.config)
    await new Help(this.config, this.config.pjson.oclif.helpOptions).showHelp(words)
  }
}
