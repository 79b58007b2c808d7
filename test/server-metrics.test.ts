// /metrics text: pagedllm_* and the vLLM names dashboards and routers read, parsed back from the Prometheus text.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineStats, RequestOutput} from '../src/server/engine-like.js'
import {ServerMetrics} from '../src/server/metrics.js'

interface Family {
  type: string
  help: string
  samples: {name: string; labels: Record<string, string>; value: number}[]
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  LABEL.lastIndex = 0
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text)
    assert.ok(match, `malformed label set {${text}}`)
    labels[match[1]!] = match[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
  }
  return labels
}

/** Families by name; every sample must follow its family's HELP and TYPE lines and parse as a number. */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  let current: [string, Family] | null = null
  for (const line of text.trimEnd().split('\n')) {
    const help = /^# HELP (\S+) (.+)$/.exec(line)
    const type = /^# TYPE (\S+) (gauge|counter|histogram)$/.exec(line)
    if (help) {
      current = [help[1]!, {type: '', help: help[2]!, samples: []}]
      assert.ok(!families.has(help[1]!), `family ${help[1]} declared twice`)
      families.set(help[1]!, current[1])
    } else if (type) {
      assert.ok(current !== null && current[0] === type[1], `TYPE ${type[1]} without its HELP line`)
      current[1].type = type[2]!
    } else {
      const match = SAMPLE.exec(line)
      assert.ok(match, `malformed sample line: ${line}`)
      const [, name, labels, value] = match
      assert.ok(current && current[1].type !== '', `sample ${name} before any HELP/TYPE`)
      const allowed = current[1].type === 'histogram' ? ['_bucket', '_sum', '_count'].map((suffix) => current![0] + suffix) : [current[0]]
      assert.ok(allowed.includes(name!), `sample ${name} inside family ${current[0]}`)
      assert.ok(value === '+Inf' || Number.isFinite(Number(value)), `sample ${name} value ${value}`)
      current[1].samples.push({name: name!, labels: parseLabels(labels ?? ''), value: Number(value)})
    }
  }
  return families
}

function stats(overrides: Partial<EngineStats> = {}): EngineStats {
  return {
    numRunning: 3, numWaiting: 2, numSwapped: 1,
    kv: {blockSize: 16, totalBlocks: 100, usedBlocks: 25, freeBlocks: 70, cachedBlocks: 5, tokensStored: 380, reservedSlots: 400, wasteSlots: 20, sharedBlocks: 2, savedBySharing: 32},
    numPreemptions: 4, prefixCacheHitRate: 0.25, prefixCacheQueries: 400, prefixCacheHits: 100,
    swapBlocks: {used: 8, total: 32}, promptTokens: 400, generationTokens: 57, numSteps: 60, numStepsQueuedAhead: 0,
    specDecode: {numDrafts: 5, numDraftTokens: 20, numAcceptedTokens: 15},
    ...overrides,
  }
}

function finished(tokens: number, times: {ttft: number; e2e: number}, reason: 'stop' | 'length' = 'length'): RequestOutput {
  const completion = {index: 0, text: '', tokenIds: Array.from({length: tokens}, (_, i) => i), cumulativeLogprob: 0, logprobs: null, finishReason: reason, stopReason: null}
  return {
    requestId: 'r', prompt: null, promptTokenIds: [1], outputs: [completion], finished: true, promptLogprobs: null, numCachedTokens: 0,
    metrics: {arrivalTime: 10, firstScheduledTime: 10, firstTokenTime: 10 + times.ttft, finishedTime: 10 + times.e2e},
  }
}

const VLLM_TYPES: Record<string, string> = {
  'vllm:num_requests_running': 'gauge',
  'vllm:num_requests_waiting': 'gauge',
  'vllm:num_requests_swapped': 'gauge',
  'vllm:gpu_cache_usage_perc': 'gauge',
  'vllm:kv_cache_usage_perc': 'gauge',
  'vllm:cpu_cache_usage_perc': 'gauge',
  'vllm:gpu_prefix_cache_hit_rate': 'gauge',
  'vllm:prefix_cache_queries_total': 'counter',
  'vllm:prefix_cache_hits_total': 'counter',
  'vllm:num_preemptions_total': 'counter',
  'vllm:prompt_tokens_total': 'counter',
  'vllm:generation_tokens_total': 'counter',
  'vllm:spec_decode_num_drafts_total': 'counter',
  'vllm:spec_decode_num_draft_tokens_total': 'counter',
  'vllm:spec_decode_num_accepted_tokens_total': 'counter',
  'vllm:request_success_total': 'counter',
  'vllm:time_to_first_token_seconds': 'histogram',
  'vllm:time_per_output_token_seconds': 'histogram',
  'vllm:e2e_request_latency_seconds': 'histogram',
}

