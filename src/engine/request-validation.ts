// A request's checks before it is queued: prompt ids in the vocabulary, token-id fields too, a compiled constraint,
// and prompt + max_tokens within the context (vLLM's message).
import {ContextLengthError, InvalidRequestError} from './errors.js'
import type {GuidedSpec} from './guided/guided-spec.js'
import {firstBiasedIdFrom} from './logit-bias.js'
import type {SamplingParams} from './sampling-params.js'

/** What the checks need to know of the engine. */
export interface EngineLimits {
  vocabSize: number
  maxModelLen: number
  isCompiled: (spec: GuidedSpec) => boolean
  speculating: boolean
}

/** Throws InvalidRequestError / ContextLengthError naming the field at fault. */
export function validateRequest(promptTokenIds: number[], params: SamplingParams, engine: EngineLimits): void {
  const promptLength = promptTokenIds.length
  if (promptLength === 0) throw new InvalidRequestError('the prompt is empty', {param: 'prompt'})
  const {vocabSize, maxModelLen} = engine
  // findIndex, not find: an undefined (or null) id is itself what must be refused.
  const badIndex = promptTokenIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)
  if (badIndex >= 0) throw new InvalidRequestError(`token id ${String(promptTokenIds[badIndex])} is outside the vocabulary [0, ${vocabSize})`, {param: 'prompt'})
  const badBias = params.logitBias === null ? -1 : firstBiasedIdFrom(params.logitBias, vocabSize)
  if (badBias >= 0) throw new InvalidRequestError(`logit_bias token id ${badBias} is outside the vocabulary [0, ${vocabSize})`, {param: 'logit_bias'})
  const badAllowed = params.allowedTokenIds?.find((id) => id >= vocabSize)
  if (badAllowed !== undefined)
    throw new InvalidRequestError(`allowed token id ${badAllowed} is outside the vocabulary [0, ${vocabSize})`, {param: 'allowed_token_ids'})
  const badWordId = params.badWordTokenIds?.flat().find((id) => id >= vocabSize)
  if (badWordId !== undefined) throw new InvalidRequestError(`bad_words token id ${badWordId} is outside the vocabulary [0, ${vocabSize})`, {param: 'bad_words'})
  if (params.guidedAfterTokenId !== null && params.guidedAfterTokenId >= vocabSize)
    throw new InvalidRequestError(`guided_after_token_id ${params.guidedAfterTokenId} is outside the vocabulary [0, ${vocabSize})`, {param: 'guided_after_token_id'})
  if (params.guided !== null && !engine.isCompiled(params.guided))
    throw new InvalidRequestError(`the ${params.guided.kind} constraint must be compiled first (LLMEngine.prepareRequest)`, {param: params.guided.param})
  // As vLLM: verifying drafts against several beams at once is not defined; say so rather than silently not speculating.
  if (params.useBeamSearch && engine.speculating)
    throw new InvalidRequestError('beam search cannot run with speculative decoding: start the engine without --speculative-method', {param: 'use_beam_search'})
  if (promptLength + params.maxTokens > maxModelLen) {
    throw new ContextLengthError(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ` +
        `${promptLength + params.maxTokens} tokens (${promptLength} in the prompt, ${params.maxTokens} for the completion). ` +
        'Please reduce the prompt or max_tokens.',
      promptLength > maxModelLen ? 'prompt' : 'max_tokens',
    )
  }
}
