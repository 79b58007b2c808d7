// POST /v1/chat/completions: messages through the model's chat template, n choices, as one JSON reply or an SSE stream.
import {type ApiContext, newObjectId, unixSeconds} from './api-context.js'
import {type ChatCompletionRequest, echoedContent, replyRole} from './chat-request.js'
import {ChoiceDeltas} from './choice-deltas.js'
import {errorReply} from './error-reply.js'
import {admitPrompts, collectFinalOutputs, picksAtEnd, prepareBadWords, prepareGuided, type PreparedPrompt, PromptRun, promptTokensDetails, sequencesPerPrompt, usageOf} from './generation.js'
import {type ChatTokenLogprob, decodedToken, tokenNamer} from './logprobs-format.js'
import {ReplySlicer, sendJsonInSlices} from './reply-slices.js'
import {chatLogprobsInSlices, promptLogprobsInSlices} from './sliced-logprobs.js'
import {checkModel, resolveMaxTokens, samplingParamsFor, truncationLimit} from './openai-schema.js'
import {checkLogprobEntries} from './reply-logprobs-budget.js'
import type {CheckedByRoute} from './request-checks.js'
import {logUnreadFields} from './request-fields.js'
import {SseStream} from './sse.js'
import {InvalidRequestError} from '../engine/errors.js'
import type {CompletionOutput} from './engine-like.js'
import {outputTokenCount} from '../engine/request-output.js'
import {ToolCallDeltas} from './tool-call-deltas.js'
import {parseToolOutput, TOOL_CALL_PARSERS, type ToolCallParserName, type ToolRequest} from './tool-calls.js'
import {MARKERS_ARE_SPECIAL_TOKENS} from './tool-call-parsers.js'
import {ReasoningSplitter, type ReasoningTags} from './reasoning-deltas.js'
import {reasoningFields, reasoningTagsFor, reasoningTokenCount, grammarStartTokenId, splitReasoning, tagsAreSpecialTokens} from './reasoning-parsers.js'

interface ReplyHeader {
  id: string
  created: number
  model: string
}

export async function createChatCompletion(context: ApiContext, {request, unread}: CheckedByRoute['chat']): Promise<void> {
  logUnreadFields(unread, context.log)
  const id = newObjectId('chatcmpl')
  const {prompt, run, tags, parser} = await startChatRun(context, request, id)
  const tokenIds = prompt.tokenIds
  const header: ReplyHeader = {id, created: unixSeconds(), model: context.engine.modelName}
  if (request.stream) return streamChatCompletion(context, request, prompt, header, run, tags)

  const [final] = await collectFinalOutputs(run, 1, context.signal, context.metrics.observeFinished)
  const outputs = final!.outputs
  const topCount = prompt.params.logprobs
  const name = tokenNamer(context.engine.tokenizer, request.tokensAsIds)
  const promptLogprobs = prompt.params.promptLogprobs
  const slicer = new ReplySlicer(context.signal)
  const choices = []
  for (const output of outputs)
    choices.push({
      index: output.index,
      ...messageOf(output, replyRole(request), prompt.text, request.tools, parser, tags),
      logprobs: topCount === null ? null : await chatLogprobsInSlices(slicer, context.engine.tokenizer, name, output.tokenIds, output.logprobs ?? [], topCount),
      stop_reason: output.stopReason,
      ...(request.returnTokenIds ? {token_ids: output.tokenIds} : {}),
    })
  const promptLogprobsField =
    promptLogprobs === null ? null : await promptLogprobsInSlices(slicer, decodedToken(context.engine.tokenizer), tokenIds, final!.promptLogprobs ?? [], final!.promptLogprobRanks ?? [], promptLogprobs)
  await sendJsonInSlices(context.response, slicer, 200, {
    ...header,
    object: 'chat.completion',
    choices,
    usage: {
      ...usageOf(
        [tokenIds.length],
        outputs.map((output) => output.tokenIds.length),
      ),
      ...reasoningUsage(context, tags, prompt, outputs),
      ...promptTokensDetails(context, [final!.numCachedTokens]),
    },
    system_fingerprint: null,
    ...(request.returnTokenIds ? {prompt_token_ids: tokenIds} : {}),
    prompt_logprobs: promptLogprobsField,
  })
}

