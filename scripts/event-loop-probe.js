// Preloaded into a server process by serve-hostile.ts: samples event-loop delay and, on SIGUSR2, reports it and the RSS on stderr.
import {monitorEventLoopDelay} from 'node:perf_hooks'

const delay = monitorEventLoopDelay({resolution: 10})
delay.enable()
process.on('SIGUSR2', () => {
  const report = {p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6, rssBytes: process.memoryUsage().rss}
  process.stderr.write(`EVENT_LOOP ${JSON.stringify(report)}\n`)
  delay.reset()
})
