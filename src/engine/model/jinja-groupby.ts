// jinja2's groupby filter: items sorted by an attribute (a dotted path, or an index) and grouped by it, as a list of
// (grouper, list) named tuples; strings compare case-blind unless case_sensitive, the group keeping its first item's case.
import {
  ArrayValue,
  isMapping,
  isSequence,
  namedTuple,
  pythonEquals,
  pythonIterable,
  pythonOrder,
  StringValue,
  tupleField,
  UndefinedValue,
  type Value,
} from './jinja-values.js'

/** One step of jinja2's environment.getitem: a dict's key, a list's or a string's index, a named tuple's field. */
function itemOf(value: Value, part: string | number): Value {
  if (isMapping(value)) return typeof part === 'string' ? ((value.value as Map<string, Value>).get(part) ?? new UndefinedValue()) : new UndefinedValue()
  if (typeof part === 'number' && (isSequence(value) || value.type === 'StringValue')) {
    const item = isSequence(value) ? (value.value as Value[])[part] : (value.value as string)[part]
    return item === undefined ? new UndefinedValue() : typeof item === 'string' ? new StringValue(item) : item
  }
  return (typeof part === 'string' ? tupleField(value, part) : undefined) ?? new UndefinedValue()
}

/** jinja2's make_attrgetter: the attribute's parts (digits as indexes), the default put in for any missing step. */
function attributeGetter(attribute: Value | undefined, fallback: Value | undefined): (item: Value) => Value {
  const parts: Array<string | number> =
    attribute === undefined || attribute.type === 'NullValue'
      ? []
      : attribute.type === 'StringValue'
        ? (attribute.value as string).split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part))
        : [attribute.value as number]
  const usesDefault = fallback !== undefined && fallback.type !== 'NullValue'
  return (item) => {
    let value = item
    for (const part of parts) {
      value = itemOf(value, part)
      if (usesDefault && value.type === 'UndefinedValue') value = fallback
    }
    return value
  }
}

/** Python's sorted() key order; a missing attribute is jinja2's UndefinedError once it is compared. */
function keyOrder(a: Value, b: Value): number {
  if (a.type === 'UndefinedValue' || b.type === 'UndefinedValue') throw new Error("UndefinedError: an item has no such attribute for 'groupby'")
  return pythonOrder(a, b)
}

/** items | groupby(attribute, default=None, case_sensitive=False). */
export function groupBy(operand: Value, attribute: Value | undefined, fallback: Value | undefined, caseSensitive: boolean): Value {
  const output = attributeGetter(attribute, fallback)
  const key = caseSensitive ? output : (item: Value) => {
    const value = output(item)
    return value.type === 'StringValue' ? new StringValue((value.value as string).toLowerCase()) : value
  }
  const keyed = pythonIterable(operand).map((item) => ({item, key: key(item)}))
  keyed.sort((a, b) => keyOrder(a.key, b.key)) // stable, as Python's sort
  const groups: Array<{key: Value; items: Value[]}> = []
  for (const {item, key: itemKey} of keyed) {
    const last = groups.at(-1)
    if (last !== undefined && pythonEquals(last.key, itemKey)) last.items.push(item)
    else groups.push({key: itemKey, items: [item]})
  }
  return new ArrayValue(groups.map(({items}) => namedTuple({grouper: output(items[0]!), list: new ArrayValue(items)})))
}
