// The server's request limiter: units of a fixed capacity, waiters served in order without overtaking, a full queue refused, a leaving waiter frees its place.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {UnavailableError} from '../src/engine/errors.js'
import {RequestLimiter} from '../src/server/request-limiter.js'

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
})
