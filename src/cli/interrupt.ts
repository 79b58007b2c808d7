// Ctrl-C during a long command: one line saying what was done and what is lost, then exit 130 (128 + SIGINT) at once.
// Reports nest: a command reports from its start (the model loading), a later stage reports over it until it ends.
// Without any, node's default would end the process by the signal, with no line and no exit code of ours.

/** What an interrupt now loses, innermost stage last. */
const reports: Array<() => string> = []

function onSignal(): void {
  process.stderr.write(`\nInterrupted: ${reports.at(-1)!()}\n`)
  process.exit(130)
}

/** Until the returned function is called, SIGINT prints "Interrupted: <what>" on stderr and exits 130 (over any outer report). */
export function reportInterrupt(what: () => string): () => void {
  reports.push(what)
  if (reports.length === 1) process.on('SIGINT', onSignal)
  return () => {
    const index = reports.lastIndexOf(what)
    if (index < 0) return
    reports.splice(index, 1)
    if (reports.length === 0) process.off('SIGINT', onSignal)
  }
}

/** bin/run.js reports Ctrl-C from before oclif loads (a second or more on a busy machine) until this event. */
export const COMMAND_STARTED_EVENT = 'pagedllm:command-started'

/** The command runs: its own reports (or, for serve, its graceful stop) take Ctrl-C from here. */
export function commandStarted(): void {
  process.emit(COMMAND_STARTED_EVENT as never)
}
