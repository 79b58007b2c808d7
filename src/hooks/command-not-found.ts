// oclif's command_not_found hook: a mistyped command is one `Error:` line, exit 2, as every other command-line error
// (oclif's own was " ›   Error: command gen:hi not found", the prompt joined into the name).
import type {Hook} from '@oclif/core'
import {unknownCommandMessage} from '../cli/unknown-command.js'

const hook: Hook<'command_not_found'> = async function (options) {
  process.stderr.write(`Error: ${unknownCommandMessage(options.id, options.config.commandIDs)}\n`)
  this.exit(2)
}

export default hook