/** One chat request in the engine: its prompt, its run, and how its text is read back (reasoning tags, tool-call parser). */
export interface ChatRun {
  prompt: PreparedPrompt
  run: PromptRun
  tags: ReasoningTags | null
  parser: ToolCallParserName | null
}

/** The chat path from a parsed request to its prompt running in the engine (/v1/chat/completions and /v1/responses share it). */
export async function startChatRun(context: ApiContext, request: ChatCompletionRequest, id: string): Promise<ChatRun> {
  checkModel(request.model, context.engine.modelName)
  const parser = context.toolCallParser ?? null
  if (request.tools?.mode.kind === 'auto' && parser === null)
    throw new InvalidRequestError(`tool_choice "auto" needs the server started with --tool-call-parser (${TOOL_CALL_PARSERS.join(', ')})`, {param: 'tool_choice'})
  const reasoningParser = context.reasoningParser ?? null
  const tags = reasoningTagsFor(reasoningParser, request.chatTemplateKwargs)
  const guidedAfterTokenId = tags === null ? null : grammarStartTokenId(context.engine.tokenizer, tags, request.sampling.guided?.param, reasoningParser!)
  const {window, release} = await admitPrompts(context, 1, sequencesPerPrompt(request.sampling))
  const tokenIds = await context.promptTokenizer.tokenize({
    kind: 'chat',
    messages: request.messages,
    addGenerationPrompt: request.addGenerationPrompt,
    continueFinalMessage: request.continueFinalMessage,
    addSpecialTokens: request.addSpecialTokens,
    tools: request.tools?.tools,
    documents: request.documents,
    variables: request.chatTemplateKwargs,
    contentFormat: context.chatTemplateContentFormat,
    chatTemplate: request.chatTemplate,
    truncate: truncationLimit(request, context.engine.maxModelLen),
  }, context.signal)
  const room = context.engine.maxModelLen - tokenIds.length
  const requested = request.maxTokensCappedAtRoom && typeof request.maxTokens === 'number' && room >= 1 ? Math.min(request.maxTokens, room) : request.maxTokens
  const maxTokens = resolveMaxTokens(requested, tokenIds.length, context.engine.maxModelLen, 'remaining', 'messages')
  // The parsers read the call markers, which some families make special tokens ([TOOL_CALLS]): keep them (vLLM does too).
  // So do the reasoning tags, where the tokenizer makes them special tokens.
  const keepMarkers =
    (request.tools?.mode.kind === 'auto' && parser !== null && MARKERS_ARE_SPECIAL_TOKENS.has(parser)) ||
    (tags !== null && tagsAreSpecialTokens(context.engine.tokenizer, tags))
  const sampling = {...request, sampling: {...request.sampling, ...(keepMarkers ? {skipSpecialTokens: false} : {}), guidedAfterTokenId}}
  const prompt: PreparedPrompt = {tokenIds, text: echoedContent(request), params: samplingParamsFor(sampling, maxTokens, context.samplingDefaults)}
  checkLogprobEntries([prompt], sequencesPerPrompt(prompt.params), false, 'top_logprobs')
  await prepareBadWords(context, [prompt])
  await prepareGuided(context.engine, [prompt], context.signal)
  const run = new PromptRun(context.engine, id, [prompt], context.arrivalTime, window, release)
  return {prompt, run, tags, parser}
}

/** vLLM's count of the reasoning's tokens, given when the server has a reasoning parser (and the request thinks). */
export function reasoningUsage(context: ApiContext, tags: ReasoningTags | null, prompt: PreparedPrompt, outputs: readonly CompletionOutput[]) {
  if (tags === null) return {}
  const count = (output: CompletionOutput) => reasoningTokenCount(context.engine.tokenizer, output.tokenIds, output.text, tags, prompt.params.skipSpecialTokens)
  return {completion_tokens_details: {reasoning_tokens: outputs.reduce((sum, output) => sum + count(output), 0)}}
}

