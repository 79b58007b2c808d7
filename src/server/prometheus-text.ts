// Prometheus text exposition (format 0.0.4): label sets, gauge/counter families, cumulative histograms.

/** Label name -> value; rendered in insertion order. */
export type Labels = Readonly<Record<string, string>>

// Backslash, double quote and newline are the three characters a label value must escape.
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

export function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

function formatValue(value: number): string {
  return Number.isFinite(value) ? String(value) : value === Infinity ? '+Inf' : '0'
}

/** One gauge or counter family: HELP and TYPE lines, then one sample per label set. */
export function family(name: string, type: 'gauge' | 'counter', help: string, samples: readonly [Labels, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of samples) lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
  return lines.join('\n')
}

/** A cumulative Prometheus histogram with fixed upper bounds. */
export class Histogram {
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor(readonly upperBounds: readonly number[]) {
    this.counts = upperBounds.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count += 1
    this.upperBounds.forEach((bound, index) => {
      if (value <= bound) this.counts[index]! += 1
    })
  }

  render(name: string, help: string, labels: Labels = {}): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`]
    const bucket = (le: string, count: number) => lines.push(`${name}_bucket${formatLabels({...labels, le})} ${count}`)
    this.upperBounds.forEach((bound, index) => bucket(String(bound), this.counts[index]!))
    bucket('+Inf', this.count)
    lines.push(`${name}_sum${formatLabels(labels)} ${this.sum}`, `${name}_count${formatLabels(labels)} ${this.count}`)
    return lines.join('\n')
  }
}
