// Reads a config switch. transformers takes any truthy value as on (nn.Linear(..., bias=config.use_bias)), so a value
// that is not a boolean is refused by key rather than read as one side or the other.
import {ModelLoadError, quotedValue} from '../errors.js'

/** The switch's value, `fallback` when absent or null; anything but a boolean is refused. */
export function switchValue(config: Record<string, unknown>, key: string, fallback: boolean, source: string): boolean {
  const value = config[key]
  if (value == null) return fallback
  if (typeof value !== 'boolean') throw new ModelLoadError(`${source}: "${key}" must be true or false, got ${quotedValue(value)}.`)
  return value
}

/** Whether a switch the engine refuses when on is on (absent or null: off). */
export function switchOn(config: Record<string, unknown>, key: string, source: string): boolean {
  return switchValue(config, key, false, source)
}
