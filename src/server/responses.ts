// POST /v1/responses: OpenAI's Responses API on the chat path (same template, sampling, grammars, parsers, limits), as
// one Response object or a stream of typed events. With the server's store on, a finished response is kept
// (response-store.ts) once its last byte is ready, never one cut short by an error or a client that left.
import {UnavailableError} from '../engine/errors.js'
import type {SamplingParams} from '../engine/sampling-params.js'
import type {TokenLogprobs} from '../engine/sequence.js'
import {type ApiContext, newObjectId, sendJson, unixSeconds} from './api-context.js'
import {type ChatRun, reasoningUsage, startChatRun} from './chat-completions.js'
import type {ChatCompletionRequest} from './chat-request.js'
import {ChoiceDeltas} from './choice-deltas.js'
import type {CompletionOutput} from './engine-like.js'
import {errorReply} from './error-reply.js'
import {tokenNamer, tokenText} from './logprobs-format.js'
import {bytesOf, ReplySlicer, sendJsonPieces} from './reply-slices.js'
import {chatLogprobsInSlices} from './sliced-logprobs.js'
import {type CheckedByRoute, type CheckedResponses, responsesParamOfChecked} from './request-checks.js'
import {logUnreadFields} from './request-fields.js'
import {type ItemStatus, type PlacedLogprob, type ResponseEvent, ResponseOutputBuilder, ReplyReader} from './responses-output.js'
import {renameParam, type ResponseSettings} from './responses-request.js'
import {responseEventFrame, streamEvents} from './responses-background.js'
import {SseStream} from './sse.js'
import type {StoredInputItems} from './stored-input-items.js'

/** What every Response object of one request repeats: its id, time, model, the settings it ran with. */
interface ResponseBase {
  id: string
  createdAt: number
  model: string
  settings: ResponseSettings
  params: SamplingParams
}

type ResponseStatus = 'queued' | 'in_progress' | ItemStatus

export async function createResponse(context: ApiContext, checked: CheckedByRoute['responses']): Promise<void> {
  if ('continues' in checked) {
    // It continues a stored response: the event loop resolves the conversation's texts, a worker parses and checks them.
    context.backgroundResponses?.refuseRunning(checked.continues, 'previous_response_id')
    const conversation = context.responseStore!.conversationTextsOf(checked.continues)
    return runResponse(context, await context.promptTokenizer.checkContinuation(checked.bodyText, conversation, context.signal))
  }
  return runResponse(context, checked)
}

async function runResponse(context: ApiContext, checked: CheckedResponses): Promise<void> {
  const {request, translated} = checked
  const store = context.responseStore ?? null
  logUnreadFields(checked.unread, context.log)
  const responsesParam = responsesParamOfChecked(checked)
  const rename = (error: unknown) => renameParam(error, responsesParam)
  try {
    const id = newObjectId('resp')
    const chatRun = await startChatRun(context, request, id)
    const base: ResponseBase = {id, createdAt: unixSeconds(), model: context.engine.modelName, settings: translated.settings, params: chatRun.prompt.params}
    const stored = {inputItems: translated.inputItems, previousId: base.settings.previousResponseId}
    if (base.settings.background) return runInBackground(context, request, chatRun, base, stored, rename)
    // `responseBytes`: its JSON's length, from the one serialization the reply makes of it.
    const keep = (response: ReturnType<typeof responseObject>, responseBytes: number) => {
      if (base.settings.store && !store!.put({response, ...stored}, responseBytes))
        context.log(`response ${id} was not stored: it is larger than the whole --responses-store-bytes budget`)
    }
    if (request.stream) return await streamResponse(context, request, chatRun, base, rename, keep)
    // The same reading as a stream's, with no events: the two replies cannot differ.
    const response = await runToEnd(context, context.signal, request, chatRun, base, new ResponseOutputBuilder(), async () => {})
    const slicer = new ReplySlicer(context.signal)
    const pieces = await slicer.json(response)
    keep(response, bytesOf(pieces))
    await sendJsonPieces(context.response, slicer, 200, pieces)
  } catch (error) {
    throw rename(error)
  }
}

