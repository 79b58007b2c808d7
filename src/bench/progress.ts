// A progress bar for long bench runs, drawn on stderr only when stderr is a terminal.
import cliProgress from 'cli-progress'

export interface RunProgress {
  tick(): void
  stop(): void
}

export function startProgress(label: string, total: number): RunProgress {
  if (!process.stderr.isTTY) return {tick: () => {}, stop: () => {}}
  const bar = new cliProgress.SingleBar(
    {stream: process.stderr, format: `${label.padEnd(28)} {bar} {value}/{total} requests | {duration_formatted}`, hideCursor: true, clearOnComplete: false},
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0)
  return {tick: () => bar.increment(), stop: () => bar.stop()}
}
