// The step watchdog: idle steps with work queued and hung steps make the engine unhealthy; /health turns that into a 503.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {StepWatchdog} from '../src/engine/step-watchdog.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {FakeEngine} from './support/fake-engine.js'

function watchdog(maxIdleSteps = 3, maxStepSeconds = 10) {
  const clock = {now: 0}
  const logs: string[] = []
  const dog = new StepWatchdog({maxIdleSteps, maxStepSeconds, log: (line) => logs.push(line), now: () => clock.now})
  return {dog, clock, logs}
}

const queued = {waiting: 2, running: 1, swapped: 0}
const idle = {waiting: 0, running: 0, swapped: 0}

describe('StepWatchdog', () => {
  it('trips after maxIdleSteps idle steps with work queued, and clears on progress', () => {
    const {dog, logs} = watchdog(3)
    assert.equal(dog.stepEnded(false, queued), null)
    assert.equal(dog.stepEnded(true, queued), null, 'progress resets the count')
    assert.equal(dog.stepEnded(false, queued), null)
    assert.equal(dog.stepEnded(false, queued), null)
    const reason = dog.stepEnded(false, queued)
    assert.match(reason ?? '', /3 steps in a row that scheduled nothing while 2 waiting, 1 running and 0 swapped/)
    assert.deepEqual(dog.health(), {healthy: false, reason})
    assert.match(logs.join('\n'), /engine watchdog: the step loop ran 3 steps/)
    dog.stepEnded(true, queued)
    assert.deepEqual(dog.health(), {healthy: true})
    assert.match(logs.at(-1)!, /healthy/)
  })

  it('does not count idle steps with nothing queued', () => {
    const {dog} = watchdog(2)
    for (let i = 0; i < 10; i++) assert.equal(dog.stepEnded(false, idle), null)
    assert.deepEqual(dog.health(), {healthy: true})
  })

  it('reports a step running past maxStepSeconds, once in the log', () => {
    const {dog, clock, logs} = watchdog(3, 10)
    dog.stepStarted()
    clock.now = 9
    assert.deepEqual(dog.health(), {healthy: true})
    clock.now = 42
    const health = dog.health()
    assert.equal(health.healthy, false)
    assert.match(health.healthy ? '' : health.reason, /a model step has been running for 42 s \(limit 10 s\)/)
    dog.health()
    assert.equal(logs.length, 1)
    dog.stepEnded(true, queued)
    assert.deepEqual(dog.health(), {healthy: true})
  })
})

describe('GET /health', () => {
  const servers: ApiServer[] = []
  after(async () => {
    for (const server of servers) await server.shutdown(0)
  })

  it('answers 503 with the reason while the engine is unhealthy', async () => {
    const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: '0', log: () => {}})
    servers.push(server)
    const {url} = await server.listen()
    const engine = new FakeEngine()
    server.attachEngine(engine)
    assert.equal((await fetch(`${url}/health`)).status, 200)
    engine.currentHealth = {healthy: false, reason: 'the step loop is stuck'}
    const response = await fetch(`${url}/health`)
    assert.equal(response.status, 503)
    assert.deepEqual(await response.json(), {status: 'unhealthy', message: 'the step loop is stuck'})
    engine.currentHealth = {healthy: true}
    assert.equal((await fetch(`${url}/health`)).status, 200)
  })
})