/**
 * The reply message and finish reason of one choice: plain content (after what echo repeats), or the tool calls read
 * from it; with a reasoning parser the thinking is split off first (its fields, content null when empty, as vLLM)
 * and only the answer is read for calls.
 */
function messageOf(output: CompletionOutput, role: string, echoed: string, tools: ToolRequest | null, parser: ToolCallParserName | null, tags: ReasoningTags | null) {
  const split = tags === null ? null : splitReasoning(output.text, tags)
  const reasoning = split === null ? {} : reasoningFields(split.reasoning)
  const answer = split === null ? output.text : split.content
  if (tools === null || tools.mode.kind === 'none') {
    const content = echoed + answer
    return {message: {role, content: split !== null && content === '' ? null : content, ...reasoning}, finish_reason: output.finishReason}
  }
  // Cut by max_tokens, a named call is still a call (its arguments cut, as streamed); a `required` list is content.
  const parsed = parseToolOutput(answer, tools, parser)
  const hasCalls = parsed.toolCalls.length > 0
  const content = echoed === '' ? parsed.content : echoed + (parsed.content ?? '')
  return {
    message: {role, content: split !== null && content === '' ? null : content, ...reasoning, ...(hasCalls ? {tool_calls: parsed.toolCalls} : {})},
    finish_reason: finishReasonWithCalls(hasCalls, tools, output.finishReason),
  }
}

/** As OpenAI (and vLLM) say it: a reply that stopped after its calls ends in "tool_calls", but a named function's ends in "stop". */
function finishReasonWithCalls<Reason>(madeCalls: boolean, tools: ToolRequest | null, finishReason: Reason): Reason | 'tool_calls' {
  return madeCalls && finishReason === 'stop' && tools?.mode.kind !== 'named' ? 'tool_calls' : finishReason
}

