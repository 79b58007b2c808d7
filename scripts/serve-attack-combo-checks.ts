// What scripts/serve-attack-combos.ts checks on a 200 beyond its shape (fuzz-serve-checks.ts): the text the features
// promise (structured output that parses, a guided choice, no stop string left in, max_tokens kept), and that a
// deterministic request (temperature 0 or a seed) streamed gives the same choices as not streamed.
import type {Combo} from './serve-attack-combo-bodies.js'

export interface Choice {
  text: string
  /** A chat reply's reasoning (a reasoning parser's split). */
  reasoning: string
  /** Per token: the sampled token's logprob and the best alternative's (null without top_logprobs). */
  logprobs: {chosen: number; best: number | null}[]
  finish: string | null
  /** Tool calls as name(arguments), in order. */
  calls: string[]
}

/** The choices of a JSON reply or an SSE stream, by index (deltas joined). */
export function choicesOf(route: Combo['route'], text: string, streamed: boolean): Map<number, Choice> {
  const choices = new Map<number, Choice>()
  const objects = streamed
    ? text
        .split('\n\n')
        .filter((event) => event.startsWith('data: {'))
        .map((event) => JSON.parse(event.slice(6)))
    : [JSON.parse(text)]
  for (const object of objects) {
    for (const choice of object.choices ?? []) {
      const entry = choices.get(choice.index) ?? {text: '', reasoning: '', logprobs: [], finish: null, calls: []}
      const message = route === '/v1/chat/completions' ? (streamed ? choice.delta : choice.message) : undefined
      entry.text += route === '/v1/completions' ? choice.text : (message?.content ?? '')
      entry.reasoning += message?.reasoning_content ?? message?.reasoning ?? ''
      for (const call of message?.tool_calls ?? []) {
        // A streamed call comes as its name first, then pieces of its arguments, all under one index.
        const at = streamed ? call.index : entry.calls.length
        entry.calls[at] = (entry.calls[at] ?? '') + (call.function?.name ?? '') + (call.function?.arguments ?? '')
      }
      entry.logprobs.push(...tokenLogprobs(route, choice.logprobs))
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) entry.finish = choice.finish_reason
      choices.set(choice.index, entry)
    }
  }
  return choices
}

/** Per token of a choice's logprobs (chat's content list or completions' lists): the chosen logprob and the best alternative's. */
function tokenLogprobs(route: Combo['route'], logprobs: any): Choice['logprobs'] {
  if (logprobs === null || logprobs === undefined) return []
  const best = (alternatives: number[]) => (alternatives.length === 0 ? null : Math.max(...alternatives))
  if (route === '/v1/chat/completions')
    return (logprobs.content ?? []).map((entry: any) => ({chosen: entry.logprob, best: best((entry.top_logprobs ?? []).map((top: any) => top.logprob))}))
  return (logprobs.token_logprobs ?? []).map((chosen: number, i: number) => ({chosen, best: best(Object.values(logprobs.top_logprobs?.[i] ?? {}) as number[])}))
}

/**
 * A request whose choices do not depend on the draw (greedy, or seeded: vLLM's per-request generator) and that may be
 * streamed (prompt_logprobs may not, as in vLLM).
 */
export function deterministic(combo: Combo): boolean {
  const {body} = combo
  return (body.temperature === 0 || Number.isSafeInteger(body.seed)) && body.prompt_logprobs === undefined
}

/** The same request with the stream flag flipped: the reply to compare with. */
export function flippedStream(combo: Combo): Combo {
  const body = {...combo.body}
  if (body.stream === true) {
    delete body.stream
    delete body.stream_options
  } else {
    body.stream = true
    body.stream_options = {include_usage: true}
  }
  return {...combo, body}
}

/** Where two replies to the same deterministic request differ, or null. */
export function sameChoices(first: Map<number, Choice>, second: Map<number, Choice>): string | null {
  if (first.size !== second.size) return `${first.size} choices, then ${second.size}`
  for (const [index, choice] of first) {
    const other = second.get(index)
    if (other === undefined) return `choice ${index} missing`
    if (choice.text !== other.text) return `choice ${index} text ${JSON.stringify(choice.text.slice(0, 80))} vs ${JSON.stringify(other.text.slice(0, 80))}`
    if (choice.reasoning !== other.reasoning) return `choice ${index} reasoning ${JSON.stringify(choice.reasoning.slice(0, 80))} vs ${JSON.stringify(other.reasoning.slice(0, 80))}`
    if (choice.finish !== other.finish) return `choice ${index} finish_reason ${choice.finish} vs ${other.finish}`
    if (choice.calls.join('|') !== other.calls.join('|')) return `choice ${index} tool calls ${choice.calls.join('|').slice(0, 80)} vs ${other.calls.join('|').slice(0, 80)}`
  }
  return null
}

