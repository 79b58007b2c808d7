// The hooks every Hub test suite shares: one fake Hub and the tiny checkpoint's files per suite, a fresh isolated
// Hugging Face environment (home, cache) per test.
import {join} from 'node:path'
import {after, afterEach, before, beforeEach} from 'node:test'
import {FakeHub} from './fake-hub.js'
import {isolatedHubEnvironment, tinyCheckpointFiles} from './hub-checkpoints.js'

export type IsolatedHubEnvironment = Awaited<ReturnType<typeof isolatedHubEnvironment>>

/** Call inside a describe; the callbacks hand the suite's and each test's state to the test file's variables. */
export function useHubSuite(
  onSuite: (state: {hub: FakeHub; tiny: Record<string, Buffer>}) => void,
  onTest: (state: {environment: IsolatedHubEnvironment; cacheDir: string}) => void,
): void {
  let hub: FakeHub | undefined
  let environment: IsolatedHubEnvironment | undefined
  before(async () => {
    hub = await FakeHub.start()
    onSuite({hub, tiny: await tinyCheckpointFiles()})
  })
  after(async () => hub?.close())
  beforeEach(async () => {
    environment = await isolatedHubEnvironment()
    onTest({environment, cacheDir: join(environment.home, 'hub')})
  })
  afterEach(async () => environment?.restore())
}
