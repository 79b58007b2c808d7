// `generate`'s sampling flags and the SamplingParams they make. The flags are turned into the request body the server
// would get (each flag is its field: --presence-penalty is presence_penalty) and checked by the server's own parser
// (parseCommon, then makeSamplingParams), so both reach the same parameters; an error names the flag, not the field.
import {Flags} from '@oclif/core'
import {InvalidRequestError} from '../engine/errors.js'
import type {GuidedSpec} from '../engine/guided/guided-spec.js'
import type {SamplingParams} from '../engine/sampling-params.js'
import {parseCommon, samplingParamsFor} from '../server/openai-schema.js'
import {numberFlag} from './number-flag.js'

const repeatable = {multiple: true, multipleNonGreedy: true} as const

export const samplingFlags = {
  'max-tokens': Flags.integer({description: 'Most tokens to generate per sequence (not given: 64, or what the context leaves after the prompt when less)', default: 64, min: 1}),
  'min-tokens': Flags.integer({description: 'Fewest tokens to generate per sequence: EOS and --stop-token-ids are held back until then'}),
  temperature: numberFlag({description: 'Sampling temperature (default 0 = greedy)', default: 0}),
  'top-p': numberFlag({description: 'Nucleus sampling: smallest token set with this probability mass', default: 1}),
  'top-k': Flags.integer({description: 'Sample from the k most likely tokens (default 0 = off)', default: 0}),
  'min-p': numberFlag({description: 'Drop tokens below min-p times the top probability (default 0 = off)', default: 0}),
  'repetition-penalty': numberFlag({description: 'Penalty for tokens already present (1 = off)', default: 1}),
  'presence-penalty': numberFlag({description: 'Subtracted from the logit of every token already generated, in [-2, 2] (0 = off)'}),
  'frequency-penalty': numberFlag({description: 'Subtracted from a token\'s logit once per time it was generated, in [-2, 2] (0 = off)'}),
  n: Flags.integer({description: 'Parallel samples per prompt (share the prompt KV blocks)', default: 1, min: 1}),
  'best-of': Flags.integer({description: 'Samples generated per prompt; the n best are shown', min: 1}),
  'beam-width': Flags.integer({description: 'Beam search with this many beams (returns --n best)', min: 2}),
  'length-penalty': numberFlag({description: 'Beam search: score = logprob / length^penalty', default: 1}),
  'early-stopping': Flags.string({
    description: 'Beam search: stop once width beams have ended (true), once no live beam can beat them (false, the default), or never',
    options: ['true', 'false', 'never'],
  }),
  stop: Flags.string({description: 'Stop string (repeatable: --stop A --stop B)', ...repeatable}),
  'stop-token-ids': Flags.integer({description: 'Token ids that end a sequence as EOS does (repeatable, or comma-separated: 5,7)', delimiter: ',', ...repeatable}),
  'include-stop-str-in-output': Flags.boolean({description: 'Keep the stop string that ended a sequence in its text', default: false}),
  'ignore-eos': Flags.boolean({description: 'Keep generating past the end-of-sequence token', default: false}),
  'skip-special-tokens': Flags.boolean({description: 'Leave special tokens out of the text (--no-skip-special-tokens keeps them)', default: true, allowNo: true}),
  logprobs: Flags.integer({description: 'With --json: the top-k logprobs of each generated token', min: 0, max: 20}),
  'prompt-logprobs': Flags.integer({description: 'With --json: the top-k logprobs of each prompt token'}),
  'logit-bias': Flags.string({description: 'JSON map of token id to a bias added to its logit (clamped to [-100, 100]), e.g. \'{"2": -100}\''}),
  'allowed-token-ids': Flags.integer({description: 'Only these token ids may be generated (repeatable, or comma-separated)', delimiter: ',', ...repeatable}),
  'bad-words': Flags.string({description: 'A word that must not appear in the output (repeatable)', ...repeatable}),
}

/** The flags above as oclif parsed them. */
type SamplingFlagValues = {[Name in keyof typeof samplingFlags]?: unknown}

/** Flags whose request field is not their own name with "_" for "-". */
const FIELD_OF_FLAG: Record<string, string> = {'beam-width': 'best_of'}

/**
 * The SamplingParams of `generate`'s flags, through the server's parser. `seed` is the request's seed (null: none);
 * `guided` comes from the constraint flags (guided-flags.ts), which have their own file-or-text syntax.
 */
export function samplingParamsFromFlags(flags: SamplingFlagValues, seed: number | null, guided: GuidedSpec | null): SamplingParams {
  const body: Record<string, unknown> = {seed}
  for (const [name, value] of Object.entries(flags)) {
    if (!(name in samplingFlags) || value === undefined) continue
    body[FIELD_OF_FLAG[name] ?? fieldOf(name)] = fieldValue(name, value)
  }
  if (flags['beam-width'] !== undefined) body.use_beam_search = true
  const beams = body.use_beam_search === true
  try {
    const common = parseCommon(body, true)
    common.sampling.logprobs = (flags.logprobs as number | undefined) ?? null
    common.sampling.guided = guided ?? undefined
    return samplingParamsFor(common, flags['max-tokens'] as number)
  } catch (error) {
    if (error instanceof InvalidRequestError) throw asFlagError(error, beams)
    throw error
  }
}

const fieldOf = (flag: string) => flag.replaceAll('-', '_')

/**
 * An engine error about a sampling field (the scheduler's "n 4 exceeds --max-num-seqs 2") in the flags' terms (--n),
 * as a CLI user reads it; any other error is returned as it is.
 */
export function samplingErrorAsFlagError(error: unknown, beams: boolean): unknown {
  if (!(error instanceof InvalidRequestError) || error.param === null) return error
  const fields = Object.keys(samplingFlags).map((name) => FIELD_OF_FLAG[name] ?? fieldOf(name))
  return fields.includes(error.param) ? asFlagError(error, beams) : error
}

function fieldValue(flag: string, value: unknown): unknown {
  if (flag === 'early-stopping') return value === 'never' ? 'never' : value === 'true'
  if (flag === 'logit-bias') {
    try {
      return JSON.parse(value as string)
    } catch {
      throw new InvalidRequestError(`--logit-bias must be a JSON object such as '{"2": -100}', got ${value}`, {param: 'logit-bias'})
    }
  }
  return value
}

/** The server's error in the flags' terms: its field (and any other sampling field its text names) as --flag. */
function asFlagError(error: InvalidRequestError, beams: boolean): InvalidRequestError {
  const flagOf = (field: string) => (field === 'best_of' && beams ? 'beam-width' : field.replaceAll('_', '-'))
  // Its own field wherever it stands; other fields only when unmistakable (with an underscore: max_tokens).
  const fields = new Set([...Object.keys(samplingFlags).map(fieldOf).filter((field) => field.includes('_')), ...(error.param === null ? [] : [error.param])])
  let message = error.message
  for (const field of fields) message = message.replace(new RegExp(`'?(?<![\\w-])${field}(?![\\w-])'?`, 'g'), `--${flagOf(field)}`)
  return new InvalidRequestError(message, {param: error.param === null ? null : flagOf(error.param), code: error.code})
}
