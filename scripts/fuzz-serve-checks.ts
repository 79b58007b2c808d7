// The invariants scripts/fuzz-serve.ts checks on every reply: a 200 with an OpenAI-shaped body (or SSE stream), or a 4xx / honest 503 with OpenAI's error object.
import {responseObjectProblem, responsesStreamProblem} from './fuzz-serve-responses.js'

/** What is wrong with a reply, or null when it keeps every invariant. */
export function replyProblem(path: string, status: number, contentType: string, text: string, sent: unknown): string | null {
  if (status >= 500 && status !== 503) return `status ${status}`
  if (status !== 200) return errorShapeProblem(text, status)
  if (path === '/v1/responses' && contentType.startsWith('text/event-stream')) return responsesStreamProblem(text, sent)
  if (contentType.startsWith('text/event-stream')) return streamProblem(path, text, sent)
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    return path === '/metrics' || path === '/health' || path === '/ping' ? null : 'a 200 whose body is not JSON'
  }
  if (path === '/v1/completions') return completionProblem(json, sent, false)
  if (path === '/v1/chat/completions') return chatProblem(json, false, sent)
  if (path === '/v1/responses') return responseObjectProblem(json, sent)
  if (path === '/tokenize') return Number.isInteger(json.count) && Array.isArray(json.tokens) && json.count === json.tokens.length ? null : 'tokenize: count/tokens'
  if (path === '/detokenize') return typeof json.prompt === 'string' ? null : 'detokenize: no prompt string'
  return null
}

function errorShapeProblem(text: string, status: number): string | null {
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    return `a ${status} whose body is not JSON`
  }
  const error = json?.error
  if (typeof error !== 'object' || error === null) return `a ${status} without an error object`
  if (typeof error.message !== 'string' || typeof error.type !== 'string') return `a ${status} error without message/type strings`
  if (!('param' in error) || !('code' in error)) return `a ${status} error without param/code`
  if (error.param !== null && typeof error.param !== 'string') return `a ${status} error whose param is ${typeof error.param}`
  if (error.code !== null && typeof error.code !== 'string' && typeof error.code !== 'number') return `a ${status} error whose code is ${typeof error.code}`
  return null
}

const FINISH_REASONS = new Set(['stop', 'length', 'tool_calls', 'abort'])

function usageProblem(usage: any): string | null {
  if (usage === undefined || usage === null) return null
  const {prompt_tokens: prompt, completion_tokens: completion, total_tokens: total} = usage
  if (![prompt, completion, total].every((value) => Number.isInteger(value) && value >= 0)) return 'usage: counts not non-negative integers'
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0
  // Each prompt's hits stop short of its last token: fewer than its prompt tokens unless none.
  if (!(Number.isInteger(cached) && cached >= 0 && (cached === 0 || cached < prompt))) return `usage: cached_tokens ${cached} of ${prompt} prompt tokens`
  return prompt + completion === total ? null : `usage: ${prompt} + ${completion} != ${total}`
}

function promptCount(sent: any): number | undefined {
  const prompt = sent?.prompt
  if (typeof prompt === 'string') return 1
  if (!Array.isArray(prompt)) return undefined
  return prompt.every((item) => typeof item === 'number') ? 1 : prompt.length
}

