// GET /metrics: engine state, KV memory and request latencies in the Prometheus text exposition format.
import type {EngineStats, RequestOutput} from './engine-like.js'

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

  render(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`]
    this.upperBounds.forEach((bound, index) => lines.push(`${name}_bucket{le="${bound}"} ${this.counts[index]}`))
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`)
    return lines.join('\n')
  }
}

function sample(name: string, type: 'gauge' | 'counter', help: string, values: [labels: string, value: number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of values) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`)
  return lines.join('\n')
}

export class ServerMetrics {
  readonly timeToFirstToken = new Histogram([0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 20, 40, 80])
  readonly timePerOutputToken = new Histogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5])
  readonly endToEndLatency = new Histogram([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300])
  private readonly finishedRequests = new Map<string, number>()
  private readonly httpResponses = new Map<number, number>()

  /** Called once per finished engine request (an arrow function: handlers pass it along as a callback). */
  readonly observeFinished = (output: RequestOutput): void => {
    const {arrivalTime, firstTokenTime, finishedTime} = output.metrics
    if (firstTokenTime !== null) this.timeToFirstToken.observe(firstTokenTime - arrivalTime)
    if (finishedTime !== null) this.endToEndLatency.observe(finishedTime - arrivalTime)
    // Decode time over the tokens after the first, for the longest sequence of the request.
    const outputTokens = Math.max(0, ...output.outputs.map((completion) => completion.tokenIds.length))
    if (firstTokenTime !== null && finishedTime !== null && outputTokens > 1)
      this.timePerOutputToken.observe((finishedTime - firstTokenTime) / (outputTokens - 1))
    for (const completion of output.outputs) {
      const reason = completion.finishReason ?? 'unknown'
      this.finishedRequests.set(reason, (this.finishedRequests.get(reason) ?? 0) + 1)
    }
  }

  countHttpResponse(status: number): void {
    this.httpResponses.set(status, (this.httpResponses.get(status) ?? 0) + 1)
  }

  /** `stats` is null while the model is still loading: only the server's own counters exist then. */
  render(stats: EngineStats | null): string {
    const parts: string[] = []
    if (stats) {
      const kv = stats.kv
      parts.push(
        sample('pagedllm_num_requests_running', 'gauge', 'Requests whose sequences are in the running batch.', [['', stats.numRunning]]),
        sample('pagedllm_num_requests_waiting', 'gauge', 'Requests waiting to be scheduled.', [['', stats.numWaiting]]),
        sample('pagedllm_num_requests_swapped', 'gauge', 'Requests whose KV blocks are swapped out to host memory.', [['', stats.numSwapped]]),
        sample('pagedllm_kv_blocks', 'gauge', 'KV cache blocks: used, free (on the free list), cached (unreferenced, holding a reusable prefix, allocatable), total.', [
          ['{state="used"}', kv.usedBlocks],
          ['{state="free"}', kv.freeBlocks],
          ['{state="cached"}', kv.cachedBlocks],
          ['{state="total"}', kv.totalBlocks],
        ]),
        sample('pagedllm_kv_block_size_tokens', 'gauge', 'Tokens per KV block.', [['', kv.blockSize]]),
        sample('pagedllm_kv_tokens_stored', 'gauge', 'Tokens whose K/V are held in used blocks.', [['', kv.tokensStored]]),
        sample('pagedllm_kv_waste_slots', 'gauge', 'KV slots reserved in used blocks but holding no token.', [['', kv.wasteSlots]]),
        sample('pagedllm_kv_waste_ratio', 'gauge', 'Share of reserved KV slots holding no token.', [
          ['', kv.reservedSlots === 0 ? 0 : kv.wasteSlots / kv.reservedSlots],
        ]),
        sample('pagedllm_kv_shared_blocks', 'gauge', 'KV blocks referenced by more than one sequence.', [['', kv.sharedBlocks]]),
        sample('pagedllm_kv_tokens_saved_by_sharing', 'gauge', 'Tokens held once but used by several sequences.', [['', kv.savedBySharing]]),
        sample('pagedllm_prefix_cache_hit_rate', 'gauge', 'Share of prompt tokens found in the prefix cache.', [['', stats.prefixCacheHitRate]]),
        sample('pagedllm_num_preemptions_total', 'counter', 'Sequence groups preempted since start.', [['', stats.numPreemptions]]),
        sample('pagedllm_prompt_tokens_total', 'counter', 'Prompt tokens processed since start.', [['', stats.promptTokens]]),
        sample('pagedllm_generation_tokens_total', 'counter', 'Tokens generated since start.', [['', stats.generationTokens]]),
        sample('pagedllm_engine_steps_total', 'counter', 'Engine steps run since start.', [['', stats.numSteps]]),
      )
    }
    parts.push(
      this.timeToFirstToken.render('pagedllm_time_to_first_token_seconds', 'Time from arrival to the first generated token.'),
      this.timePerOutputToken.render('pagedllm_time_per_output_token_seconds', 'Mean time per generated token after the first.'),
      this.endToEndLatency.render('pagedllm_e2e_request_latency_seconds', 'Time from arrival to the last token.'),
      sample(
        'pagedllm_request_success_total',
        'counter',
        'Finished sequences by finish reason.',
        [...this.finishedRequests].map(([reason, count]) => [`{finished_reason="${reason}"}`, count]),
      ),
      sample(
        'pagedllm_http_responses_total',
        'counter',
        'HTTP responses by status code.',
        [...this.httpResponses].map(([status, count]) => [`{status="${status}"}`, count]),
      ),
    )
    return parts.join('\n') + '\n'
  }
}
