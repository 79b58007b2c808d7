// Reads the Hugging Face environment conventions (HF_HUB_CACHE, HF_HOME, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT).
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

const DEFAULT_ENDPOINT = 'https://huggingface.co'

type Env = Record<string, string | undefined>

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface: where other HF tools keep their state. */
function hfHomeDir(env: Env = process.env): string {
  return nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'huggingface')
}

/** HF_HUB_CACHE (or its old name HUGGINGFACE_HUB_CACHE), else HF_HOME/hub: the same folder huggingface_hub and vLLM use. */
export function hubCacheDir(env: Env = process.env): string {
  return nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE) ?? join(hfHomeDir(env), 'hub')
}

/** huggingface_hub's truthy spellings for boolean variables. */
export function isOfflineByEnv(env: Env = process.env): boolean {
  return ['1', 'on', 'yes', 'true'].includes((env.HF_HUB_OFFLINE ?? '').trim().toLowerCase())
}

export function hubEndpoint(env: Env = process.env): string {
  return (nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')
}

/** HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the file `huggingface-cli login` writes (HF_TOKEN_PATH or HF_HOME/token). */
export function hubToken(env: Env = process.env): string | null {
  const fromEnv = nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN)
  if (fromEnv !== undefined) return fromEnv
  try {
    return nonEmpty(readFileSync(nonEmpty(env.HF_TOKEN_PATH) ?? join(hfHomeDir(env), 'token'), 'utf8')) ?? null
  } catch {
    return null
  }
}
