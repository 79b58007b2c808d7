// The vLLM-named /metrics series (`vllm:*`, labelled model_name) that vLLM's Grafana dashboards and Kubernetes
// inference routers read; names, types and histogram buckets follow vLLM's production metrics (V1 engine).
import type {EngineStats} from './engine-like.js'
import {family, Histogram, type Labels} from './prometheus-text.js'

// vLLM's bucket boundaries, so dashboards' histogram_quantile panels bin the same way.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560]
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]

const share = (part: number, whole: number) => (whole === 0 ? 0 : part / whole)

export class VllmMetrics {
  private readonly timeToFirstToken = new Histogram(TTFT_BUCKETS)
  private readonly timePerOutputToken = new Histogram(TPOT_BUCKETS)
  private readonly endToEndLatency = new Histogram(E2E_BUCKETS)

  observe(latency: {ttft: number | null; tpot: number | null; e2e: number | null}): void {
    if (latency.ttft !== null) this.timeToFirstToken.observe(latency.ttft)
    if (latency.tpot !== null) this.timePerOutputToken.observe(latency.tpot)
    if (latency.e2e !== null) this.endToEndLatency.observe(latency.e2e)
  }

  /** `finished`: finished sequences by finish reason (a request with n > 1 counts each, as vLLM's child requests do). */
  render(stats: EngineStats, modelName: string, finished: ReadonlyMap<string, number>): string {
    const model: Labels = {model_name: modelName}
    const gauge = (name: string, help: string, value: number) => family(name, 'gauge', help, [[model, value]])
    const counter = (name: string, help: string, value: number) => family(name, 'counter', help, [[model, value]])
    const kvUsage = share(stats.kv.usedBlocks, stats.kv.totalBlocks)
    return [
      gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', stats.numRunning),
      gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', stats.numWaiting),
      gauge('vllm:num_requests_swapped', 'Number of requests swapped to CPU.', stats.numSwapped),
      gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', kvUsage),
      gauge('vllm:gpu_cache_usage_perc', 'KV-cache usage (older name of vllm:kv_cache_usage_perc). 1 means 100 percent usage.', kvUsage),
      gauge('vllm:cpu_cache_usage_perc', 'Swap (host memory) KV-cache usage. 1 means 100 percent usage.', share(stats.swapBlocks.used, stats.swapBlocks.total)),
      gauge('vllm:gpu_prefix_cache_hit_rate', 'Share of prompt tokens found in the prefix cache since start.', stats.prefixCacheHitRate),
      counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', stats.prefixCacheQueries),
      counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', stats.prefixCacheHits),
      counter('vllm:num_preemptions_total', 'Cumulative number of preemptions from the engine.', stats.numPreemptions),
      counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', stats.promptTokens),
      counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', stats.generationTokens),
      counter('vllm:spec_decode_num_drafts_total', 'Number of spec decoding drafts.', stats.specDecode.numDrafts),
      counter('vllm:spec_decode_num_draft_tokens_total', 'Number of draft tokens.', stats.specDecode.numDraftTokens),
      counter('vllm:spec_decode_num_accepted_tokens_total', 'Number of accepted tokens.', stats.specDecode.numAcceptedTokens),
      family('vllm:request_success_total', 'counter', 'Count of successfully processed requests.',
        [...finished].map(([reason, count]) => [{...model, finished_reason: reason}, count])),
      this.timeToFirstToken.render('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', model),
      this.timePerOutputToken.render('vllm:time_per_output_token_seconds',
        'Histogram of time per output token in seconds (each request\'s mean after its first token).', model),
      this.endToEndLatency.render('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', model),
    ].join('\n')
  }
}
