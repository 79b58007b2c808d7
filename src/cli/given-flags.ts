// Which flags the user typed, as opposed to those at their defaults: the commands refuse flags a run would ignore.

/** The flags given on the command line (oclif's raw tokens). */
export function givenFlags(raw: readonly {type: string; flag?: string}[]): Set<string> {
  return new Set(raw.flatMap((token) => (token.type === 'flag' && token.flag !== undefined ? [token.flag] : [])))
}
