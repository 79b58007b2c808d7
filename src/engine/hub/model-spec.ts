// Tells a local model directory from a Hugging Face Hub id (ORG/NAME[@revision]) in a --model value.
import {statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {InvalidRequestError} from '../errors.js'
import {isGgufFile, isGgufPath} from '../model/gguf-file.js'

export type ModelSpec = {kind: 'local'; dir: string} | {kind: 'hub'; repoId: string; revision: string | null}

/**
 * The Hub's own rule for an org or repo name: letters, digits, '-', '_', '.', at most 96 characters, not starting
 * or ending with '-' or '.', and no '--' or '..' (the cache folder name models--ORG--NAME relies on that).
 */
function isValidRepoNamePart(part: string): boolean {
  return /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/.test(part) && !part.includes('--') && !part.includes('..')
}

export function isValidRepoId(repoId: string): boolean {
  const parts = repoId.split('/')
  return parts.length === 2 && parts.every(isValidRepoNamePart)
}

/** A value the user clearly meant as a path: absolute, relative with ./ or ../, home-relative, or with a trailing slash. */
function looksLikePath(spec: string): boolean {
  return /^(\/|\.{1,2}(\/|$)|~(\/|$))/.test(spec) || spec.endsWith('/') || spec.includes('\\')
}

function directoryState(path: string): 'directory' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'file'
  } catch {
    return 'missing'
  }
}

export function parseModelSpec(spec: string): ModelSpec {
  const trimmed = spec.trim()
  if (trimmed === '') throw new InvalidRequestError('--model is empty: give a model directory or a Hugging Face id such as Qwen/Qwen2.5-0.5B-Instruct.', {param: 'model'})
  // Shells expand ~ themselves, but not inside quotes or config files.
  const path = trimmed === '~' || trimmed.startsWith('~/') ? join(homedir(), trimmed.slice(1)) : trimmed
  const state = directoryState(path)
  if (state === 'directory' || (state === 'file' && isGgufFile(path))) return {kind: 'local', dir: path}
  if (state === 'file') {
    throw new InvalidRequestError(
      `--model ${spec} is a file but not a GGUF file; give a GGUF file, the model's directory (the one holding config.json) or a Hugging Face id ORG/NAME.`,
      {param: 'model', code: 'model_not_found'},
    )
  }
  // llama.cpp's habit: a GGUF file by its name. Missing, it is a typo'd file, not a bad hub id (a valid id is still looked up).
  const missingFile = () => new InvalidRequestError(`Model file ${path} does not exist. Check the path.`, {param: 'model', code: 'model_not_found'})
  if (looksLikePath(trimmed)) {
    if (isGgufPath(trimmed)) throw missingFile()
    throw new InvalidRequestError(`Model directory ${path} does not exist. Check the path, or give a Hugging Face id such as Qwen/Qwen2.5-0.5B-Instruct.`, {param: 'model', code: 'model_not_found'})
  }
  const at = trimmed.indexOf('@')
  const repoId = at < 0 ? trimmed : trimmed.slice(0, at)
  const revision = at < 0 ? null : trimmed.slice(at + 1)
  if (!isValidRepoId(repoId) || revision === '' || (revision !== null && /\s/.test(revision))) {
    if (isGgufPath(trimmed)) throw missingFile()
    throw new InvalidRequestError(
      `--model ${spec} is neither an existing directory nor a Hugging Face model id of the form ORG/NAME or ORG/NAME@revision.`,
      {param: 'model', code: 'model_not_found'},
    )
  }
  return {kind: 'hub', repoId, revision}
}
