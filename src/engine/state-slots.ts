// Recurrent state slots of a hybrid model (Qwen 3.5's Gated DeltaNet layers): each running sequence holds one slot of
// the backend's state pool (native/cpu/hybrid_layers.h) beside its KV blocks. A request reserves the most slots it can
// ever hold at once (best_of: its samples or beams) when first admitted, so a fork always finds one; the reservation
// ends when its last sequence lets go. Held by BlockManager, which takes and frees slots with blocks.
import type {Sequence, SequenceGroup} from './sequence.js'

/** (src, dst) slots: a forked sequence takes its parent's state before the next forward pass. */
export interface StateCopy {
  src: number
  dst: number
}

export class StateSlots {
  private readonly free: number[]
  private readonly slotOf = new Map<number, {slot: number; group: SequenceGroup}>()
  private readonly reserved = new Map<SequenceGroup, {slots: number; held: number}>()
  private numReserved = 0
  private pendingCopies: StateCopy[] = []

  constructor(readonly numSlots: number) {
    if (!(Number.isInteger(numSlots) && numSlots > 0)) throw new Error(`numSlots must be a positive integer, got ${numSlots}`)
    this.free = Array.from({length: numSlots}, (_, i) => numSlots - 1 - i)
  }

  get numFree(): number {
    return this.free.length
  }

  /** Whether the group's sequences can take slots now: it holds a reservation, or one of its width fits. */
  canAdmit(group: SequenceGroup): boolean {
    return this.reserved.has(group) || this.numReserved + widthOf(group) <= this.numSlots
  }

  /** Why the group can never hold its slots, or null. */
  neverFits(group: SequenceGroup): string | null {
    const width = widthOf(group)
    return width > this.numSlots ? `it needs ${width} recurrent state slots at once and the engine has ${this.numSlots} (--max-num-seqs)` : null
  }

  take(group: SequenceGroup, seq: Sequence): void {
    if (this.slotOf.has(seq.seqId)) throw new Error(`sequence ${seq.seqId} already holds state slot ${this.slotOf.get(seq.seqId)!.slot}`)
    let reservation = this.reserved.get(group)
    if (reservation === undefined) {
      if (!this.canAdmit(group)) throw new Error(`no room to reserve ${widthOf(group)} state slots: call canAdmit first`)
      reservation = {slots: widthOf(group), held: 0}
      this.reserved.set(group, reservation)
      this.numReserved += reservation.slots
    }
    const slot = this.free.pop()
    if (slot === undefined || reservation.held >= reservation.slots) throw new Error(`request ${group.requestId} holds more sequences than its ${reservation.slots} reserved state slots`)
    reservation.held++
    this.slotOf.set(seq.seqId, {slot, group})
  }

  /** The child takes a slot of its request's reservation and, before the next forward pass, a copy of the parent's state. */
  fork(parent: Sequence, child: Sequence): void {
    const held = this.slotOf.get(parent.seqId)
    if (held === undefined) throw new Error(`fork of sequence ${parent.seqId}, which holds no state slot`)
    this.take(held.group, child)
    this.pendingCopies.push({src: held.slot, dst: this.slotOf.get(child.seqId)!.slot})
  }

  release(seq: Sequence): void {
    const held = this.slotOf.get(seq.seqId)
    if (held === undefined) return
    this.slotOf.delete(seq.seqId)
    this.free.push(held.slot)
    const reservation = this.reserved.get(held.group)!
    if (--reservation.held === 0) {
      this.reserved.delete(held.group)
      this.numReserved -= reservation.slots
    }
  }

  slot(seq: Sequence): number {
    const held = this.slotOf.get(seq.seqId)
    if (held === undefined) throw new Error(`sequence ${seq.seqId} holds no state slot`)
    return held.slot
  }

  /** The copies owed by forks since the last call (the next step applies them). */
  takeCopies(): StateCopy[] {
    const copies = this.pendingCopies
    this.pendingCopies = []
    return copies
  }

  /** Throws unless exactly the sequences in `holders` hold slots, each its own, and the counts add up. */
  checkInvariants(holders: ReadonlySet<number>): void {
    for (const seqId of this.slotOf.keys()) if (!holders.has(seqId)) throw new Error(`sequence ${seqId} holds a state slot but no KV blocks`)
    for (const seqId of holders) if (!this.slotOf.has(seqId)) throw new Error(`sequence ${seqId} holds KV blocks but no state slot`)
    const slots = new Set([...this.slotOf.values()].map((held) => held.slot))
    if (slots.size !== this.slotOf.size || slots.size + this.free.length !== this.numSlots) {
      throw new Error(`state slots: ${this.slotOf.size} held (${slots.size} distinct) + ${this.free.length} free != ${this.numSlots}`)
    }
    let reserved = 0
    for (const reservation of this.reserved.values()) reserved += reservation.slots
    if (reserved !== this.numReserved || reserved > this.numSlots) throw new Error(`state slots: ${this.numReserved} reserved, ${reserved} by the requests, of ${this.numSlots}`)
  }
}

/** The most sequences a request holds at once: its samples or beams. */
function widthOf(group: SequenceGroup): number {
  return Math.max(group.params.n, group.params.bestOf)
}
