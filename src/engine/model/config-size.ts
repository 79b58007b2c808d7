// Reads a size from a config (heads, widths, kernel lengths of the hybrid families' mixers): a whole number from 1 to
// 65536, refused by key otherwise, so a bad value never reaches the native sizes.
import {ModelLoadError, quotedValue} from '../errors.js'

/** `value` as the size `key` names; anything but a whole number from 1 to 65536 is refused by key. */
export function checkedSize(key: string, value: unknown, source: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 65536) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
  return value
}

/** config[key] as a size, `fallback` when it is absent or null. */
export function configSize(config: Record<string, unknown>, key: string, fallback: number, source: string): number {
  return checkedSize(key, config[key] ?? fallback, source)
}
