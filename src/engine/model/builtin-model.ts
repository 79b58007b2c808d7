// The built-in demo model (models/tinychat, committed with the package): where it lives and how the CLI announces it.
import {fileURLToPath} from 'node:url'

/** Resolved from this file, not the cwd: the same path from src/ (tsx), dist/ and a global install. */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/tinychat', import.meta.url))

/** The one line a command prints when it falls back to the built-in model. */
export const BUILTIN_MODEL_NOTICE =
  'no --model given: using the built-in tinychat demo model (6M parameters, its replies are mostly nonsense). ' +
  'For a real model pass --model ORG/NAME (e.g. Qwen/Qwen2.5-0.5B-Instruct) or --model ./a-model-directory'