/**
 * response.created and response.in_progress when the engine's first output comes (errors before it are plain 4xx
 * replies, as on the chat route), then the items' events as the text grows, then response.completed (or
 * response.incomplete); an error after the first event is an `error` event. Each event carries its sequence_number.
 */
async function streamResponse(
  context: ApiContext,
  request: ChatCompletionRequest,
  chatRun: ChatRun,
  base: ResponseBase,
  rename: (error: unknown) => unknown,
  keep: (response: ReturnType<typeof responseObject>, responseBytes: number) => void,
): Promise<void> {
  const sse = new SseStream(context.response, context.limits.slowClientTimeoutMs)
  let sequenceNumber = 0
  // The last event holds the whole response: serialized a slice at a time.
  const slicer = new ReplySlicer(context.signal)
  const emit = async (event: ResponseEvent) => sse.send({...event, sequence_number: sequenceNumber++}, event.type, slicer)
  const builder = new ResponseOutputBuilder(emit)
  try {
    const opened = async () => {
      await emit({type: 'response.created', response: responseObject(base, 'in_progress', [], null)})
      await emit({type: 'response.in_progress', response: responseObject(base, 'in_progress', [], null)})
    }
    const response = await runToEnd(context, context.signal, request, chatRun, base, builder, opened)
    // Serialized once: the last event and the store's count. Kept before that event goes out, so a client that has it
    // can already continue from it.
    const text = (await slicer.json(response)).join('')
    keep(response, Buffer.byteLength(text))
    await sse.sendFrame(responseEventFrame(lastEventType(response), text, sequenceNumber++))
    sse.finish(undefined, {done: false})
  } catch (error) {
    if (!sse.hasStarted || context.response.destroyed) throw error
    const {message, param, code} = errorReply(rename(error), context.log).body.error
    sse.finish({type: 'error', code, message, param, sequence_number: sequenceNumber++}, {event: 'error', done: false})
  }
}

/**
 * `background: true`: the reply is the Response queued (or, with stream: true, its events as they come: the client may
 * leave and resume by GET); the run goes on with the request's slots (context.detach) until it ends, is cancelled, or
 * the server shuts down, and its response is stored then (responses-background.ts).
 */
function runInBackground(
  context: ApiContext,
  request: ChatCompletionRequest,
  chatRun: ChatRun,
  base: ResponseBase,
  stored: {inputItems: StoredInputItems; previousId: string | null},
  rename: (error: unknown) => unknown,
): Promise<void> {
  const background = context.backgroundResponses!
  const {signal, release} = context.detach!()
  const queued = responseObject(base, 'queued', [], null)
  background.start(queued, request.stream, stored, signal, release, async (work) => {
    const builder = new ResponseOutputBuilder(async (event) => work.emit(event))
    const opened = async () => {
      work.setProgress(() => responseObject(base, 'in_progress', builder.itemsSoFar(), null))
      await work.emit({type: 'response.in_progress', response: responseObject(base, 'in_progress', [], null)})
    }
    try {
      const response = await runToEnd(context, work.signal, request, chatRun, base, builder, opened)
      return {response, lastEvent: lastEventType(response)}
    } catch (error) {
      throw rename(error)
    }
  })
  if (!request.stream) return Promise.resolve(sendJson(context.response, 200, queued))
  return streamEvents(context.response, context.limits.slowClientTimeoutMs, background.find(base.id), -1, context.signal)
}

/**
 * Reads the engine's outputs into `builder` (whose emit gets the items' events) until the reply ends; `opened` runs at
 * the first output. Returns the finished Response object; the caller stores it and sends its last event.
 */
