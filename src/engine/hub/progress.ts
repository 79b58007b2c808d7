// Download progress: the sink interface the downloader reports to, and a cli-progress bar for interactive terminals.
import cliProgress from 'cli-progress'

export interface ProgressSink {
  /** A file transfer begins; resumedBytes were already on disk from an earlier attempt. */
  fileStarted(file: string, totalBytes: number | null, resumedBytes: number): void
  bytesReceived(count: number): void
  fileFinished(): void
}

const MIB = 1024 * 1024
/** Config and tokenizer files finish in a blink; a bar for each would only be noise. */
const SMALLEST_FILE_WITH_A_BAR = MIB

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1)
}

/**
 * Where stderr is not a terminal (logs of a server in a container), one line per large file, so a long download
 * is not mistaken for a hang; a bar's redraws would only fill the log.
 */
function logLineProgress(stream: NodeJS.WritableStream): ProgressSink {
  return {
    fileStarted(file, totalBytes, resumedBytes) {
      if (totalBytes !== null && totalBytes < SMALLEST_FILE_WITH_A_BAR) return
      const size = totalBytes === null ? 'size unknown' : `${mib(totalBytes)} MiB`
      stream.write(`Downloading ${file} (${size}${resumedBytes > 0 ? `, resuming at ${mib(resumedBytes)} MiB` : ''})\n`)
    },
    bytesReceived() {},
    fileFinished() {},
  }
}

/** Bytes, rate and ETA on stderr, one bar per file, when stderr is a terminal; otherwise a line per large file. */
export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (!stream.isTTY) return logLineProgress(stream)
  let bar: cliProgress.SingleBar | null = null
  let onDisk = 0
  let receivedNow = 0
  let startedAt = 0
  // The rate counts only this run's bytes, so a resumed file does not show an absurd speed.
  const payload = () => {
    const seconds = (performance.now() - startedAt) / 1000
    return {done_mib: mib(onDisk), rate: seconds > 0 ? mib(receivedNow / seconds) : '0.0'}
  }
  return {
    fileStarted(file, totalBytes, resumedBytes) {
      if (totalBytes !== null && totalBytes < SMALLEST_FILE_WITH_A_BAR) return
      onDisk = resumedBytes
      receivedNow = 0
      startedAt = performance.now()
      const total = totalBytes ?? resumedBytes
      bar = new cliProgress.SingleBar(
        {stream, format: `${file} |{bar}| {percentage}% {done_mib}/${mib(total)} MiB | {rate} MiB/s | ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50},
        cliProgress.Presets.shades_classic,
      )
      bar.start(total, resumedBytes, payload())
    },
    bytesReceived(count) {
      onDisk += count
      receivedNow += count
      bar?.increment(count, payload())
    },
    fileFinished() {
      bar?.stop()
      bar = null
    },
  }
}