function completionProblem(json: any, sent: any, chunk: boolean): string | null {
  if (json.object !== 'text_completion') return `completion: object ${json.object}`
  if (typeof json.id !== 'string' || typeof json.model !== 'string' || !Number.isInteger(json.created)) return 'completion: id/model/created'
  if (!Array.isArray(json.choices)) return 'completion: choices not a list'
  for (const choice of json.choices) {
    if (!Number.isInteger(choice.index) || typeof choice.text !== 'string') return 'completion: choice index/text'
    if (!(choice.finish_reason === null && chunk) && !FINISH_REASONS.has(choice.finish_reason)) return `completion: finish_reason ${choice.finish_reason}`
    if (choice.logprobs) {
      const {tokens, token_logprobs: logprobs, text_offset: offsets} = choice.logprobs
      if (!Array.isArray(tokens) || !Array.isArray(logprobs) || !Array.isArray(offsets)) return 'completion: logprobs lists'
      if (tokens.length !== logprobs.length || tokens.length !== offsets.length) return 'completion: logprobs list lengths differ'
    }
  }
  if (!chunk) {
    const prompts = promptCount(sent)
    const n = Number.isInteger(sent?.n) ? sent.n : 1
    const streamed = sent?.stream === true
    if (prompts !== undefined && !streamed && json.choices.length !== prompts * n) return `completion: ${json.choices.length} choices for ${prompts} prompts x n ${n}`
    if (json.usage === undefined) return 'completion: no usage'
    const stops = typeof sent?.stop === 'string' ? [sent.stop] : Array.isArray(sent?.stop) ? sent.stop : []
    // Before min_tokens no stop string counts, and later only new text is searched (vLLM): skip those requests.
    if (sent?.echo !== true && sent?.include_stop_str_in_output !== true && !(sent?.min_tokens > 0))
      for (const choice of json.choices) {
        const stop = stops.find((each: string) => each !== '' && choice.text.includes(each))
        if (stop !== undefined) return `completion: text holds the stop string ${JSON.stringify(stop.slice(0, 20))}`
      }
    if (sent?.echo !== true && json.choices.every((choice: any) => Array.isArray(choice.token_ids))) {
      const sum = json.choices.reduce((total: number, choice: any) => total + choice.token_ids.length, 0)
      if (sum !== json.usage.completion_tokens && sent?.use_beam_search !== true) return `completion: token_ids add up to ${sum}, usage says ${json.usage.completion_tokens}`
    }
    for (const choice of json.choices) {
      const logprobs = choice.logprobs
      if (!logprobs || sent?.echo === true) continue
      // Offsets run over the tokens' texts (vLLM): within the text unless skipped special tokens, a stop string's cut or
      // bytes that are not UTF-8 (one U+FFFD in the text, one per token in their texts) count too.
      const bound = sent?.skip_special_tokens === false && sent?.stop === undefined && !choice.text.includes('\ufffd') ? choice.text.length : Infinity
      if (logprobs.text_offset.some((offset: number, i: number) => offset < (logprobs.text_offset[i - 1] ?? 0) || offset > bound)) return 'completion: text_offset not increasing within the text'
      if (Array.isArray(choice.token_ids) && choice.token_ids.length !== logprobs.tokens.length) return `completion: ${logprobs.tokens.length} logprobs for ${choice.token_ids.length} tokens`
      // A token that ends the sequence (EOS, a stop token id) is returned without its text, unless include_stop_str_in_output keeps it (vLLM).
      const cut = choice.finish_reason === 'stop' && typeof choice.stop_reason !== 'string' && sent?.include_stop_str_in_output !== true
      const shown = cut ? logprobs.tokens.slice(0, -1) : logprobs.tokens
      // Bytes that are not UTF-8 (a sampled token cutting a character) decode to a different number of U+FFFD per token
      // than in the whole text; a character split over tokens is whole in the text but U+FFFD in each token's (vLLM decodes each alone).
      const wholeUtf8 = !choice.text.includes('\ufffd') && !shown.some((token: string) => token.includes('\ufffd'))
      if (sent?.skip_special_tokens === false && sent?.stop === undefined && sent?.return_tokens_as_token_ids !== true && wholeUtf8 && shown.join('') !== choice.text)
        return `completion: logprob tokens ${JSON.stringify(logprobs.tokens.join('').slice(0, 60))} do not join into the text ${JSON.stringify(choice.text.slice(0, 60))}`
    }
    if (prompts === 1 && sent?.echo !== true)
      for (const choice of json.choices)
        if (Array.isArray(choice.prompt_logprobs) && choice.prompt_logprobs.length !== json.usage.prompt_tokens)
          return `completion: ${choice.prompt_logprobs.length} prompt_logprobs for ${json.usage.prompt_tokens} prompt tokens`
    const maxTokens = Number.isInteger(sent?.max_tokens) ? sent.max_tokens : sent?.max_tokens === null ? Infinity : 16
    if (sent?.echo !== true && json.usage.completion_tokens > maxTokens * json.choices.length) return `completion: ${json.usage.completion_tokens} tokens > max_tokens ${maxTokens} x ${json.choices.length}`
  }
  return usageProblem(json.usage)
}

