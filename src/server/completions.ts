// POST /v1/completions: one or several prompts, n choices each, as one JSON reply or an SSE stream.
import {type ApiContext, newObjectId, sendJson, unixSeconds} from './api-context.js'
import {ChoiceDeltas} from './choice-deltas.js'
import type {RequestOutput} from './engine-like.js'
import {errorReply} from './error-reply.js'
import {admitPrompts, collectFinalOutputs, prepareGuided, type PreparedPrompt, PromptRun, sequencesPerPrompt, usageOf} from './generation.js'
import {type CompletionLogprobs, completionLogprobs} from './logprobs-format.js'
import {checkModel, type CompletionRequest, parseCompletionRequest, resolveMaxTokens, samplingParamsFor} from './openai-schema.js'
import {SseStream} from './sse.js'

interface ReplyHeader {
  id: string
  object: 'text_completion'
  created: number
  model: string
}

export async function createCompletion(context: ApiContext, body: unknown): Promise<void> {
  const request = parseCompletionRequest(body)
  checkModel(request.model, context.engine.modelName)
  const window = await admitPrompts(context, request.prompts.length, sequencesPerPrompt(request.sampling))
  const prompts: PreparedPrompt[] = []
  // A window at a time: a long list keeps the tokenizer workers busy without queueing all of itself ahead of other clients.
  for (let start = 0; start < request.prompts.length; start += window) {
    context.signal.throwIfAborted()
    prompts.push(...(await Promise.all(request.prompts.slice(start, start + window).map((prompt) => preparePrompt(context, request, prompt)))))
  }
  await prepareGuided(context.engine, prompts)
  const id = newObjectId('cmpl')
  const run = new PromptRun(context.engine, id, prompts, context.arrivalTime, window)
  const header: ReplyHeader = {id, object: 'text_completion', created: unixSeconds(), model: context.engine.modelName}
  if (request.stream) return streamCompletion(context, request, prompts, header, run)
  const finals = await collectFinalOutputs(run, prompts.length, context.signal, context.metrics.observeFinished)
  sendJson(context.response, 200, completionReply(context, request, prompts, header, finals))
}

async function preparePrompt(context: ApiContext, request: CompletionRequest, prompt: CompletionRequest['prompts'][number]): Promise<PreparedPrompt> {
  const tokenizer = context.engine.tokenizer
  const tokenIds = 'text' in prompt ? await context.promptTokenizer.tokenize({kind: 'text', text: prompt.text, param: 'prompt'}) : prompt.tokenIds
  const maxTokens = resolveMaxTokens(request.maxTokens, tokenIds.length, context.engine.maxModelLen, 16, 'prompt')
  const text = 'text' in prompt ? prompt.text : request.echo ? tokenizer.decode(tokenIds) : ''
  return {tokenIds, text, params: samplingParamsFor(request, maxTokens)}
}

function completionReply(
  context: ApiContext,
  request: CompletionRequest,
  prompts: PreparedPrompt[],
  header: ReplyHeader,
  finals: RequestOutput[],
) {
  const tokenizer = context.engine.tokenizer
  const completionLengths: number[] = []
  const choices = finals.flatMap((final, promptIndex) => {
    const prompt = prompts[promptIndex]!
    const topCount = prompt.params.logprobs
    const echoed = request.echo ? prompt.text : ''
    return final.outputs.map((output) => {
      completionLengths.push(output.tokenIds.length)
      let logprobs: CompletionLogprobs | null = null
      if (topCount !== null) {
        logprobs = completionLogprobs(tokenizer, output.tokenIds, output.logprobs ?? [], topCount, echoed.length)
        if (request.echo) logprobs = concatLogprobs(completionLogprobs(tokenizer, prompt.tokenIds, final.promptLogprobs ?? [], topCount, 0), logprobs)
      }
      return {
        index: promptIndex * prompt.params.n + output.index,
        text: echoed + output.text,
        logprobs,
        finish_reason: output.finishReason,
        stop_reason: output.stopReason,
      }
    })
  })
  const usage = usageOf(
    prompts.map((prompt) => prompt.tokenIds.length),
    completionLengths,
  )
  return {...header, choices, usage}
}

function concatLogprobs(first: CompletionLogprobs, second: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...first.tokens, ...second.tokens],
    token_logprobs: [...first.token_logprobs, ...second.token_logprobs],
    top_logprobs: [...first.top_logprobs, ...second.top_logprobs],
    text_offset: [...first.text_offset, ...second.text_offset],
  }
}

async function streamCompletion(
  context: ApiContext,
  request: CompletionRequest,
  prompts: PreparedPrompt[],
  header: ReplyHeader,
  run: PromptRun,
): Promise<void> {
  const sse = new SseStream(context.response, context.limits.slowClientTimeoutMs)
  const deltas = new ChoiceDeltas()
  const tokenizer = context.engine.tokenizer
  const completionLengths = new Map<number, number>()
  const textOffsets = new Map<number, number>()
  // With include_usage every chunk carries usage: null and a last chunk carries the totals (OpenAI's format).
  const usageField = request.includeUsage ? {usage: null} : {}
  try {
    for await (const {promptIndex, output} of run.outputs(context.signal, context.metrics.observeFinished)) {
      const prompt = prompts[promptIndex]!
      for (const completion of output.outputs) {
        const index = promptIndex * prompt.params.n + completion.index
        const delta = deltas.next(index, completion)
        if (delta === null) continue
        completionLengths.set(index, completion.tokenIds.length)
        const echoed = delta.isFirst && request.echo ? prompt.text : ''
        const offset = (textOffsets.get(index) ?? 0) + echoed.length
        textOffsets.set(index, offset + delta.text.length)
        const logprobs =
          prompt.params.logprobs === null ? null : completionLogprobs(tokenizer, delta.tokenIds, delta.logprobs, prompt.params.logprobs, offset)
        const choice = {index, text: echoed + delta.text, logprobs, finish_reason: delta.finishReason, stop_reason: delta.stopReason}
        await sse.send({...header, choices: [choice], ...usageField})
      }
    }
    context.signal.throwIfAborted()
    if (request.includeUsage) {
      const usage = usageOf(
        prompts.map((prompt) => prompt.tokenIds.length),
        [...completionLengths.values()],
      )
      await sse.send({...header, choices: [], usage})
    }
    sse.finish()
  } catch (error) {
    if (!sse.hasStarted || context.response.destroyed) throw error
    sse.finish(errorReply(error, context.log).body)
  }
}
