// The float64 reference forward reproduces the built-in tinychat's reference.json and is self-consistent under chunking and KV caching.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ReferenceModel, argmax, ropeInverseFrequencies} from './support/reference-model.js'
import {relativeError} from './support/relative-error.js'
import {TINYCHAT_DIR, tinychatReference} from './support/tinychat.js'

describe('reference model on the built-in tinychat (bf16 weights)', () => {
  let model: ReferenceModel
  before(async () => {
    model = await ReferenceModel.load(TINYCHAT_DIR)
  })

  it('matches reference.json: top-10 last-position logits within 1e-9 and 32 greedy ids for all 6 prompts', () => {
    const reference = tinychatReference()
    for (const prompt of reference.prompts) {
      const sequence = model.newSequence()
      const logits = sequence.append(prompt.prompt_token_ids)[0]
      const top = prompt.last_position_top10
      const ours = top.ids.map((id) => logits[id])
      assert.ok(relativeError(ours, top.logits) < 1e-9, `top-10 logits of a ${prompt.prompt_token_ids.length}-token prompt`)
      assert.equal(argmax(logits), top.ids[0])
      assert.deepEqual(model.continueGreedy(sequence, logits, reference.max_new_tokens), prompt.greedy_token_ids)
    }
  })
})

describe('reference model self-consistency (tiny test models)', () => {
  const prompt = [1, 77, 333, 116, 280, 275, 113, 105, 49, 261, 109, 269, 300, 12, 400, 401, 7]

  for (const variant of ['llama', 'qwen2', 'llama3', 'qwen3'] as const) {
    it(`${variant}: chunked prefill and token-by-token decoding equal one full forward`, async () => {
      const model = await ReferenceModel.load(await ensureTestModel('tiny', {variant}))
      const full = model.logits(prompt)
      const chunked = model.newSequence()
      const pieces = [...chunked.append(prompt.slice(0, 5), 'all'), ...chunked.append(prompt.slice(5, 6), 'all'), ...chunked.append(prompt.slice(6), 'all')]
      for (let t = 0; t < prompt.length; t++) assert.ok(relativeError(pieces[t], full[t]) < 1e-12, `position ${t}`)
      assert.ok(relativeError(model.nextLogits(prompt.slice(0, 9)), full[8]) < 1e-12)
    })
  }

  it('random test models give varied, order-one logits (std 1-5, argmax not constant)', async () => {
    const model = await ReferenceModel.load(await ensureTestModel('tiny'))
    const rows = model.logits(prompt)
    for (const row of rows) {
      const mean = row.reduce((a, b) => a + b, 0) / row.length
      const std = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length)
      assert.ok(std > 1 && std < 5, `logit std ${std}`)
    }
    assert.ok(new Set(rows.map(argmax)).size > prompt.length / 2)
    assert.ok(new Set(model.greedy(prompt, 16)).size > 4, 'greedy decoding does not collapse to one token')
  })

  it('llama3 rope scaling keeps high frequencies, divides low ones by the factor and blends the band between', () => {
    const plain = ropeInverseFrequencies(16, 500000, {type: 'none'})
    const scaled = ropeInverseFrequencies(16, 500000, {type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 64})
    assert.equal(scaled[0], plain[0]) // wavelength 2*pi < 64/4: unchanged
    assert.equal(scaled[7], plain[7] / 8) // wavelength far above 64: divided by the factor
    const band = [...scaled.keys()].filter((i) => scaled[i] !== plain[i] && scaled[i] !== plain[i] / 8)
    assert.ok(band.length > 0, 'some frequencies fall in the blended band')
    for (const i of band) assert.ok(scaled[i] < plain[i] && scaled[i] > plain[i] / 8, `frequency ${i}`)
    const linear = ropeInverseFrequencies(16, 10000, {type: 'linear', factor: 4})
    assert.equal(linear[3], ropeInverseFrequencies(16, 10000, {type: 'none'})[3] / 4)
  })
})
