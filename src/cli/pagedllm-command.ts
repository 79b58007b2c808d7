// The base of every pagedllm command: a user error ends as its message (plus ONE usage line for a bad command line), never a stack or the whole help.
import {Command, Errors, Interfaces} from '@oclif/core'
import {PagedLLMError} from '../engine/errors.js'
import {commandStarted} from './interrupt.js'

/** oclif prefixes a flag's parse error with "Parsing --name \n\t" and ends parse errors with a pointer to --help. */
const FLAG_PARSE_ERROR = /^Parsing --(\S+) \n\t([^]*?)(?:\nSee more help with --help)?$/
/** oclif's plain parse errors: "Flag --seed can only be specified once", "Flag --model expects a value". */
const FLAG_USE_ERROR = /^Flag (--\S+ [^]*)$/
/** Flag-constraint errors (exclusive flags) list one reason per line under this heading; the first one says it. */
const REASONS_HEADING = /^The following errors? occurred:\n\s*([^\n]*)/
const HELP_POINTER = /\nSee more help with --help$/
const ANSI_CODES = /\x1b\[[0-9;]*m/g
/** Control characters a message may quote from a hostile file or flag (a trace's binary line): they would break the line or drive the terminal. */
const CONTROL_CHARS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g

/** oclif's FlagOutput / ArgOutput, which its index does not export. */
type ParsedValues = {[name: string]: any}

export abstract class PagedLLMCommand extends Command {
  override async init(): Promise<void> {
    commandStarted()
    await super.init()
  }

  /** oclif's parse, and one rule it lacks: a flag given as an empty string ("--model ''") is a mistake, never "unset". */
  protected override async parse<F extends ParsedValues, B extends ParsedValues, A extends ParsedValues>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    refuseBooleanFlagValues(options?.flags ?? {}, argv ?? this.argv)
    const parsed = await super.parse(options, argv)
    const empty = Object.entries(parsed.flags).find(([, value]) => value === '' || (Array.isArray(value) && value.includes('')))
    if (empty) throw new Errors.CLIError(`Flag --${empty[0]} cannot be empty`)
    return parsed
  }

  override async catch(error: Error & {parse?: unknown}): Promise<void> {
    if (error instanceof Errors.ExitError) throw error
    const flagError = FLAG_PARSE_ERROR.exec(error.message)
    const useError = FLAG_USE_ERROR.exec(error.message)
    // A missing argument, an unknown flag or a bad flag value: the command line is wrong, so show how it should look.
    if (flagError || useError || error.parse !== undefined) {
      const text = error.message.replace(ANSI_CODES, '')
      // oclif's own text may go on with notes after a blank line; the first paragraph is the error.
      const message = flagError
        ? `--${flagError[1]}: ${flagError[2]}`
        : useError
          ? useError[1]!
          : (REASONS_HEADING.exec(text)?.[1] ?? text.replace(HELP_POINTER, '').split('\n\n')[0]!.replace(/:\n/, ': '))
      this.fail(message, 2, this.usageLine())
    }
    if (error instanceof PagedLLMError) this.fail(error.message, error.exitCode)
    // this.error(...) in a command: already a message for the user, printed the same way (one line, unwrapped).
    if (error instanceof Errors.CLIError) this.fail(error.message, error.oclif.exit ?? 1)
    throw error
  }

  private fail(message: string, exitCode: number, usageLine?: string): never {
    const line = message.replace(CONTROL_CHARS, (char) => (char === '\n' ? '\\n' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`))
    process.stderr.write(`Error: ${line}\n${usageLine === undefined ? '' : `${usageLine}\n`}`)
    return this.exit(exitCode)
  }

  /** "Usage: pagedllm generate PROMPT... [FLAGS]  (all flags: pagedllm generate --help)" */
  private usageLine(): string {
    const command = `${this.config.bin} ${(this.id ?? '').replaceAll(':', ' ')}`.trim()
    const ctor = this.constructor as typeof Command
    const args = Object.entries(ctor.args ?? {}).map(([name, arg]) => {
      const shown = `${name.toUpperCase()}${ctor.strict === false ? '...' : ''}`
      // An argument the command reads from stdin when absent (ignoreStdin: oclif leaves that to it) is still its input.
      return arg.required || arg.ignoreStdin ? shown : `[${shown}]`
    })
    return `Usage: ${[command, ...args, '[FLAGS]'].join(' ')}   (all flags: ${command} --help)`
  }
}

/**
 * oclif reads "--json=false" as --json followed by the argument "false": the switch turned on and, for `generate`, an
 * extra prompt "false" (for `serve`, a model named "false"). A switch takes no value: refused, naming the spelling.
 */
function refuseBooleanFlagValues(flags: Record<string, {type?: string; allowNo?: boolean; char?: string}>, argv: readonly string[]): void {
  for (const word of argv) {
    if (word === '--') return
    const match = /^--(no-)?([^=]+)=/.exec(word)
    const flag = match ? flags[match[2]!] : undefined
    if (!match || flag?.type !== 'boolean' || (match[1] && !flag.allowNo)) continue
    const name = match[2]!
    const spelled = flag.allowNo ? `--${name} or --no-${name}` : `--${name}, or leave it out`
    throw new Errors.CLIError(`Flag ${word} cannot take a value: --${name} is a switch (give ${spelled})`)
  }
}
