// The server's request limiter: a fixed number run, waiters are served in order, a full queue is refused, a leaving waiter frees its place.
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
})
