// The allocator of the reserving baselines (contiguous, orca-*): one run of consecutive blocks per sequence, sized at admission.
import type {KvPolicy} from './config.js'
import type {AllocStatus, BlockCopy, BlockTables, KvAllocator, SeqBlocks} from './block-tables.js'
import {blocksForTokens, reservedTokens} from './kv-policy.js'
import type {Sequence, SequenceGroup} from './sequence.js'

/** The runs one admission reserved: `width` sequences' worth, spares held for later forks. */
interface Family {
  readonly width: number
  /** Beam search forks and discards beams every step: a discarded beam's run is kept for the next fork. */
  readonly keepsFreedRuns: boolean
  spares: number[][]
}

export class ReservingAllocator implements KvAllocator {
  /** Each admitted group's runs not held by a sequence right now. */
  private readonly families = new Map<number, Family>()
  // Reserving policies neither share nor reuse blocks: there is no prefix cache.
  readonly numCachedBlocks = 0
  readonly prefixCacheQueries = 0
  readonly prefixCacheHits = 0

  constructor(private readonly tables: BlockTables, private readonly opts: {policy: KvPolicy; maxModelLen: number}) {}

  get numFreeBlocks(): number {
    return this.tables.device.numFree
  }

  canAllocate(group: SequenceGroup, seqs: readonly Sequence[]): AllocStatus {
    if (this.neverFits(group, seqs) !== null) return 'never'
    return this.tables.device.findRuns(this.runLength(group), Math.max(group.params.bestOf, seqs.length)) === null ? 'later' : 'ok'
  }

  /** A reservation never grows, so what is reserved at admission is all the request will ever hold. */
  neverFits(group: SequenceGroup, seqs: readonly Sequence[]): string | null {
    const runLength = this.runLength(group)
    const width = Math.max(group.params.bestOf, seqs.length)
    if (width * runLength <= this.tables.device.numBlocks) return null
    return `the ${this.opts.policy} policy reserves ${width} x ${runLength} KV blocks up front for this request but ${this.tables.poolDescription}`
  }

  allocate(group: SequenceGroup, seqs: readonly Sequence[], family: number): void {
    const width = Math.max(group.params.bestOf, seqs.length)
    const runs = this.tables.device.allocateRuns(this.runLength(group), width)
    if (runs === null) throw new Error(`allocate(${group.requestId}) without room: call canAllocate first`)
    seqs.forEach((seq, index) => {
      seq.numComputedTokens = 0
      this.tables.onDevice.set(seq.seqId, this.tables.newState(seq, runs[index]!, family))
    })
    this.families.set(family, {width, keepsFreedRuns: group.params.useBeamSearch, spares: runs.slice(seqs.length)})
  }

  cachedPrefixTokens(): number {
    return 0
  }

  markComputed(): void {}

  /** A reservation never grows: outgrowing it is impossible (Infinity), anything else needs no new block. */
  blocksToGrow(state: SeqBlocks, lookahead: number): number {
    return blocksForTokens(state.seq.length + lookahead, this.tables.blockSize) > state.table.length ? Infinity : 0
  }

  appendSlots(state: SeqBlocks, lookahead: number): BlockCopy[] {
    if (blocksForTokens(state.seq.length + lookahead, this.tables.blockSize) > state.table.length)
      throw new Error(`sequence ${state.seq.seqId} outgrew its reservation of ${state.table.length} blocks`)
    return []
  }

  /** The reservation is the sequence's whole run: rejected draft slots are simply overwritten later. */
  trimTo(): void {}

  canFork(parent: SeqBlocks): boolean {
    if ((this.families.get(parent.family)?.spares.length ?? 0) > 0) return true
    return this.tables.device.findRuns(parent.table.length, 1) !== null
  }

  /** The child takes a spare run of the family (or a new one) and gets copies of the parent's computed blocks. */
  fork(parent: SeqBlocks, child: Sequence): BlockCopy[] {
    const run = this.families.get(parent.family)?.spares.shift() ?? this.tables.device.allocateRuns(parent.table.length, 1)?.[0]
    if (run === undefined) throw new Error(`fork of sequence ${parent.seq.seqId} without room: call canFork first`)
    this.tables.onDevice.set(child.seqId, this.tables.newState(child, run, parent.family))
    const filled = blocksForTokens(parent.seq.numComputedTokens, this.tables.blockSize)
    return parent.table.slice(0, filled).map((src, index) => ({src, dst: run[index]!}))
  }

  releaseFreed(state: SeqBlocks): void {
    const family = this.families.get(state.family)
    const members = this.tables.familyMembers(state.family)
    if (family !== undefined && family.keepsFreedRuns && members > 0 && members + family.spares.length < family.width) family.spares.push(state.table)
    else this.releaseDeviceBlocks(state.table)
  }

  familyGone(family: number): void {
    this.releaseSpareRuns(family)
    this.families.delete(family)
  }

  releaseSwappedOut(state: SeqBlocks): void {
    this.releaseDeviceBlocks(state.table)
    // Spare runs would hold device memory while the group is away; forks after swap-in reserve anew.
    this.releaseSpareRuns(state.family)
  }

  /** The baselines model systems that keep a sequence's whole run, windows or not. */
  releaseBehindWindow(): void {}

  canSwapIn(states: readonly SeqBlocks[]): boolean {
    return this.tables.device.findRuns(states[0]!.table.length, states.length) !== null
  }

  placeSwappedIn(states: readonly SeqBlocks[], hostToDevice: Map<number, number>): number[][] {
    const runs = this.tables.device.allocateRuns(states[0]!.table.length, states.length)
    if (runs === null) throw new Error(`swap-in of sequence ${states[0]!.seq.seqId}'s group without room: call canSwapIn first`)
    states.forEach((state, seqIndex) => state.table.forEach((hostBlock, index) => hostToDevice.set(hostBlock, runs[seqIndex]![index]!)))
    return runs
  }

  spareTables(): number[][] {
    return [...this.families.values()].flatMap((family) => family.spares)
  }

  isParked(): boolean {
    return false
  }

  checkInvariants(): void {
    for (const state of this.tables.onDevice.values()) {
      if (state.table.some((blockId, index) => blockId !== state.table[0]! + index))
        throw new Error(`sequence ${state.seq.seqId}: reserved run is not contiguous`)
    }
  }

  /** Blocks of the group's reservation: the policy's token reservation, at least the longest sequence so far. */
  private runLength(group: SequenceGroup): number {
    const longest = Math.max(...group.unfinished.map((seq) => seq.length), group.promptLength)
    const tokens = Math.max(reservedTokens(this.opts.policy, group.promptLength, group.params.maxTokens, this.opts.maxModelLen), longest)
    return blocksForTokens(tokens, this.tables.blockSize)
  }

  private releaseSpareRuns(family: number): void {
    const runs = this.families.get(family)
    for (const run of runs?.spares ?? []) this.releaseDeviceBlocks(run)
    if (runs !== undefined) runs.spares = []
  }

  private releaseDeviceBlocks(table: readonly number[]): void {
    for (const blockId of table) if (this.tables.device.decRef(blockId) === 0) this.tables.device.release(blockId)
  }
}
