// The k best of many scored entries, in O(n + k log k) time for the usual case: top logprobs of a vocabulary row, and
// beam search's candidates per beam (2 x width at first, more where the walk needs them; sorting whole rows starved other requests).

/**
 * Indices of the `k` best entries, best first: higher value first, then lower `order` (default: lower index). NaN
 * values never count. The kept entries sit in a min-heap holding their values and orders, so an entry that does not
 * beat the weakest kept costs one comparison.
 */
export function topIndices(values: ArrayLike<number>, k: number, order: ArrayLike<number> | null = null): Int32Array {
  const heap = new KeptHeap(Math.max(0, Math.min(k, values.length)))
  let i = 0
  for (; i < values.length && heap.size < heap.capacity; i++) if (!Number.isNaN(values[i]!)) heap.push(values[i]!, order === null ? i : order[i]!, i)
  // Full: an entry enters only if it beats the weakest kept (with the default order a tie never does: it came later).
  for (let floor = heap.size > 0 ? heap.values[0]! : Infinity; i < values.length; i++) {
    const value = values[i]!
    if (value > floor || (value === floor && order !== null && order[i]! < heap.orders[0]!)) {
      heap.replaceWeakest(value, order === null ? i : order[i]!, i)
      floor = heap.values[0]!
    }
  }
  return heap.drainBestFirst()
}

/**
 * Indices of all entries best first, as topIndices orders them (NaN never), produced lazily: a max-heap built in O(n),
 * then O(log n) per index taken. For walks that usually stop early but may not (beam search's candidates).
 */
export function* bestFirstIndices(values: ArrayLike<number>, order: ArrayLike<number>): Generator<number> {
  const heap = new Int32Array(values.length)
  let size = 0
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) heap[size++] = i
  const siftDown = (at: number, size: number) => {
    const entry = heap[at]!
    for (let child = 2 * at + 1; child < size; child = 2 * at + 1) {
      if (child + 1 < size && weaker(values[heap[child]!]!, order[heap[child]!]!, values[heap[child + 1]!]!, order[heap[child + 1]!]!)) child++
      if (!weaker(values[entry]!, order[entry]!, values[heap[child]!]!, order[heap[child]!]!)) break
      heap[at] = heap[child]!
      at = child
    }
    heap[at] = entry
  }
  for (let at = (size >> 1) - 1; at >= 0; at--) siftDown(at, size)
  for (; size > 0; size--) {
    yield heap[0]!
    heap[0] = heap[size - 1]!
    siftDown(0, size - 1)
  }
}

/** A min-heap of (value, order, index), the weakest (lowest value, then highest order) at the root. */
class KeptHeap {
  readonly values: Float64Array
  readonly orders: Float64Array
  private readonly indices: Int32Array
  size = 0

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity)
    this.orders = new Float64Array(capacity)
    this.indices = new Int32Array(capacity)
  }

  push(value: number, order: number, index: number): void {
    let at = this.size++
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (!weaker(value, order, this.values[parent]!, this.orders[parent]!)) break
      this.move(parent, at)
      at = parent
    }
    this.put(at, value, order, index)
  }

  replaceWeakest(value: number, order: number, index: number): void {
    let at = 0
    for (let child = 1; child < this.size; child = 2 * at + 1) {
      if (child + 1 < this.size && weaker(this.values[child + 1]!, this.orders[child + 1]!, this.values[child]!, this.orders[child]!)) child++
      if (!weaker(this.values[child]!, this.orders[child]!, value, order)) break
      this.move(child, at)
      at = child
    }
    this.put(at, value, order, index)
  }

  /** Empties the heap, weakest first into the back of the result: best first. */
  drainBestFirst(): Int32Array {
    const best = new Int32Array(this.size)
    while (this.size > 0) {
      best[this.size - 1] = this.indices[0]!
      const last = --this.size
      this.replaceWeakest(this.values[last]!, this.orders[last]!, this.indices[last]!)
    }
    return best
  }

  private move(from: number, to: number): void {
    this.values[to] = this.values[from]!
    this.orders[to] = this.orders[from]!
    this.indices[to] = this.indices[from]!
  }

  private put(at: number, value: number, order: number, index: number): void {
    this.values[at] = value
    this.orders[at] = order
    this.indices[at] = index
  }
}

/** (value a, order a) ranks below (value b, order b): a lower value, or the same value and a later order. */
function weaker(valueA: number, orderA: number, valueB: number, orderB: number): boolean {
  return valueA < valueB || (valueA === valueB && orderA > orderB)
}
