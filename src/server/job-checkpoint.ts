// Points in long request checks where a tokenizer worker's job may stop because its client has left (the pool raises a
// flag the worker reads here); on the event loop, and in any thread that installs nothing, they cost a call.

/** Thrown at a checkpoint of a cancelled job; the pool has answered its caller already and ignores the reply. */
export class JobCancelled extends Error {
  constructor() {
    super('the tokenizer job was cancelled: its client left')
  }
}

let check: () => void = () => {}

/** The worker's test for "the running job was cancelled" (it throws JobCancelled). */
export function installCheckpoint(test: () => void): void {
  check = test
}

/** Stops the running job here if it was cancelled. */
export function checkpoint(): void {
  check()
}

/** A checkpoint every 4,096 items of a loop (`index` counts them): a few ms of work between two. */
export function checkpointEvery(index: number): void {
  if ((index & 4095) === 4095) check()
}