describe('/metrics text', () => {
  const metrics = new ServerMetrics()
  metrics.observeFinished(finished(5, {ttft: 0.25, e2e: 0.75}))
  metrics.observeFinished(finished(1, {ttft: 2, e2e: 2}, 'stop'))
  const families = parse(metrics.render({stats: stats(), modelName: 'org/model "x"'}))
  const value = (name: string, labels: Record<string, string> = {}) => {
    const samples = [...families.values()].flatMap((family) => family.samples).filter((candidate) => candidate.name === name)
    const sample = samples.find((candidate) => Object.entries(labels).every(([key, v]) => candidate.labels[key] === v))
    assert.ok(sample, `no sample of ${name} with ${JSON.stringify(labels)}`)
    return sample.value
  }

  it('exports every vLLM name with its type, each sample labelled with the (escaped) model name', () => {
    for (const [name, type] of Object.entries(VLLM_TYPES)) {
      const family = families.get(name)
      assert.ok(family, `missing ${name}`)
      assert.equal(family.type, type, name)
      assert.ok(family.samples.length > 0, `${name} has no samples`)
      for (const sample of family.samples) assert.equal(sample.labels.model_name, 'org/model "x"', sample.name)
    }
  })

  it('vLLM gauges and counters carry the engine figures (usage as a 0-1 fraction)', () => {
    assert.equal(value('vllm:num_requests_running'), 3)
    assert.equal(value('vllm:num_requests_waiting'), 2)
    assert.equal(value('vllm:num_requests_swapped'), 1)
    assert.equal(value('vllm:kv_cache_usage_perc'), 0.25)
    assert.equal(value('vllm:gpu_cache_usage_perc'), 0.25)
    assert.equal(value('vllm:cpu_cache_usage_perc'), 0.25)
    assert.equal(value('vllm:prefix_cache_queries_total'), 400)
    assert.equal(value('vllm:prefix_cache_hits_total'), 100)
    assert.equal(value('vllm:prompt_tokens_total'), 400)
    assert.equal(value('vllm:generation_tokens_total'), 57)
    assert.equal(value('vllm:num_preemptions_total'), 4)
    assert.equal(value('vllm:spec_decode_num_drafts_total'), 5)
    assert.equal(value('vllm:spec_decode_num_draft_tokens_total'), 20)
    assert.equal(value('vllm:spec_decode_num_accepted_tokens_total'), 15)
    assert.equal(value('pagedllm_spec_decode_num_draft_tokens_total'), 20)
    assert.equal(value('pagedllm_spec_decode_num_accepted_tokens_total'), 15)
    assert.equal(value('pagedllm_spec_decode_acceptance_rate'), 0.75)
    assert.equal(value('vllm:request_success_total', {finished_reason: 'length'}), 1)
    assert.equal(value('vllm:request_success_total', {finished_reason: 'stop'}), 1)
  })

  it('vLLM histograms use vLLM bucket bounds, cumulative counts, +Inf, _sum and _count', () => {
    const ttftBounds = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560]
    const buckets = families.get('vllm:time_to_first_token_seconds')!.samples.filter((sample) => sample.name.endsWith('_bucket'))
    assert.deepEqual(buckets.map((bucket) => bucket.labels.le), [...ttftBounds.map(String), '+Inf'])
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative')
    assert.equal(value('vllm:time_to_first_token_seconds_bucket', {le: '0.1'}), 0)
    assert.equal(value('vllm:time_to_first_token_seconds_bucket', {le: '0.25'}), 1)
    assert.equal(value('vllm:time_to_first_token_seconds_bucket', {le: '+Inf'}), 2)
    assert.equal(value('vllm:time_to_first_token_seconds_count'), 2)
    assert.equal(value('vllm:time_to_first_token_seconds_sum'), 2.25)
    // Only the 5-token request has tokens after its first: (0.75 - 0.25) / 4 = 0.125 s.
    assert.equal(value('vllm:time_per_output_token_seconds_count'), 1)
    assert.equal(value('vllm:time_per_output_token_seconds_bucket', {le: '0.15'}), 1)
    assert.equal(value('vllm:time_per_output_token_seconds_bucket', {le: '0.1'}), 0)
    assert.equal(value('vllm:e2e_request_latency_seconds_bucket', {le: '0.5'}), 0)
    assert.equal(value('vllm:e2e_request_latency_seconds_bucket', {le: '0.8'}), 1)
    assert.equal(value('vllm:e2e_request_latency_seconds_bucket', {le: '7680'}), 2)
  })

  it('keeps the pagedllm_* names alongside', () => {
    assert.equal(families.get('pagedllm_num_requests_running')?.type, 'gauge')
    assert.equal(value('pagedllm_kv_blocks', {state: 'used'}), 25)
    assert.equal(value('pagedllm_prompt_tokens_total'), 400)
    assert.equal(value('pagedllm_time_to_first_token_seconds_count'), 2)
  })

  it("a hybrid model's recurrent state slots and a draft model's KV blocks, only where there are some", () => {
    assert.equal(families.has('pagedllm_state_slots'), false)
    assert.equal(families.has('pagedllm_draft_kv_blocks'), false)
    const draftKv = {...stats().kv, totalBlocks: 40, usedBlocks: 6, freeBlocks: 30, cachedBlocks: 4}
    const drafting = parse(new ServerMetrics().render({stats: stats({draftKv}), modelName: 'm'}))
    const blocks = Object.fromEntries(drafting.get('pagedllm_draft_kv_blocks')!.samples.map((sample) => [sample.labels.state, sample.value]))
    assert.deepEqual(blocks, {used: 6, free: 30, cached: 4, total: 40})
    const hybrid = parse(new ServerMetrics().render({stats: stats({stateSlots: {used: 3, total: 8}}), modelName: 'm'}))
    const slots = Object.fromEntries(hybrid.get('pagedllm_state_slots')!.samples.map((sample) => [sample.labels.state, sample.value]))
    assert.deepEqual(slots, {used: 3, free: 5, total: 8})
  })

  it('while the model loads: only the server counters, no engine or vLLM series', () => {
    const loading = parse(new ServerMetrics().render(null))
    assert.ok(loading.has('pagedllm_http_responses_total'))
    assert.equal([...loading.keys()].filter((name) => name.startsWith('vllm:') || name === 'pagedllm_kv_blocks').length, 0)
  })
})
