// A decimal-number CLI flag: "abc" is refused at parse time with the flag's name and the bad value, never read as NaN.
import {Flags} from '@oclif/core'
import {InvalidRequestError} from '../engine/errors.js'

/** Range checks stay with what the value feeds (sampling params, engine config), which report them in their own terms. */
export const numberFlag = Flags.custom<number>({
  parse: async (input, _context, options) => {
    const value = Number(input)
    if (input.trim() === '' || !Number.isFinite(value))
      throw new InvalidRequestError(`"${input}" is not a number`, {param: options.name})
    return value
  },
})
