// POST /tokenize and /detokenize (vLLM's shapes): the served model's tokenizer over HTTP, so clients can size prompts in its tokens.
import {InvalidRequestError} from '../engine/errors.js'
import {type ApiContext, sendJson} from './api-context.js'
import {checkModel} from './openai-schema.js'
import {optionalBoolean, optionalIntegerList, optionalString, rejectUnsupported, requireObject} from './request-fields.js'

/** {prompt, add_special_tokens = true} -> {count, max_model_len, tokens}, as vLLM answers. */
export async function tokenize(context: ApiContext, raw: unknown): Promise<void> {
  const body = requireObject(raw)
  checkModel(optionalString(body, 'model'), context.engine.modelName)
  rejectUnsupported(body, ['messages']) // chat prompts: render them with the template yourself, or use the chat endpoint
  const prompt = optionalString(body, 'prompt')
  if (prompt === undefined) throw new InvalidRequestError("'prompt' is required: the text to tokenize", {param: 'prompt'})
  const addSpecialTokens = optionalBoolean(body, 'add_special_tokens') ?? true
  // Off the event loop and size-checked first, like every prompt the server tokenizes.
  const tokens = await context.promptTokenizer.tokenize({kind: 'text', text: prompt, param: 'prompt', addSpecialTokens})
  sendJson(context.response, 200, {count: tokens.length, max_model_len: context.engine.maxModelLen, tokens})
}

/** {tokens} -> {prompt}: special tokens are kept in the text, as vLLM does. */
export async function detokenize(context: ApiContext, raw: unknown): Promise<void> {
  const body = requireObject(raw)
  checkModel(optionalString(body, 'model'), context.engine.modelName)
  const tokens = optionalIntegerList(body, 'tokens')
  if (tokens === undefined) throw new InvalidRequestError("'tokens' is required: a list of token ids", {param: 'tokens'})
  const {maxModelLen} = context.engine
  // No sequence of the model is longer; a longer list would only hold the event loop while it decodes.
  if (tokens.length > maxModelLen) throw new InvalidRequestError(`'tokens' has ${tokens.length} ids, more than the model's context of ${maxModelLen}`, {param: 'tokens'})
  const {vocabSize} = context.engine.tokenizer
  const bad = tokens.find((id) => id < 0 || id >= vocabSize)
  if (bad !== undefined) throw new InvalidRequestError(`token id ${bad} is outside the vocabulary [0, ${vocabSize})`, {param: 'tokens'})
  sendJson(context.response, 200, {prompt: context.engine.tokenizer.decode(tokens)})
}
