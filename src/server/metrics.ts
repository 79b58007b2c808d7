// GET /metrics: engine state, KV memory and request latencies in the Prometheus text exposition format, under
// pagedllm's own names and under the vLLM names (vllm-metrics.ts) that dashboards and routers already read.
import type {EngineStats, RequestOutput} from './engine-like.js'
import {family, Histogram} from './prometheus-text.js'
import {VllmMetrics} from './vllm-metrics.js'

const noLabels = {}

export class ServerMetrics {
  readonly timeToFirstToken = new Histogram([0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 20, 40, 80])
  readonly timePerOutputToken = new Histogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5])
  readonly endToEndLatency = new Histogram([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300])
  private readonly vllm = new VllmMetrics()
  private readonly finishedRequests = new Map<string, number>()
  private readonly httpResponses = new Map<number, number>()

  /** Called once per finished engine request (an arrow function: handlers pass it along as a callback). */
  readonly observeFinished = (output: RequestOutput): void => {
    const {arrivalTime, firstTokenTime, finishedTime} = output.metrics
    // Decode time over the tokens after the first, for the longest sequence of the request.
    const outputTokens = Math.max(0, ...output.outputs.map((completion) => completion.tokenIds.length))
    const latency = {
      ttft: firstTokenTime === null ? null : firstTokenTime - arrivalTime,
      tpot: firstTokenTime !== null && finishedTime !== null && outputTokens > 1 ? (finishedTime - firstTokenTime) / (outputTokens - 1) : null,
      e2e: finishedTime === null ? null : finishedTime - arrivalTime,
    }
    if (latency.ttft !== null) this.timeToFirstToken.observe(latency.ttft)
    if (latency.tpot !== null) this.timePerOutputToken.observe(latency.tpot)
    if (latency.e2e !== null) this.endToEndLatency.observe(latency.e2e)
    this.vllm.observe(latency)
    for (const completion of output.outputs) {
      const reason = completion.finishReason ?? 'unknown'
      this.finishedRequests.set(reason, (this.finishedRequests.get(reason) ?? 0) + 1)
    }
  }

  countHttpResponse(status: number): void {
    this.httpResponses.set(status, (this.httpResponses.get(status) ?? 0) + 1)
  }

  /**
   * `engine` is null while the model is still loading: only the server's own counters exist then. `admission`: the
   * sequence slots of --max-concurrent-requests held by requests still generating, the requests queued for them, and
   * those queued for body memory.
   */
  render(engine: {stats: EngineStats; modelName: string} | null, admission?: {sequences: number; capacity: number; queued: number; bodiesQueued: number}, replyBytesWaiting?: number): string {
    const parts: string[] = []
    if (replyBytesWaiting !== undefined)
      parts.push(family('pagedllm_reply_bytes_waiting', 'gauge', 'Bytes of replies written but not yet taken by their clients (--max-reply-memory caps them).', [[noLabels, replyBytesWaiting]]))
    if (admission)
      parts.push(
        family('pagedllm_admitted_sequences', 'gauge', 'Sequence slots of --max-concurrent-requests: held by admitted requests until their generation ends, and the capacity.', [
          [{state: 'held'}, admission.sequences],
          [{state: 'capacity'}, admission.capacity],
        ]),
        family('pagedllm_requests_queued_for_admission', 'gauge', 'Requests waiting for sequence slots.', [[noLabels, admission.queued]]),
        family('pagedllm_requests_queued_for_body_memory', 'gauge', 'Requests waiting for --max-body-memory to read their bodies.', [[noLabels, admission.bodiesQueued]]),
      )
    if (engine) {
      const {stats} = engine
      const kv = stats.kv
      parts.push(
        family('pagedllm_num_requests_running', 'gauge', 'Requests whose sequences are in the running batch.', [[noLabels, stats.numRunning]]),
        family('pagedllm_num_requests_waiting', 'gauge', 'Requests waiting to be scheduled.', [[noLabels, stats.numWaiting]]),
        family('pagedllm_num_requests_swapped', 'gauge', 'Requests whose KV blocks are swapped out to host memory.', [[noLabels, stats.numSwapped]]),
        family('pagedllm_kv_blocks', 'gauge', 'KV cache blocks: used, free (on the free list), cached (unreferenced, holding a reusable prefix, allocatable), total.', [
          [{state: 'used'}, kv.usedBlocks],
          [{state: 'free'}, kv.freeBlocks],
          [{state: 'cached'}, kv.cachedBlocks],
          [{state: 'total'}, kv.totalBlocks],
        ]),
        ...(stats.stateSlots
          ? [family('pagedllm_state_slots', 'gauge', "A hybrid model's recurrent state slots (one per running sequence, --max-num-seqs in all): used, free, total.", [
              [{state: 'used'}, stats.stateSlots.used],
              [{state: 'free'}, stats.stateSlots.total - stats.stateSlots.used],
              [{state: 'total'}, stats.stateSlots.total],
            ])]
          : []),
        ...(stats.draftKv
          ? [family('pagedllm_draft_kv_blocks', 'gauge', "Speculative decoding's draft model KV cache blocks: used, free, cached, total.", [
              [{state: 'used'}, stats.draftKv.usedBlocks],
              [{state: 'free'}, stats.draftKv.freeBlocks],
              [{state: 'cached'}, stats.draftKv.cachedBlocks],
              [{state: 'total'}, stats.draftKv.totalBlocks],
            ])]
          : []),
        family('pagedllm_kv_block_size_tokens', 'gauge', 'Tokens per KV block.', [[noLabels, kv.blockSize]]),
        family('pagedllm_kv_tokens_stored', 'gauge', 'Tokens whose K/V are held in used blocks.', [[noLabels, kv.tokensStored]]),
        family('pagedllm_kv_waste_slots', 'gauge', 'KV slots reserved in used blocks but holding no token.', [[noLabels, kv.wasteSlots]]),
        family('pagedllm_kv_waste_ratio', 'gauge', 'Share of reserved KV slots holding no token.', [
          [noLabels, kv.reservedSlots === 0 ? 0 : kv.wasteSlots / kv.reservedSlots],
        ]),
        family('pagedllm_kv_shared_blocks', 'gauge', 'KV blocks referenced by more than one sequence.', [[noLabels, kv.sharedBlocks]]),
        family('pagedllm_kv_tokens_saved_by_sharing', 'gauge', 'Tokens held once but used by several sequences.', [[noLabels, kv.savedBySharing]]),
        family('pagedllm_prefix_cache_hit_rate', 'gauge', 'Share of prompt tokens found in the prefix cache.', [[noLabels, stats.prefixCacheHitRate]]),
        family('pagedllm_num_preemptions_total', 'counter', 'Sequence groups preempted since start.', [[noLabels, stats.numPreemptions]]),
        family('pagedllm_prompt_tokens_total', 'counter', 'Prompt tokens processed since start.', [[noLabels, stats.promptTokens]]),
        family('pagedllm_generation_tokens_total', 'counter', 'Tokens generated since start.', [[noLabels, stats.generationTokens]]),
        family('pagedllm_engine_steps_total', 'counter', 'Engine steps run since start.', [[noLabels, stats.numSteps]]),
        family('pagedllm_spec_decode_num_drafts_total', 'counter', 'Speculative decoding: sequence steps that verified a proposal.', [[noLabels, stats.specDecode.numDrafts]]),
        family('pagedllm_spec_decode_num_draft_tokens_total', 'counter', 'Speculative decoding: tokens proposed.', [[noLabels, stats.specDecode.numDraftTokens]]),
        family('pagedllm_spec_decode_num_accepted_tokens_total', 'counter', 'Speculative decoding: proposed tokens accepted.', [[noLabels, stats.specDecode.numAcceptedTokens]]),
        family('pagedllm_spec_decode_acceptance_rate', 'gauge', 'Speculative decoding: accepted / proposed tokens since start.', [
          [noLabels, stats.specDecode.numDraftTokens === 0 ? 0 : stats.specDecode.numAcceptedTokens / stats.specDecode.numDraftTokens],
        ]),
      )
    }
    parts.push(
      this.timeToFirstToken.render('pagedllm_time_to_first_token_seconds', 'Time from arrival to the first generated token.'),
      this.timePerOutputToken.render('pagedllm_time_per_output_token_seconds', 'Mean time per generated token after the first.'),
      this.endToEndLatency.render('pagedllm_e2e_request_latency_seconds', 'Time from arrival to the last token.'),
      family('pagedllm_request_success_total', 'counter', 'Finished sequences by finish reason.',
        [...this.finishedRequests].map(([reason, count]) => [{finished_reason: reason}, count])),
      family('pagedllm_http_responses_total', 'counter', 'HTTP responses by status code.',
        [...this.httpResponses].map(([status, count]) => [{status: String(status)}, count])),
    )
    if (engine) parts.push(this.vllm.render(engine.stats, engine.modelName, this.finishedRequests))
    return parts.join('\n') + '\n'
  }
}
