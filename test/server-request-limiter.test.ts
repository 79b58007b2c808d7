// The server's request limiter: units of a fixed capacity, waiters served in order without overtaking, a full queue refused, a leaving waiter frees its place.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {UnavailableError} from '../src/engine/errors.js'
import {type Grant, RequestLimiter} from '../src/server/request-limiter.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('RequestLimiter', () => {
  it('runs up to the limit, queues in arrival order, refuses beyond the queue', async () => {
    const limiter = new RequestLimiter(2, 2)
    const never = new AbortController().signal
    const releaseFirst = await limiter.acquire(never)
    const releaseSecond = await limiter.acquire(never)
    const order: string[] = []
    const third = limiter.acquire(never).then((release) => (order.push('third'), release))
    const fourth = limiter.acquire(never).then((release) => (order.push('fourth'), release))
    await assert.rejects(limiter.acquire(never), (error: unknown) => error instanceof UnavailableError && error.httpStatus === 503)
    assert.deepEqual([limiter.numRunning, limiter.numQueued], [2, 2])
    releaseFirst()
    releaseFirst() // a second release of the same slot changes nothing
    await tick()
    assert.deepEqual(order, ['third'])
    assert.deepEqual([limiter.numRunning, limiter.numQueued], [2, 1])
    releaseSecond()
    await tick()
    assert.deepEqual(order, ['third', 'fourth'])
    ;(await third)()
    ;(await fourth)()
    assert.deepEqual([limiter.numRunning, limiter.numQueued], [0, 0])
  })

  it('drops a waiter whose client leaves, with the abort reason', async () => {
    const limiter = new RequestLimiter(1, 4)
    const release = await limiter.acquire(new AbortController().signal)
    const leaving = new AbortController()
    const waiting = limiter.acquire(leaving.signal)
    assert.equal(limiter.numQueued, 1)
    leaving.abort(new Error('client gone'))
    await assert.rejects(waiting, /client gone/)
    assert.equal(limiter.numQueued, 0)
    release()
    assert.equal(limiter.numRunning, 0)
  })

  it('counts units: a big request waits for room and smaller ones behind it do not overtake it', async () => {
    const limiter = new RequestLimiter(4, 8)
    const never = new AbortController().signal
    const releaseThree = await limiter.acquire(never, 3)
    const order: string[] = []
    const two = limiter.acquire(never, 2).then((release) => (order.push('two'), release))
    const one = limiter.acquire(never, 1).then((release) => (order.push('one'), release))
    await tick()
    // One unit is free, but the 1-unit request queued behind the 2-unit one.
    assert.deepEqual([order, limiter.unitsInUse, limiter.numQueued], [[], 3, 2])
    releaseThree()
    await tick()
    assert.deepEqual([order, limiter.unitsInUse], [['two', 'one'], 3])
    ;(await two)()
    ;(await one)()
    // A grant can shrink early: the freed units go to the waiters.
    const releaseBig = await limiter.acquire(never, 4)
    const waiting = limiter.acquire(never, 2)
    releaseBig.shrinkTo(2)
    ;(await waiting)()
    releaseBig()
    assert.equal(limiter.unitsInUse, 0)
    // More than the capacity is clamped to it, so such a request can still run alone.
    const releaseAll = await limiter.acquire(never, 100)
    assert.equal(limiter.unitsInUse, 4)
    releaseAll()
    assert.deepEqual([limiter.unitsInUse, limiter.numRunning], [0, 0])
  })

  it("lets a request within an equal share use the room beyond the capacity, out of the big waiters' way", async () => {
    const limiter = new RequestLimiter(32, 8, 'sequences', 32)
    const never = new AbortController().signal
    const bigOne = await limiter.acquire(never, 16)
    const bigTwo = await limiter.acquire(never, 16)
    let bigThree: Grant | null = null
    const waiting = limiter.acquire(never, 16).then((grant) => (bigThree = grant))
    await tick()
    // One sequence, within 32 / 3: in at once (it used to wait for a big one to end), while the big one waits its turn.
    const small = await limiter.acquire(never, 1)
    assert.deepEqual([limiter.unitsInUse, limiter.numRunning, limiter.numQueued], [33, 3, 1])
    // A big request is no share: it queues.
    const alsoBig = limiter.acquire(never, 12)
    await tick()
    assert.equal(limiter.numQueued, 2)
    // Units in the room do not hold up the waiters: a big one's end admits the next big one with the small one still in.
    bigOne()
    await waiting
    assert.ok(bigThree !== null)
    assert.equal(limiter.unitsInUse, 33)
    small()
    bigTwo()
    ;(await alsoBig)()
    ;(bigThree as Grant)()
    assert.deepEqual([limiter.unitsInUse, limiter.numRunning, limiter.numQueued], [0, 0, 0])
    // Without a room (body bytes) the queue stays strictly first come first served.
    const fifo = new RequestLimiter(32, 8)
    const held = await fifo.acquire(never, 32)
    const queued = fifo.acquire(never, 1)
    await tick()
    assert.equal(fifo.numQueued, 1)
    held()
    ;(await queued)()
  })
})
