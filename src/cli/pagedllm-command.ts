// The base of every pagedllm command: a user error ends as its message (plus ONE usage line for a bad command line), never a stack or the whole help.
import {Command} from '@oclif/core'
import {PagedLLMError} from '../engine/errors.js'

/** oclif prefixes a flag's parse error with "Parsing --name \n\t" and ends parse errors with a pointer to --help. */
const FLAG_PARSE_ERROR = /^Parsing --(\S+) \n\t([^]*?)(?:\nSee more help with --help)?$/
const HELP_POINTER = /\nSee more help with --help$/

export abstract class PagedLLMCommand extends Command {
  override async catch(error: Error & {parse?: unknown}): Promise<void> {
    const flagError = FLAG_PARSE_ERROR.exec(error.message)
    // A missing argument, an unknown flag or a bad flag value: the command line is wrong, so show how it should look.
    if (flagError || error.parse !== undefined) {
      // oclif's own text may go on with notes after a blank line; the first paragraph is the error.
      const message = flagError ? `--${flagError[1]}: ${flagError[2]}` : error.message.replace(HELP_POINTER, '').split('\n\n')[0]!.replace(/:\n/, ': ')
      this.fail(`${message}\n${this.usageLine()}`, 2)
    }
    if (error instanceof PagedLLMError) this.fail(error.message, error.exitCode)
    throw error
  }

  private fail(message: string, exitCode: number): never {
    process.stderr.write(`Error: ${message}\n`)
    return this.exit(exitCode)
  }

  /** "Usage: pagedllm generate PROMPT... [FLAGS]  (all flags: pagedllm generate --help)" */
  private usageLine(): string {
    const command = `${this.config.bin} ${(this.id ?? '').replaceAll(':', ' ')}`.trim()
    const ctor = this.constructor as typeof Command
    const args = Object.entries(ctor.args ?? {}).map(([name, arg]) => {
      const shown = `${name.toUpperCase()}${ctor.strict === false ? '...' : ''}`
      return arg.required ? shown : `[${shown}]`
    })
    return `Usage: ${[command, ...args, '[FLAGS]'].join(' ')}   (all flags: ${command} --help)`
  }
}
