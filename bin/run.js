#!/usr/bin/env node
// Ctrl-C while node still loads the CLI: the commands' one line and exit 130 (src/cli/interrupt.ts), not a silent
// end by the signal. The command takes over once it starts (PagedLLMCommand.init emits the event).
const onStartupInterrupt = () => {
  process.stderr.write('\nInterrupted: nothing done (the command was starting)\n')
  process.exit(130)
}
process.on('SIGINT', onStartupInterrupt)
process.once('pagedllm:command-started', () => process.off('SIGINT', onStartupInterrupt))
const {execute} = await import('@oclif/core')

await execute({dir: import.meta.url})
