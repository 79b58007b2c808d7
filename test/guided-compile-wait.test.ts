// A grammar compile's own time limit runs from when a worker takes it: one queued behind another compile is not blamed
// for that wait, which is bounded apart (a cap, a 503; or its request's abort).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError, UnavailableError} from '../src/engine/errors.js'
import {compileInWorker} from '../src/engine/guided/compile-in-worker.js'
import {vocabInfoOf} from '../src/engine/guided/grammar-compiler.js'
import {GrammarHost} from '../src/engine/guided/grammar-host.js'
import {GrammarService, MAX_WORKERS} from '../src/engine/guided/grammar-service.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'

/** 200,000 enum values take close to a minute to compile: far past any limit here. */
const huge = (param: string): GuidedSpec => ({kind: 'json', schema: {enum: Array.from({length: 200_000}, (_, i) => `${param} ${i}`)}, anyWhitespace: false, param})
const small: GuidedSpec = {kind: 'regex', pattern: '[a-c]{3}', param: 'guided_regex'}

describe('grammar compiles queued behind others', () => {
  it('each compile fails on its own limit, counted from when its worker took it; one queued behind them compiles in a fresh worker', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const grammars = new GrammarService({tokenizer, vocabSize: tokenizer.vocabSize, eosTokenIds: [4], compileTimeoutMs: 2000})
    try {
      // Every worker busy with a huge compile: the small one queues behind one of them.
      const params = Array.from({length: MAX_WORKERS}, (_, i) => `huge_${i}`)
      const hugeCompiles = params.map((param) => grammars.compile(huge(param)))
      hugeCompiles.forEach((compile) => compile.catch(() => {}))
      const queued = grammars.compile(small)
      // Before, the queued compile's clock ran from its arrival: its limit stopped the worker under the huge one (which
      // got the small one's error), or the huge one's limit failed it.
      await Promise.all(hugeCompiles.map((compile, i) => assert.rejects(compile, (error: Error) => error instanceof InvalidRequestError && error.param === params[i] && /did not compile within 2 s/.test(error.message))))
      await queued
      assert.ok(grammars.isCompiled(small))
    } finally {
      await grammars.close()
    }
  })

  it('a queued compile is dropped at its wait cap (a 503 saying so) or when its client leaves; the compile ahead runs on', async () => {
    const tokenizer = Tokenizer.load(BUILTIN_MODEL_DIR)
    const host = new GrammarHost(vocabInfoOf(tokenizer, tokenizer.vocabSize, [4]), () => {})
    const limits = (waitMs: number) => ({runMs: 60_000, shared: false, startBy: performance.now() + waitMs, waitMs})
    try {
      const running = compileInWorker(host, huge('response_format'), limits(60_000))
      running.catch(() => {})
      const capped = compileInWorker(host, small, limits(300))
      const client = new AbortController()
      const left = compileInWorker(host, small, limits(60_000), client.signal)
      setTimeout(() => client.abort(new Error('the client left')), 300)
      await assert.rejects(capped, (error: Error) => error instanceof UnavailableError && (error as UnavailableError).code === 'grammar_queue_timeout' && /waited 0.3 s for a grammar worker/.test(error.message))
      await assert.rejects(left, /the client left/)
      assert.ok(host.alive, 'the compile ahead was not stopped for them')
      assert.equal(host.compiling, 1)
    } finally {
      await host.close()
    }
  })
})
