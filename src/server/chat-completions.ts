// POST /v1/chat/completions: messages through the model's chat template, n choices, as one JSON reply or an SSE stream.
import {type ApiContext, newObjectId, sendJson, unixSeconds} from './api-context.js'
import {ChoiceDeltas} from './choice-deltas.js'
import {errorReply} from './error-reply.js'
import {admitPrompts, collectFinalOutputs, type PreparedPrompt, PromptRun, sequencesPerPrompt, usageOf} from './generation.js'
import {chatLogprobs} from './logprobs-format.js'
import {type ChatCompletionRequest, checkModel, parseChatCompletionRequest, resolveMaxTokens, samplingParamsFor} from './openai-schema.js'
import {SseStream} from './sse.js'

interface ReplyHeader {
  id: string
  created: number
  model: string
}

export async function createChatCompletion(context: ApiContext, body: unknown): Promise<void> {
  const request = parseChatCompletionRequest(body)
  checkModel(request.model, context.engine.modelName)
  const window = await admitPrompts(context, 1, sequencesPerPrompt(request.sampling))
  const tokenIds = await context.promptTokenizer.tokenize({kind: 'chat', messages: request.messages, addGenerationPrompt: request.addGenerationPrompt})
  const maxTokens = resolveMaxTokens(request.maxTokens, tokenIds.length, context.engine.maxModelLen, 'remaining', 'messages')
  const prompt: PreparedPrompt = {tokenIds, text: '', params: samplingParamsFor(request, maxTokens)}
  const id = newObjectId('chatcmpl')
  const run = new PromptRun(context.engine, id, [prompt], context.arrivalTime, window)
  const header: ReplyHeader = {id, created: unixSeconds(), model: context.engine.modelName}
  if (request.stream) return streamChatCompletion(context, request, prompt, header, run)

  const [final] = await collectFinalOutputs(run, 1, context.signal, context.metrics.observeFinished)
  const outputs = final!.outputs
  const topCount = prompt.params.logprobs
  sendJson(context.response, 200, {
    ...header,
    object: 'chat.completion',
    choices: outputs.map((output) => ({
      index: output.index,
      message: {role: 'assistant', content: output.text},
      logprobs: topCount === null ? null : chatLogprobs(context.engine.tokenizer, output.tokenIds, output.logprobs ?? [], topCount),
      finish_reason: output.finishReason,
      stop_reason: output.stopReason,
    })),
    usage: usageOf(
      [tokenIds.length],
      outputs.map((output) => output.tokenIds.length),
    ),
  })
}

/** Role first, then content deltas, then a chunk with the finish reason; usage last when asked for. */
async function streamChatCompletion(
  context: ApiContext,
  request: ChatCompletionRequest,
  prompt: PreparedPrompt,
  header: ReplyHeader,
  run: PromptRun,
): Promise<void> {
  const sse = new SseStream(context.response, context.limits.slowClientTimeoutMs)
  const deltas = new ChoiceDeltas()
  const completionLengths = new Map<number, number>()
  const usageField = request.includeUsage ? {usage: null} : {}
  const topCount = prompt.params.logprobs
  const sendChunk = (choice: object) => sse.send({...header, object: 'chat.completion.chunk', choices: [choice], ...usageField})
  try {
    for await (const {output} of run.outputs(context.signal, context.metrics.observeFinished)) {
      for (const completion of output.outputs) {
        const delta = deltas.next(completion.index, completion)
        if (delta === null) continue
        completionLengths.set(completion.index, completion.tokenIds.length)
        if (delta.isFirst) await sendChunk({index: completion.index, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null})
        if (delta.text !== '' || delta.tokenIds.length > 0) {
          const logprobs = topCount === null ? null : chatLogprobs(context.engine.tokenizer, delta.tokenIds, delta.logprobs, topCount)
          await sendChunk({index: completion.index, delta: {content: delta.text}, logprobs, finish_reason: null})
        }
        if (delta.finishReason !== null)
          await sendChunk({index: completion.index, delta: {}, logprobs: null, finish_reason: delta.finishReason, stop_reason: delta.stopReason})
      }
    }
    context.signal.throwIfAborted()
    if (request.includeUsage) {
      const usage = usageOf([prompt.tokenIds.length], [...completionLengths.values()])
      await sse.send({...header, object: 'chat.completion.chunk', choices: [], usage})
    }
    sse.finish()
  } catch (error) {
    if (!sse.hasStarted || context.response.destroyed) throw error
    sse.finish(errorReply(error, context.log).body)
  }
}
