// POST /v1/completions: one or several prompts, n choices each, as one JSON reply or an SSE stream.
import {type ApiContext, newObjectId, unixSeconds} from './api-context.js'
import {ChoiceDeltas} from './choice-deltas.js'
import type {CompletionOutput, RequestOutput} from './engine-like.js'
import {outputTokenCount} from '../engine/request-output.js'
import {errorReply} from './error-reply.js'
import {admitPrompts, collectFinalOutputs, picksAtEnd, prepareBadWords, prepareGuided, type PreparedPrompt, PromptRun, promptTokensDetails, sequencesPerPrompt, usageOf} from './generation.js'
import {concatLogprobs, decodedToken, tokenNamer, tokenText, type TokenNamer} from './logprobs-format.js'
import {ReplySlicer, sendJsonInSlices} from './reply-slices.js'
import {completionLogprobsInSlices, promptLogprobsInSlices} from './sliced-logprobs.js'
import {checkLogprobEntries} from './reply-logprobs-budget.js'
import {checkModel, type CompletionRequest, resolveMaxTokens, samplingParamsFor, truncationLimit} from './openai-schema.js'
import {lastTokens} from './prompt-tokenizer.js'
import type {CheckedByRoute} from './request-checks.js'
import {logUnreadFields} from './request-fields.js'
import {SseStream} from './sse.js'

interface ReplyHeader {
  id: string
  object: 'text_completion'
  created: number
  model: string
}

export async function createCompletion(context: ApiContext, {request, unread}: CheckedByRoute['completions']): Promise<void> {
  logUnreadFields(unread, context.log)
  checkModel(request.model, context.engine.modelName)
  const {window, release} = await admitPrompts(context, request.prompts.length, sequencesPerPrompt(request.sampling))
  const prompts = await prepareInLanes(context, request)
  checkLogprobEntries(prompts, sequencesPerPrompt(request.sampling), request.echo, 'logprobs')
  await prepareBadWords(context, prompts)
  await prepareGuided(context.engine, prompts, context.signal)
  const id = newObjectId('cmpl')
  const run = new PromptRun(context.engine, id, prompts, context.arrivalTime, window, release)
  const header: ReplyHeader = {id, object: 'text_completion', created: unixSeconds(), model: context.engine.modelName}
  const name = tokenNamer(context.engine.tokenizer, request.tokensAsIds)
  // As vLLM (and OpenAI's legacy API): sequences chosen at the end come back as one JSON reply, stream or not.
  if (request.stream && !picksAtEnd(prompts[0]!.params)) return streamCompletion(context, request, prompts, header, run, name)
  const finals = await collectFinalOutputs(run, prompts.length, context.signal, context.metrics.observeFinished)
  const slicer = new ReplySlicer(context.signal)
  await sendJsonInSlices(context.response, slicer, 200, await completionReply(context, request, prompts, header, finals, name, slicer))
}

/** Prompts of one request being tokenized at once: more than the tokenizer workers (2 by default), far fewer than a window. */
const TOKENIZE_LANES = 4

/**
 * Tokenizes the prompts in order, a few at a time, stopping at the first that fails or when the client leaves. A list
 * keeps the tokenizer workers busy without queueing all of itself ahead of other clients, and a prompt refused (too
 * long) leaves no queue behind it: a window posted at once kept the workers on up to 63 doomed prompts (17 s of other
 * clients' tokenizing behind a list of 33 KB words).
 */
async function prepareInLanes(context: ApiContext, request: CompletionRequest): Promise<PreparedPrompt[]> {
  const prompts: PreparedPrompt[] = new Array(request.prompts.length)
  let next = 0
  let failed = false
  const lane = async () => {
    while (next < request.prompts.length && !failed) {
      context.signal.throwIfAborted()
      const index = next++
      try {
        prompts[index] = await preparePrompt(context, request, request.prompts[index]!)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(TOKENIZE_LANES, request.prompts.length)}, lane))
  return prompts
}

async function preparePrompt(context: ApiContext, request: CompletionRequest, prompt: CompletionRequest['prompts'][number]): Promise<PreparedPrompt> {
  const {tokenizer, maxModelLen} = context.engine
  const truncate = truncationLimit(request, maxModelLen)
  const tokenIds =
    'text' in prompt
      ? await context.promptTokenizer.tokenize({kind: 'text', text: prompt.text, param: 'prompt', addSpecialTokens: request.addSpecialTokens, truncate}, context.signal)
      : lastTokens(prompt.tokenIds, truncate)
  const maxTokens = resolveMaxTokens(request.maxTokens, tokenIds.length, maxModelLen, 16, 'prompt')
  // Echo shows the prompt the model saw: as sent, unless it was given as ids or truncated.
  const text = !request.echo ? '' : 'text' in prompt && truncate === undefined ? prompt.text : tokenizer.decode(tokenIds)
  return {tokenIds, text, params: samplingParamsFor(request, maxTokens, context.samplingDefaults)}
}

/** What a choice returns of its output: nothing when the request only echoes (max_tokens 0), whose one token is dropped. */
function returned(request: CompletionRequest, output: Pick<CompletionOutput, 'text' | 'tokenIds' | 'logprobs'>) {
  return request.echoOnly ? {text: '', tokenIds: [], logprobs: []} : {text: output.text, tokenIds: output.tokenIds, logprobs: output.logprobs ?? []}
}

