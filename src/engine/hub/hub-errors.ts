// Turns Hub HTTP statuses and network failures into errors of the one hierarchy, each saying what the user can do.
import {AuthenticationError, NotFoundError, PagedLLMError, UnavailableError} from '../errors.js'

export interface HubRequestContext {
  endpoint: string
  repoId: string
  revision: string
  /** The file being fetched; null for the repository listing. */
  file: string | null
  hasToken: boolean
}

const OFFLINE_HINT =
  'or, to run without the network, set HF_HUB_OFFLINE=1 and use a model already in the Hugging Face cache (see `pagedllm models list`), or pass a local model directory to --model.'

/** undici's fetch rejects with TypeError('fetch failed') for refused connections, DNS failures, resets and dropped bodies. */
export function isNetworkFailure(error: unknown): boolean {
  return error instanceof TypeError
}

function networkDetail(error: unknown): string {
  const cause = (error as {cause?: {code?: string; message?: string}}).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

export function hubNetworkError(error: unknown, context: HubRequestContext): UnavailableError {
  const what = context.file === null ? `the file list of ${context.repoId}` : `${context.file} of ${context.repoId}`
  return new UnavailableError(
    `Cannot reach the Hugging Face Hub at ${context.endpoint} to fetch ${what} (${networkDetail(error)}). ` +
      `Check your network connection (and HF_ENDPOINT if you use a mirror), ${OFFLINE_HINT}`,
    {code: 'hub_unreachable', cause: error},
  )
}

export function hubHttpError(status: number, hubErrorCode: string | null, hubMessage: string | null, context: HubRequestContext): PagedLLMError {
  const {endpoint, repoId, revision, file} = context
  const modelPage = `${endpoint}/${repoId}`
  const said = hubMessage === null || hubMessage === '' ? '' : ` The Hub said: "${hubMessage}".`
  if (status === 401 || status === 403) {
    if (hubErrorCode === 'RepoNotFound') {
      return new NotFoundError(
        `Model ${repoId} was not found on ${endpoint} (HTTP ${status}): check the id (ORG/NAME, as on the model page), or, if it is private, set HF_TOKEN to an access token that can read it.${said}`,
        {param: 'model', code: 'model_not_found'},
      )
    }
    const tokenAdvice = context.hasToken
      ? 'HF_TOKEN is set but was refused: make sure its account has accepted the license and the token has read access (https://huggingface.co/settings/tokens).'
      : 'Then set HF_TOKEN to an access token of that account (https://huggingface.co/settings/tokens).'
    return new AuthenticationError(
      `Access to ${repoId} was refused (HTTP ${status}). It is a gated or private model: accept its license on ${modelPage} while logged in. ${tokenAdvice}${said}`,
      {param: 'model', code: 'gated_model'},
    )
  }
  if (status === 404) {
    if (hubErrorCode === 'RevisionNotFound') {
      return new NotFoundError(`Revision '${revision}' of ${repoId} was not found on ${endpoint}: check the branch, tag or commit after '@'.${said}`, {
        param: 'model',
        code: 'revision_not_found',
      })
    }
    if (hubErrorCode === 'EntryNotFound' && file !== null) {
      return new NotFoundError(`${file} is listed in ${repoId}@${revision} but the Hub could not serve it (HTTP 404).${said}`, {param: 'model', code: 'file_not_found'})
    }
    return new NotFoundError(
      `Model ${repoId} (revision ${revision}) was not found on ${endpoint} (HTTP 404), and no local directory of that name exists. Check the id (ORG/NAME, as on the model page).${said}`,
      {param: 'model', code: 'model_not_found'},
    )
  }
  if (status === 429 || status >= 500) {
    return new UnavailableError(`The Hugging Face Hub answered HTTP ${status} for ${file ?? 'the file list'} of ${repoId}. Try again later, ${OFFLINE_HINT}${said}`, {
      code: 'hub_unavailable',
    })
  }
  return new PagedLLMError(`Unexpected HTTP ${status} from ${endpoint} for ${file ?? 'the file list'} of ${repoId}@${revision}.${said}`, {code: 'hub_error'})
}