function chatProblem(json: any, chunk: boolean, sent?: any): string | null {
  // vLLM's rule: without a generation prompt the reply continues the last message, in its role.
  const continues = sent?.add_generation_prompt === false || sent?.continue_final_message === true
  if (json.object !== (chunk ? 'chat.completion.chunk' : 'chat.completion')) return `chat: object ${json.object}`
  if (typeof json.id !== 'string' || typeof json.model !== 'string' || !Number.isInteger(json.created)) return 'chat: id/model/created'
  if (!Array.isArray(json.choices)) return 'chat: choices not a list'
  for (const choice of json.choices) {
    if (!Number.isInteger(choice.index)) return 'chat: choice index'
    const message = chunk ? choice.delta : choice.message
    if (typeof message !== 'object' || message === null) return 'chat: no message/delta'
    if (!chunk && message.role !== 'assistant' && !continues) return `chat: role ${message.role}`
    if (message.content !== undefined && message.content !== null && typeof message.content !== 'string') return 'chat: content not a string'
    if (message.tool_calls !== undefined) {
      if (!Array.isArray(message.tool_calls)) return 'chat: tool_calls not a list'
      for (const call of message.tool_calls) {
        if (!chunk && (typeof call.id !== 'string' || call.type !== 'function' || typeof call.function?.name !== 'string' || typeof call.function?.arguments !== 'string'))
          return 'chat: tool call shape'
      }
    }
    if (!(choice.finish_reason === null && chunk) && !FINISH_REASONS.has(choice.finish_reason)) return `chat: finish_reason ${choice.finish_reason}`
  }
  if (!chunk && json.usage === undefined) return 'chat: no usage'
  if (!chunk && json.choices.length === 1 && Array.isArray(json.choices[0].logprobs?.content) && sent?.echo !== true) {
    // One logprob per returned token; a token that ended the sequence without its text (EOS, stop id) may be among them.
    const entries = json.choices[0].logprobs.content.length
    const tokens = json.usage.completion_tokens
    if (entries !== tokens && entries !== tokens - 1) return `chat: ${entries} logprobs for ${tokens} completion tokens`
  }
  return usageProblem(json.usage)
}

function streamProblem(path: string, text: string, sent: any): string | null {
  const finished = new Map<number, number>()
  let usageChunks = 0
  if (!text.endsWith('data: [DONE]\n\n')) return 'stream: does not end with [DONE]'
  const events = text.split('\n\n').filter((event) => event !== '')
  for (const [index, event] of events.entries()) {
    if (!event.startsWith('data: ')) return 'stream: an event that is not data'
    const data = event.slice(6)
    if (data === '[DONE]') {
      if (index !== events.length - 1) return 'stream: [DONE] before the end'
      if (text.includes('"error"')) return null
      const wantUsage = typeof sent?.stream_options === 'object' && sent.stream_options !== null && sent.stream_options.include_usage !== false && sent.stream_options.include_usage !== null
      if (wantUsage && usageChunks !== 1) return `stream: ${usageChunks} usage chunks for include_usage`
      const prompts = path === '/v1/completions' ? promptCount(sent) : 1
      const n = Number.isInteger(sent?.n) ? sent.n : 1
      if (prompts !== undefined && sent?.use_beam_search !== true && finished.size !== prompts * n) return `stream: ${finished.size} choices finished for ${prompts} prompts x n ${n}`
      return null
    }
    let json: any
    try {
      json = JSON.parse(data)
    } catch {
      return 'stream: an event that is not JSON'
    }
    if (json.error !== undefined) {
      const problem = errorShapeProblem(data, 400)
      if (problem !== null) return `stream: ${problem}`
      continue
    }
    const problem = path === '/v1/chat/completions' ? chatProblem(json, true) : completionProblem(json, undefined, true)
    if (problem !== null) return `stream: ${problem}`
    if (json.usage && json.choices.length === 0) usageChunks++
    for (const choice of json.choices) if (choice.finish_reason !== null) finished.set(choice.index, (finished.get(choice.index) ?? 0) + 1)
    const twice = [...finished].find(([, count]) => count > 1)
    if (twice) return `stream: choice ${twice[0]} finished twice`
  }
  return 'stream: no [DONE]'
}

/** The gauges that must be zero once the load drains: KV blocks (a draft model's too) and state slots in use, requests running, waiting or swapped. */
export function drainedProblem(metrics: string): string | null {
  const value = (name: string) => {
    const line = metrics.split('\n').find((each) => each.startsWith(name + ' '))
    return line === undefined ? NaN : Number(line.slice(name.length + 1))
  }
  const gauges = ['pagedllm_kv_blocks{state="used"}', 'pagedllm_num_requests_running', 'pagedllm_num_requests_waiting', 'pagedllm_num_requests_swapped']
  // A hybrid model's state slots and a draft model's KV blocks too (each gauge is absent where there are none).
  if (metrics.includes('pagedllm_state_slots{')) gauges.push('pagedllm_state_slots{state="used"}')
  if (metrics.includes('pagedllm_draft_kv_blocks{')) gauges.push('pagedllm_draft_kv_blocks{state="used"}')
  const nonzero = gauges.filter((name) => value(name) !== 0).map((name) => `${name} = ${value(name)}`)
  return nonzero.length === 0 ? null : nonzero.join(', ')
}
