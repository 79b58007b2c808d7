// Number CLI flags: a decimal flag refuses "abc" at parse time with the flag's name and the bad value (never NaN); seconds flags stop where node's timers do.
import {Flags} from '@oclif/core'
import {InvalidRequestError} from '../engine/errors.js'

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/** Range checks stay with what the value feeds (sampling params, engine config), which report them in their own terms. */
export const numberFlag = Flags.custom<number>({
  parse: async (input, _context, options) => {
    const value = Number(input)
    // Number() also reads "0x10", "0b1" and "  1 ": a decimal flag takes decimals only.
    if (!DECIMAL.test(input) || !Number.isFinite(value))
      throw new InvalidRequestError(`"${input}" is not a number`, {param: options.name})
    return value
  },
})

/** The longest a node timer waits (2^31 - 1 ms): a longer one fires at once, so flags in seconds that become timers stop there (24.8 days). */
export const MAX_TIMER_SECONDS = 2_147_483

/** A seed: any integer a double holds exactly. Past 2^53 oclif's integer flag rounds, so two seeds typed apart ran alike. */
export const seedFlag = Flags.custom<number>({
  parse: async (input, _context, options) => {
    const value = Number(input)
    if (!/^[+-]?\d+$/.test(input) || !Number.isSafeInteger(value))
      throw new InvalidRequestError(`"${input}" is not an integer from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}`, {param: options.name})
    return value
  },
})