/** The request constrains the output (a grammar, tools forcing a call, a response format). */
function guided(body: Record<string, unknown>): boolean {
  const format = (body.response_format as {type?: string} | undefined)?.type
  return (
    ['guided_choice', 'guided_regex', 'guided_json', 'guided_grammar', 'structured_outputs'].some((key) => body[key] !== undefined) ||
    (format !== undefined && format !== 'text') ||
    (body.tools !== undefined && body.tool_choice !== undefined && body.tool_choice !== 'auto' && body.tool_choice !== 'none')
  )
}

/** What a 200's choices break of the features' promises, or null. */
export function promiseProblem(combo: Combo, choices: Map<number, Choice>): string | null {
  const {body} = combo
  const stops = (typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop : []).filter((stop) => typeof stop === 'string' && stop !== '')
  const format = body.response_format as {type?: string} | undefined
  const choice = Array.isArray(body.guided_choice) ? (body.guided_choice as string[]) : undefined
  // A stop string or stop token may cut a structured output short and still finish with 'stop'; the EOS token's own
  // text follows it where include_stop_str_in_output keeps it and special tokens are not skipped (vLLM's detokenizer).
  const cut = stops.length > 0 || (Array.isArray(body.stop_token_ids) && body.stop_token_ids.length > 0) || (body.include_stop_str_in_output === true && body.skip_special_tokens === false)
  // Greedy with nothing that moves the logits between the model and the draw: each token is the most likely one, and
  // logprobs are the model's (vLLM's raw logprobs), so no alternative may beat it.
  const processed = ['logit_bias', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'min_tokens', 'bad_words', 'allowed_token_ids'].some((key) => body[key] !== undefined)
  const greedyPlain = body.temperature === 0 && !processed && !guided(body) && body.use_beam_search !== true && body.echo !== true
  for (const [index, {text, logprobs, finish, calls}] of choices) {
    if (greedyPlain) {
      const beaten = logprobs.findIndex(({chosen, best}) => best !== null && best > chosen + 1e-4)
      if (beaten >= 0) return `choice ${index}: greedy token ${beaten} has logprob ${logprobs[beaten]!.chosen}, an alternative ${logprobs[beaten]!.best}`
    }
    // An echoed prompt's first token has no logprob (null), as in vLLM.
    if (logprobs.some(({chosen}, i) => (typeof chosen !== 'number' && !(chosen === null && i === 0 && body.echo === true)) || chosen > 0)) return `choice ${index}: a logprob above 0 or not a number`
    // Stop strings are looked for in new text only (not an echoed prompt), and only after min_tokens.
    const generated = body.echo === true ? null : text
    if (generated !== null && body.include_stop_str_in_output !== true && !(Number(body.min_tokens) > 0)) {
      const stop = stops.find((each) => generated.includes(each as string))
      if (stop !== undefined) return `choice ${index} keeps the stop string ${JSON.stringify(stop)}: ${JSON.stringify(text.slice(0, 120))}`
    }
    if (finish !== 'stop' || cut || calls.length > 0 || body.echo === true) continue
    if (format?.type === 'json_object' || format?.type === 'json_schema') {
      try {
        JSON.parse(text)
      } catch {
        return `choice ${index}: response_format ${format.type} finished with text that is not JSON: ${JSON.stringify(text.slice(0, 120))}`
      }
    }
    if (choice !== undefined && !choice.includes(text)) return `choice ${index}: ${JSON.stringify(text.slice(0, 80))} is not one of guided_choice`
  }
  return null
}

/**
 * The /tokenize body that counts the prompt a 200 was given (vLLM's usage.prompt_tokens): the same messages, tools and
 * template options, or the same one string prompt; null where the count is not one prompt's (truncation, prompt lists).
 */
export function tokenizeBodyFor(combo: Combo): Record<string, unknown> | null {
  const {body} = combo
  if (body.truncate_prompt_tokens !== undefined) return null
  if (combo.route === '/v1/completions') return typeof body.prompt === 'string' ? {prompt: body.prompt} : null
  const keys = ['messages', 'tools', 'add_generation_prompt', 'continue_final_message', 'chat_template_kwargs', 'documents']
  return Object.fromEntries(keys.filter((key) => body[key] !== undefined).map((key) => [key, body[key]]))
}