async function runToEnd(
  context: ApiContext,
  signal: AbortSignal,
  request: ChatCompletionRequest,
  chatRun: ChatRun,
  base: ResponseBase,
  builder: ResponseOutputBuilder,
  opened: () => Promise<void>,
) {
  const reader = new ReplyReader(request, chatRun)
  const deltas = new ChoiceDeltas()
  const slicer = new ReplySlicer(signal)
  let final: CompletionOutput | null = null
  let cachedTokens = 0
  let first = true
  for await (const {output} of chatRun.run.outputs(signal, context.metrics.observeFinished)) {
    cachedTokens = output.numCachedTokens
    if (first) await opened()
    first = false
    const completion = output.outputs[0]!
    const delta = deltas.next(0, completion)
    if (delta === null) continue
    await reader.push(delta.text, delta.finishReason !== null, builder, await logprobsOf(context, request, chatRun, slicer, delta.tokenIds, delta.logprobs))
    if (delta.finishReason !== null) final = completion
  }
  signal.throwIfAborted()
  if (final === null || final.finishReason === 'abort') throw new UnavailableError('the request was aborted by the engine before it finished', {code: 'request_aborted'})
  const status = statusOf(final)
  await builder.finish(status)
  return responseObject(base, status, builder.items, usageOf(context, chatRun, final, cachedTokens))
}

/** The type of the event that ends a stream with the finished response. */
function lastEventType(response: ReturnType<typeof responseObject>): string {
  return response.status === 'completed' ? 'response.completed' : 'response.incomplete'
}

/** The tokens' logprobs as the chat route gives them (top_logprobs alternatives each) with their texts, or none when not asked for. */
async function logprobsOf(
  context: ApiContext,
  request: ChatCompletionRequest,
  {prompt}: ChatRun,
  slicer: ReplySlicer,
  tokenIds: readonly number[],
  logprobs: readonly TokenLogprobs[],
): Promise<PlacedLogprob[]> {
  const topCount = prompt.params.logprobs
  if (topCount === null) return []
  const {tokenizer} = context.engine
  const textOf = tokenText(tokenizer)
  const {content} = await chatLogprobsInSlices(slicer, tokenizer, tokenNamer(tokenizer, request.tokensAsIds), tokenIds, logprobs, topCount)
  return content.map((entry, index) => ({text: textOf(tokenIds[index]!), entry}))
}

/** Cut by max_output_tokens (or the context's end) is "incomplete"; a stop, EOS or finished call is "completed". */
function statusOf(output: CompletionOutput): ItemStatus {
  return output.finishReason === 'length' ? 'incomplete' : 'completed'
}

/** The Response object (its fields as the openai SDK's `Response` type names them); `usage` null while in progress. */
function responseObject(base: ResponseBase, status: ResponseStatus, output: object[], usage: object | null) {
  const {settings} = base
  return {
    id: base.id,
    object: 'response',
    created_at: base.createdAt,
    status,
    background: settings.background,
    error: null,
    incomplete_details: status === 'incomplete' ? {reason: 'max_output_tokens'} : null,
    instructions: settings.instructions,
    max_output_tokens: settings.maxOutputTokens,
    metadata: settings.metadata ?? {},
    model: base.model,
    output,
    parallel_tool_calls: settings.parallelToolCalls,
    previous_response_id: settings.previousResponseId,
    reasoning: settings.reasoning ?? {effort: null, summary: null},
    store: settings.store,
    temperature: base.params.temperature,
    text: settings.text,
    tool_choice: settings.toolChoice,
    tools: settings.tools,
    top_logprobs: settings.topLogprobs,
    top_p: base.params.topP,
    truncation: 'disabled',
    usage,
    user: settings.user,
  }
}

/** Tokens in and out; the prompt's prefix-cache hits (always, as vLLM); the reasoning's share as the chat route counts it. */
function usageOf(context: ApiContext, {prompt, tags}: ChatRun, output: CompletionOutput, cachedTokens: number) {
  const reasoning = reasoningUsage(context, tags, prompt, [output]).completion_tokens_details?.reasoning_tokens ?? 0
  const inputTokens = prompt.tokenIds.length
  const outputTokens = output.tokenIds.length
  return {
    input_tokens: inputTokens,
    input_tokens_details: {cached_tokens: cachedTokens},
    output_tokens: outputTokens,
    output_tokens_details: {reasoning_tokens: reasoning},
    total_tokens: inputTokens + outputTokens,
  }
}