/** The whole reply's object, its logprobs built a slice at a time (they can run to millions of entries). */
async function completionReply(
  context: ApiContext,
  request: CompletionRequest,
  prompts: PreparedPrompt[],
  header: ReplyHeader,
  finals: RequestOutput[],
  name: TokenNamer,
  slicer: ReplySlicer,
) {
  const textOf = tokenText(context.engine.tokenizer)
  const decoded = decodedToken(context.engine.tokenizer)
  const completionLengths: number[] = []
  const choices = []
  for (const [promptIndex, final] of finals.entries()) {
    const prompt = prompts[promptIndex]!
    const topCount = prompt.params.logprobs
    const promptLogprobs =
      prompt.params.promptLogprobs === null ? null : await promptLogprobsInSlices(slicer, decoded, prompt.tokenIds, final.promptLogprobs ?? [], final.promptLogprobRanks ?? [], prompt.params.promptLogprobs)
    for (const output of final.outputs) {
      const own = returned(request, output)
      completionLengths.push(own.tokenIds.length)
      // Echoed tokens come first; offsets run over the token texts from 0, as vLLM counts them.
      const echoed = request.echo && topCount !== null ? await completionLogprobsInSlices(slicer, name, textOf, prompt.tokenIds, final.promptLogprobs ?? [], topCount, 0) : null
      const offset = echoed === null ? 0 : textLength(textOf, prompt.tokenIds)
      const generated = topCount === null ? null : await completionLogprobsInSlices(slicer, name, textOf, own.tokenIds, own.logprobs, topCount, offset)
      choices.push({
        index: promptIndex * prompt.params.n + output.index,
        text: prompt.text + own.text,
        logprobs: generated === null ? null : echoed === null ? generated : concatLogprobs(echoed, generated),
        finish_reason: output.finishReason,
        stop_reason: output.stopReason,
        prompt_logprobs: promptLogprobs,
        ...(request.returnTokenIds ? {prompt_token_ids: prompt.tokenIds, token_ids: own.tokenIds} : {}),
      })
    }
  }
  const usage = {
    ...usageOf(
      prompts.map((prompt) => prompt.tokenIds.length),
      completionLengths,
    ),
    ...promptTokensDetails(context, finals.map((final) => final.numCachedTokens)),
  }
  return {...header, choices, usage, system_fingerprint: null}
}

async function streamCompletion(
  context: ApiContext,
  request: CompletionRequest,
  prompts: PreparedPrompt[],
  header: ReplyHeader,
  run: PromptRun,
  name: TokenNamer,
): Promise<void> {
  const sse = new SseStream(context.response, context.limits.slowClientTimeoutMs)
  const deltas = new ChoiceDeltas()
  const completionLengths = new Map<number, number>()
  const cachedTokens = new Map<number, number>()
  const textOffsets = new Map<number, number>()
  const textOf = tokenText(context.engine.tokenizer)
  const slicer = new ReplySlicer(context.signal)
  // With include_usage every chunk carries usage: null (OpenAI's format), or the counts so far (continuous_usage_stats),
  // and a last chunk carries the totals.
  const usageSoFar = (promptIndex: number, index: number) =>
    request.usage.continuous ? {usage: usageOf([prompts[promptIndex]!.tokenIds.length], [completionLengths.get(index) ?? 0])} : request.usage.final ? {usage: null} : {}
  try {
    for await (const {promptIndex, output} of run.outputs(context.signal, context.metrics.observeFinished)) {
      const prompt = prompts[promptIndex]!
      const topCount = prompt.params.logprobs
      cachedTokens.set(promptIndex, output.numCachedTokens)
      for (const completion of output.outputs) {
        const index = promptIndex * prompt.params.n + completion.index
        const delta = deltas.next(index, completion)
        if (delta === null) continue
        const own = returned(request, delta)
        completionLengths.set(index, request.echoOnly ? 0 : outputTokenCount(completion))
        // The first chunk of a choice carries the echoed prompt, with its logprobs when logprobs are asked for.
        const echoing = delta.isFirst && request.echo
        const echoed = echoing && topCount !== null ? await completionLogprobsInSlices(slicer, name, textOf, prompt.tokenIds, output.promptLogprobs ?? [], topCount, 0) : null
        const offset = (textOffsets.get(index) ?? 0) + (echoed === null ? 0 : textLength(textOf, prompt.tokenIds))
        textOffsets.set(index, offset + own.text.length)
        const generated = topCount === null ? null : await completionLogprobsInSlices(slicer, name, textOf, own.tokenIds, own.logprobs, topCount, offset)
        const logprobs = echoed !== null && generated !== null ? concatLogprobs(echoed, generated) : generated
        const text = (echoing ? prompt.text : '') + own.text
        const ids = request.returnTokenIds ? {...(delta.isFirst ? {prompt_token_ids: prompt.tokenIds} : {}), token_ids: own.tokenIds} : {}
        const choice = {index, text, logprobs, finish_reason: delta.finishReason, stop_reason: delta.stopReason, ...ids}
        await sse.send({...header, choices: [choice], ...usageSoFar(promptIndex, index)}, undefined, slicer)
      }
    }
    context.signal.throwIfAborted()
    if (request.usage.final) {
      const usage = {
        ...usageOf(
          prompts.map((prompt) => prompt.tokenIds.length),
          [...completionLengths.values()],
        ),
        ...promptTokensDetails(context, cachedTokens.values()),
      }
      await sse.send({...header, choices: [], usage})
    }
    sse.finish()
  } catch (error) {
    if (!sse.hasStarted || context.response.destroyed) throw error
    sse.finish(errorReply(error, context.log).body)
  }
}

/** Characters the tokens' texts take up: where the completion's offsets start after an echoed prompt. */
function textLength(textOf: TokenNamer, tokenIds: readonly number[]): number {
  return tokenIds.reduce((sum, tokenId) => sum + textOf(tokenId).length, 0)
}
