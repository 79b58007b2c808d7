// The logprob entries one request may ask for. A reply is built whole in memory (a JSON body, or a stream's sequences
// while they run), at a few hundred bytes per entry in its objects and text: 64 prompts of 1,000 tokens with
// prompt_logprobs 20, echo and logprobs 20 made a 126 MB reply and 1.7 GB of server memory, so a prompt list of 1,024
// such prompts would have taken the server down.
import {InvalidRequestError} from '../engine/errors.js'
import type {PreparedPrompt} from './generation.js'

/** About 600 MB at the ~300 bytes an entry costs: 48 full 2k-token prompts with 20 top logprobs per token. */
export const MAX_LOGPROB_ENTRIES_PER_REQUEST = 2_000_000

/**
 * Refuses a request whose prompts and samples ask for more logprob entries than one reply may hold: each prompt token
 * gives prompt_logprobs + 1 (twice with echo, which shows them again), each completion token logprobs + 1, up to
 * max_tokens for each of the prompt's `sequencesPerPrompt` samples. A request of one sample is refused only for its
 * prompt's entries.
 */
export function checkLogprobEntries(prompts: readonly PreparedPrompt[], sequencesPerPrompt: number, echo: boolean, param: 'logprobs' | 'top_logprobs'): void {
  let promptEntries = 0
  let completionEntries = 0
  for (const {tokenIds, params} of prompts) {
    if (params.promptLogprobs !== null) promptEntries += tokenIds.length * (params.promptLogprobs + 1) * (echo && params.logprobs !== null ? 2 : 1)
    if (params.logprobs !== null) completionEntries += sequencesPerPrompt * params.maxTokens * (params.logprobs + 1)
  }
  const total = promptEntries + completionEntries
  // One sample's own logprobs are bounded by the context, as on any server (a long-context chat with top_logprobs 20
  // and no max_tokens must run); what a client multiplies (prompt lists, n, best_of, prompt logprobs) is bounded here.
  const oneSample = prompts.length * sequencesPerPrompt === 1 && promptEntries <= MAX_LOGPROB_ENTRIES_PER_REQUEST
  if (total <= MAX_LOGPROB_ENTRIES_PER_REQUEST || oneSample) return
  const count = (value: number) => value.toLocaleString('en-US')
  throw new InvalidRequestError(
    `This request asks for up to ${count(total)} logprob entries (${count(promptEntries)} for its prompt tokens, ${count(completionEntries)} for ` +
      `its completion tokens: each token's top logprobs plus the chosen one), more than the ${count(MAX_LOGPROB_ENTRIES_PER_REQUEST)} one reply may ` +
      'hold. Ask for fewer top logprobs, fewer tokens or samples, or split the prompts over several requests.',
    {param: promptEntries > completionEntries ? 'prompt_logprobs' : param, code: 'too_many_logprobs'},
  )
}
