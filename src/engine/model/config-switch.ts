// Reads a config switch that the engine refuses when on. transformers takes any truthy value as on (nn.Linear(...,
// bias=config.use_bias)), so a value that is not a boolean is refused by key rather than read as off.
import {ModelLoadError, quotedValue} from '../errors.js'

/** Whether `key` is true; absent or null is off, anything but a boolean is refused. */
export function switchOn(config: Record<string, unknown>, key: string, source: string): boolean {
  const value = config[key]
  if (value == null) return false
  if (typeof value !== 'boolean') throw new ModelLoadError(`${source}: "${key}" must be true or false, got ${quotedValue(value)}.`)
  return value
}
