// The one error line for a command name that is none (`pagedllm gen hi`), with the command meant when it is clear.

/** Edits (insert, delete, replace) between two words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = current
  }
  return previous[b.length]!
}

/**
 * `id`: oclif's id of what was typed (words joined by ':', arguments included: "gen:hi"); `commands`: the command ids.
 * Names the words up to the first that no command continues, and the command they likely meant (a prefix of its
 * name, or within two edits), if exactly one.
 */
export function unknownCommandMessage(id: string, commands: readonly string[]): string {
  const words = id.split(':')
  let known = 0
  while (known < words.length && commands.some((command) => `${command}:`.startsWith(`${words.slice(0, known + 1).join(':')}:`))) known++
  const typed = words.slice(0, known + 1)
  const siblings = commands.filter((command) => command.split(':').length === typed.length && command.startsWith(typed.slice(0, -1).map((w) => `${w}:`).join('')))
  const last = typed.at(-1)!
  const meant = siblings.filter((command) => {
    const word = command.split(':').at(-1)!
    return word.startsWith(last) || editDistance(word, last) <= 2
  })
  const hint = meant.length === 1 ? `; did you mean ${meant[0]!.replaceAll(':', ' ')}?` : ''
  return `${typed.join(' ')} is not a pagedllm command${hint} (pagedllm --help lists them)`
}