/** Role first (with what echo repeats), then content deltas, then a chunk with the finish reason; usage last when asked for. */
async function streamChatCompletion(
  context: ApiContext,
  request: ChatCompletionRequest,
  prompt: PreparedPrompt,
  header: ReplyHeader,
  run: PromptRun,
  tags: ReasoningTags | null,
): Promise<void> {
  const sse = new SseStream(context.response, context.limits.slowClientTimeoutMs)
  const deltas = new ChoiceDeltas()
  const completionLengths = new Map<number, number>()
  const topCount = prompt.params.logprobs
  const name = tokenNamer(context.engine.tokenizer, request.tokensAsIds)
  const slicer = new ReplySlicer(context.signal)
  const role = replyRole(request)
  const tools = request.tools !== null && request.tools.mode.kind !== 'none' ? new ToolCallDeltas(request.tools, context.toolCallParser ?? null) : null
  const splitters = new Map<number, ReasoningSplitter>()
  const finishedOutputs: CompletionOutput[] = []
  let cachedTokens = 0
  const splitterOf = (index: number) => splitters.get(index) ?? splitters.set(index, new ReasoningSplitter(tags!)).get(index)!
  // Text held back (a possible call, a possible reasoning tag) sends its tokens' logprobs and ids with the next chunk.
  const holdsText = tools !== null || tags !== null
  const heldLogprobs = new Map<number, ChatTokenLogprob[]>()
  const heldIds = new Map<number, number[]>()
  const takeHeld = (index: number) => {
    const logprobs = heldLogprobs.get(index)
    const tokenIds = heldIds.get(index) ?? []
    heldLogprobs.delete(index)
    heldIds.delete(index)
    return {logprobs: logprobs === undefined ? null : {content: logprobs}, tokenIds}
  }
  // With include_usage every chunk carries usage: null (OpenAI's format), or the counts so far (continuous_usage_stats).
  const usageSoFar = (index: number) =>
    request.usage.continuous ? {usage: usageOf([prompt.tokenIds.length], [completionLengths.get(index) ?? 0])} : request.usage.final ? {usage: null} : {}
  // return_token_ids: the prompt's ids ride on a choice's first chunk, each chunk carries the ids its text came from.
  const promptIds = (index: number) => (request.returnTokenIds && !promptIdsSent.has(index) && promptIdsSent.add(index) ? {prompt_token_ids: prompt.tokenIds} : {})
  const promptIdsSent = new Set<number>()
  const sendChunk = (choice: {index: number; [field: string]: unknown}, tokenIds: readonly number[] = []) =>
    sse.send({...header, object: 'chat.completion.chunk', ...promptIds(choice.index), choices: [request.returnTokenIds ? {...choice, token_ids: tokenIds} : choice], ...usageSoFar(choice.index)}, undefined, slicer)
  // Beams and best_of samples are chosen at the end: they stream once finished, whole (vLLM streams beam search so).
  const holdUntilDone = picksAtEnd(prompt.params)
  try {
    for await (const {output} of run.outputs(context.signal, context.metrics.observeFinished)) {
      cachedTokens = output.numCachedTokens
      if (holdUntilDone && !output.finished) continue
      for (const completion of output.outputs) {
        const delta = deltas.next(completion.index, completion)
        if (delta === null) continue
        if (delta.isFirst) {
          await sendChunk({index: completion.index, delta: {role, content: ''}, logprobs: null, finish_reason: null})
          if (prompt.text !== '') await sendChunk({index: completion.index, delta: {content: prompt.text}, logprobs: null, finish_reason: null})
        }
        completionLengths.set(completion.index, outputTokenCount(completion))
        const logprobs = topCount === null ? null : await chatLogprobsInSlices(slicer, context.engine.tokenizer, name, delta.tokenIds, delta.logprobs, topCount)
        const finished = delta.finishReason !== null
        if (holdsText) {
          // Appended in place: text held for long (a tool call's arguments) must not copy its ids on every chunk.
          if (logprobs !== null) appendTo(heldLogprobs, completion.index, logprobs.content)
          appendTo(heldIds, completion.index, delta.tokenIds)
        }
        let answer = delta.text
        if (tags !== null) {
          const piece = splitterOf(completion.index).push(delta.text, finished)
          if (piece.reasoning !== '') {
            const held = takeHeld(completion.index)
            await sendChunk({index: completion.index, delta: reasoningFields(piece.reasoning), logprobs: held.logprobs, finish_reason: null}, held.tokenIds)
          }
          answer = piece.content
        }
        if (tools !== null) {
          for (const toolDelta of tools.next(completion.index, answer, finished)) {
            const held = takeHeld(completion.index)
            await sendChunk({index: completion.index, delta: toolDelta, logprobs: held.logprobs, finish_reason: null}, held.tokenIds)
          }
        } else if (tags !== null) {
          if (answer !== '') {
            const held = takeHeld(completion.index)
            await sendChunk({index: completion.index, delta: {content: answer}, logprobs: held.logprobs, finish_reason: null}, held.tokenIds)
          }
        } else if (delta.text !== '' || delta.tokenIds.length > 0) {
          await sendChunk({index: completion.index, delta: {content: delta.text}, logprobs, finish_reason: null}, delta.tokenIds)
        }
        if (delta.finishReason !== null) {
          finishedOutputs.push(completion)
          const held = takeHeld(completion.index)
          const finishReason = finishReasonWithCalls(tools?.madeCalls(completion.index) ?? false, request.tools, delta.finishReason)
          await sendChunk({index: completion.index, delta: {}, logprobs: held.logprobs, finish_reason: finishReason, stop_reason: delta.stopReason}, held.tokenIds)
        }
      }
    }
    context.signal.throwIfAborted()
    if (request.usage.final) {
      const usage = {
        ...usageOf([prompt.tokenIds.length], [...completionLengths.values()]),
        ...reasoningUsage(context, tags, prompt, finishedOutputs),
        ...promptTokensDetails(context, [cachedTokens]),
      }
      await sse.send({...header, object: 'chat.completion.chunk', choices: [], usage})
    }
    sse.finish()
  } catch (error) {
    if (!sse.hasStarted || context.response.destroyed) throw error
    sse.finish(errorReply(error, context.log).body)
  }
}

/** Appends `items` to the list kept under `key` (made on first use). */
function appendTo<K, T>(lists: Map<K, T[]>, key: K, items: readonly T[]): void {
  const list = lists.get(key) ?? lists.set(key, []).get(key)!
  for (const item of items) list.push(item)
}
