// GET /v1/models (the list) and GET /v1/models/{id} (one model card: OpenAI's retrieve, the clients' models.retrieve).
import type {ServerResponse} from 'node:http'
import {sendJson, unixSeconds} from './api-context.js'
import type {EngineLike} from './engine-like.js'
import {checkModel} from './openai-schema.js'

/** Paths under it name one model; a served name may hold '/' (ORG/NAME), sent as is or percent-encoded. */
export const MODEL_PATH_PREFIX = '/v1/models/'

/** vLLM's model card: root names what the served name stands for, parent is for adapters (none here). */
function modelCard(engine: EngineLike) {
  return {id: engine.modelName, object: 'model', created: unixSeconds(), owned_by: 'pagedllm', root: engine.modelName, parent: null, max_model_len: engine.maxModelLen, permission: []}
}

export function listModels(response: ServerResponse, engine: EngineLike): void {
  sendJson(response, 200, {object: 'list', data: [modelCard(engine)]})
}

/** `path` starts with MODEL_PATH_PREFIX; any name but the served one is OpenAI's 404 model_not_found. */
export function retrieveModel(response: ServerResponse, engine: EngineLike, path: string): void {
  const encoded = path.slice(MODEL_PATH_PREFIX.length)
  checkModel(decodedName(encoded), engine.modelName)
  sendJson(response, 200, modelCard(engine))
}

function decodedName(encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return encoded // a stray '%' is part of a name no served model has
  }
}
