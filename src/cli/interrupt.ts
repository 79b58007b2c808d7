// Ctrl-C during a long command: one line saying what was done and what is lost, then exit 130 (128 + SIGINT) at once.
/** Until the returned function is called, SIGINT prints "Interrupted: <what>" on stderr and exits 130. */
export function reportInterrupt(what: () => string): () => void {
  const onSignal = () => {
    process.stderr.write(`\nInterrupted: ${what()}\n`)
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  return () => process.off('SIGINT', onSignal)
}
