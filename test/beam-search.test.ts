// beamSearchStep driven step by step against the independent reference beam search, plus hand-checked single steps.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {beamCandidateCount, beamSearchStep, bestHypotheses, type BeamCandidates, type BeamHypothesis, type BeamState} from '../src/engine/beam-search.js'
import {makeRng} from '../src/engine/random.js'
import {bestFirstIndices, topIndices} from '../src/engine/top-k.js'
import {referenceBeamSearch, type ReferenceBeamSearchOptions} from './support/reference-beam-search.js'

const EOS = 0

/** A bigram language model: a fixed random log-softmax table keyed by the last token. EOS gets a bias so hypotheses finish early and often. */
function bigramModel(vocabSize: number, seed: number, eosBias: number): (tokens: number[]) => Float64Array {
  const rng = makeRng(seed, 0)
  const table = Array.from({length: vocabSize}, () => {
    const logits = Array.from({length: vocabSize}, (_, token) => rng.nextFloat() * 4 + (token === EOS ? eosBias : 0))
    const max = Math.max(...logits)
    const lse = max + Math.log(logits.reduce((sum, x) => sum + Math.exp(x - max), 0))
    return Float64Array.from(logits, (x) => x - lse)
  })
  return (tokens) => table[tokens[tokens.length - 1]!]!
}

/** Runs the engine's step function the way the engine does: the top beamCandidateCount per live beam, forks as new ids. */
function runStepwise(model: (tokens: number[]) => Float64Array, prompt: number[], opts: ReferenceBeamSearchOptions): {outputs: BeamHypothesis[]; steps: number} {
  const endingTokenIds = new Set([...opts.eosTokenIds, ...(opts.stopTokenIds ?? [])])
  const stepOpts = {...opts, endsBeam: (_seqId: number, tokenId: number) => endingTokenIds.has(tokenId), endingTokenCount: endingTokenIds.size, promptLength: prompt.length}
  let nextSeqId = 1
  let state: BeamState = {beams: [{seqId: 0, tokenIds: [], cumulativeLogprob: 0}], finished: []}
  for (let steps = 1; ; steps++) {
    const candidates: BeamCandidates[] = state.beams.map((beam) => {
      const logprobs = model([...prompt, ...beam.tokenIds])
      const order = Array.from(logprobs, (_, token) => token).sort((a, b) => logprobs[b]! - logprobs[a]! || a - b)
      const top = order.slice(0, beamCandidateCount(opts.beamWidth, endingTokenIds.size))
      return {seqId: beam.seqId, tokenIds: top, logprobs: top.map((token) => logprobs[token]!)}
    })
    const result = beamSearchStep(state, candidates, stepOpts)
    assert.ok(result.next.length <= opts.beamWidth && result.finished.length <= opts.beamWidth)
    if (result.done) return {outputs: bestHypotheses(result.finished, opts.n), steps}
    const parents = new Map(state.beams.map((beam) => [beam.seqId, beam]))
    state = {
      beams: result.next.map((choice) => ({
        seqId: nextSeqId++,
        tokenIds: [...parents.get(choice.parentSeqId)!.tokenIds, choice.tokenId],
        cumulativeLogprob: choice.cumulativeLogprob,
      })),
      finished: result.finished,
    }
  }
}

describe('beamSearchStep against the reference beam search', () => {
  for (const beamWidth of [2, 3, 5]) {
    for (const lengthPenalty of [0, 1, 2]) {
      for (const earlyStopping of [true, false, 'never'] as const) {
        it(`width ${beamWidth}, length penalty ${lengthPenalty}, early stopping ${earlyStopping}`, () => {
          for (let seed = 0; seed < 6; seed++) {
            const model = bigramModel(9, 1000 * beamWidth + seed, seed % 3)
            const opts = {beamWidth, n: Math.min(2, beamWidth), lengthPenalty, earlyStopping, eosTokenIds: [EOS], maxTokens: 7}
            const prompt = [1 + (seed % 8)]
            const expected = referenceBeamSearch(model, prompt, opts)
            const {outputs} = runStepwise(model, prompt, opts)
            assert.deepEqual(outputs.map((o) => o.tokenIds), expected.map((o) => o.tokenIds), `seed ${seed}`)
            outputs.forEach((output, i) => {
              assert.ok(Math.abs(output.cumulativeLogprob - expected[i]!.cumulativeLogprob) < 1e-9)
              assert.ok(Math.abs(output.score - expected[i]!.score) < 1e-9)
            })
          }
        })
      }
    }
  }

  it('three ending ids (EOS and two stop tokens) that often end more than width of the best 2 x width candidates', () => {
    const stopTokenIds = [5, 7]
    let changed = 0
    for (let seed = 0; seed < 12; seed++) {
      const plain = bigramModel(9, 500 + seed, 2)
      // The stop tokens as favoured as EOS, so all three often rank first on every beam.
      const model = (tokens: number[]) => plain(tokens).map((logprob, token) => logprob + (stopTokenIds.includes(token) ? 2 : 0))
      const opts = {beamWidth: 2, n: 2, lengthPenalty: 2, earlyStopping: 'never' as const, eosTokenIds: [EOS], stopTokenIds, maxTokens: 6}
      const prompt = [1 + (seed % 8)]
      const expected = referenceBeamSearch(model, prompt, opts)
      assert.deepEqual(runStepwise(model, prompt, opts).outputs.map((o) => o.tokenIds), expected.map((o) => o.tokenIds), `seed ${seed}`)
      // The stop tokens given as endsAt are not counted: the reference then walks only 2 x width.
      const twoByWidth = referenceBeamSearch(model, prompt, {...opts, stopTokenIds: [], endsAt: (output) => stopTokenIds.includes(output[output.length - 1]!)})
      if (JSON.stringify(twoByWidth.map((o) => o.tokenIds)) !== JSON.stringify(expected.map((o) => o.tokenIds))) changed++
    }
    assert.ok(changed > 0, 'the wider walk changes some searches')
  })

  it('early stopping ends no later than the heuristic, and sometimes earlier', () => {
    let earlier = 0
    for (let seed = 0; seed < 20; seed++) {
      const model = bigramModel(9, 77 + seed, 1)
      const opts = {beamWidth: 3, n: 1, lengthPenalty: 1, eosTokenIds: [EOS], maxTokens: 12}
      const eager = runStepwise(model, [2], {...opts, earlyStopping: true}).steps
      const patient = runStepwise(model, [2], {...opts, earlyStopping: false}).steps
      assert.ok(eager <= patient)
      if (eager < patient) earlier++
    }
    assert.ok(earlier > 0)
  })
})

describe('beamSearchStep single steps', () => {
  const opts = {beamWidth: 2, lengthPenalty: 1, earlyStopping: false, endsBeam: (_seqId: number, tokenId: number) => tokenId === EOS, endingTokenCount: 1, maxTokens: 10}
  const start: BeamState = {beams: [{seqId: 7, tokenIds: [5], cumulativeLogprob: -1}], finished: []}

  it('an EOS ranked beyond the width is not a hypothesis; the rest continue in rank order', () => {
    const result = beamSearchStep(start, [{seqId: 7, tokenIds: [1, 2, EOS, 3], logprobs: [-0.1, -0.2, -0.3, -0.4]}], opts)
    assert.deepEqual(result.finished, [])
    assert.deepEqual(result.next, [
      {parentSeqId: 7, tokenId: 1, cumulativeLogprob: -1.1},
      {parentSeqId: 7, tokenId: 2, cumulativeLogprob: -1.2},
    ])
    assert.equal(result.done, false)
  })

  it('with three ending ids, max(2, 1 + 3) x width candidates are walked so width beams continue', () => {
    const [STOP_A, STOP_B] = [8, 9]
    const endsBeam = (_seqId: number, tokenId: number) => [EOS, STOP_A, STOP_B].includes(tokenId)
    const state: BeamState = {beams: [{seqId: 1, tokenIds: [4], cumulativeLogprob: -0.1}, {seqId: 2, tokenIds: [3], cumulativeLogprob: -0.2}], finished: []}
    const candidates = [
      {seqId: 1, tokenIds: [EOS, STOP_A, STOP_B, 6], logprobs: [-0.1, -0.2, -0.3, -2]},
      {seqId: 2, tokenIds: [STOP_A, EOS, 6, 7], logprobs: [-0.1, -0.2, -0.3, -0.4]},
    ]
    // Ranked: 1+EOS, 1+A, 2+A, 1+B, 2+EOS, 2+6 (-0.5), 2+7 (-0.6), 1+6. All of the best 2 x width = 4 end their beams;
    // transformers (eos_token_id of three ids) walks 8, so 2+6 and 2+7 continue. The first two ranks are hypotheses.
    // "never" keeps the search going: the live -0.5 over maxTokens 10 may still beat the worst hypothesis, -0.3 / 2.
    const result = beamSearchStep(state, candidates, {...opts, earlyStopping: 'never', endsBeam, endingTokenCount: 3})
    assert.deepEqual(result.finished.map((hypothesis) => hypothesis.tokenIds), [[4, EOS], [4, STOP_A]])
    assert.deepEqual(result.next.map((choice) => [choice.parentSeqId, choice.tokenId]), [[2, 6], [2, 7]])
    assert.equal(beamCandidateCount(2, 3), 8)
    assert.equal(beamCandidateCount(2, 0), 4)
  })

  it('an EOS within the width becomes a hypothesis scored over the output length including EOS', () => {
    const result = beamSearchStep(start, [{seqId: 7, tokenIds: [EOS, 1, 2], logprobs: [-0.5, -0.6, -0.7]}], {...opts, lengthPenalty: 2})
    assert.deepEqual(result.finished, [{parentSeqId: 7, tokenIds: [5, EOS], cumulativeLogprob: -1.5, score: -1.5 / 4}])
    assert.deepEqual(result.next.map((choice) => choice.tokenId), [1, 2])
  })

  it('candidates of all beams compete; one parent may fill every slot', () => {
    const state: BeamState = {
      beams: [
        {seqId: 1, tokenIds: [4], cumulativeLogprob: -0.1},
        {seqId: 2, tokenIds: [3], cumulativeLogprob: -3},
      ],
      finished: [],
    }
    const result = beamSearchStep(
      state,
      [
        {seqId: 1, tokenIds: [6, 7], logprobs: [-0.2, -0.3]},
        {seqId: 2, tokenIds: [6, 8], logprobs: [-0.01, -0.02]},
      ],
      opts,
    )
    assert.deepEqual(result.next.map((choice) => [choice.parentSeqId, choice.tokenId]), [[1, 6], [1, 7]])
  })

  it('early stopping is done once width hypotheses exist; the heuristic waits while a live beam could still win', () => {
    const finished: BeamHypothesis[] = [{parentSeqId: 0, tokenIds: [9, EOS], cumulativeLogprob: -4, score: -2}]
    const state: BeamState = {beams: [{seqId: 1, tokenIds: [4, 4], cumulativeLogprob: -1}], finished}
    const candidates = [{seqId: 1, tokenIds: [EOS, 2, 3], logprobs: [-3, -0.5, -0.6]}]
    // Ranked: 2 (-1.5), 3 (-1.6), EOS (-4, rank 2: skipped). One hypothesis, width 2: never done by hypotheses.
    assert.equal(beamSearchStep(state, candidates, {...opts, earlyStopping: true}).done, false)
    const twoFinished = [...finished, {parentSeqId: 0, tokenIds: [8, EOS], cumulativeLogprob: -5, score: -2.5}]
    assert.equal(beamSearchStep({...state, finished: twoFinished}, candidates, {...opts, earlyStopping: true}).done, true)
    // Heuristic: best candidate -1.5 at length 3 scores -0.5 > worst finished -2.5: not done.
    assert.equal(beamSearchStep({...state, finished: twoFinished}, candidates, opts).done, false)
    // With worst finished at -0.4 >= -0.5 it is done, and the live beams are dropped.
    const strong = [{parentSeqId: 0, tokenIds: [1, EOS], cumulativeLogprob: -0.6, score: -0.3}, {parentSeqId: 0, tokenIds: [2, EOS], cumulativeLogprob: -0.8, score: -0.4}]
    const done = beamSearchStep({...state, finished: strong}, candidates, opts)
    assert.equal(done.done, true)
    assert.deepEqual(done.next, [])
    assert.deepEqual(done.finished, strong)
  })

  it('at maxTokens the live beams become hypotheses, the best width kept', () => {
    const result = beamSearchStep(start, [{seqId: 7, tokenIds: [1, 2, 3], logprobs: [-0.1, -0.2, -0.3]}], {...opts, maxTokens: 2})
    assert.equal(result.done, true)
    assert.deepEqual(result.finished.map((hypothesis) => hypothesis.tokenIds), [[5, 1], [5, 2]])
    assert.ok(Math.abs(result.finished[0]!.score - -1.1 / 2) < 1e-12)
  })

  it('a better hypothesis replaces the worst when width are held', () => {
    const held: BeamHypothesis[] = [
      {parentSeqId: 0, tokenIds: [1, EOS], cumulativeLogprob: -2, score: -1},
      {parentSeqId: 0, tokenIds: [2, EOS], cumulativeLogprob: -6, score: -3},
    ]
    const state: BeamState = {beams: [{seqId: 1, tokenIds: [4], cumulativeLogprob: -1}], finished: held}
    const result = beamSearchStep(state, [{seqId: 1, tokenIds: [EOS, 2], logprobs: [-1, -9]}], {...opts, lengthPenalty: 1})
    // New hypothesis [4, EOS]: -2 / 2 = -1 beats -3, which leaves.
    assert.deepEqual(result.finished.map((hypothesis) => hypothesis.tokenIds), [[1, EOS], [4, EOS]])
    assert.deepEqual(bestHypotheses(result.finished, 1)[0]!.tokenIds, [1, EOS]) // tie at -1: the first found wins
  })

  it('at maxTokens only live beams within the first width ranks become hypotheses (HF: every candidate then ends)', () => {
    const result = beamSearchStep(start, [{seqId: 7, tokenIds: [EOS, 1, 2], logprobs: [-0.1, -0.2, -0.3]}], {...opts, maxTokens: 2})
    assert.deepEqual(result.finished.map((hypothesis) => hypothesis.tokenIds), [[5, EOS], [5, 1]])
  })

  it('endsBeam decides per beam: a token that ends one beam (a stop string in its text) continues another', () => {
    const state: BeamState = {beams: [{seqId: 1, tokenIds: [4], cumulativeLogprob: -0.1}, {seqId: 2, tokenIds: [3], cumulativeLogprob: -0.2}], finished: []}
    const endsBeam = (seqId: number, tokenId: number) => seqId === 1 && tokenId === 6
    const result = beamSearchStep(state, [{seqId: 1, tokenIds: [6], logprobs: [-0.1]}, {seqId: 2, tokenIds: [6, 7], logprobs: [-0.1, -0.2]}], {...opts, endsBeam})
    assert.deepEqual(result.finished.map((hypothesis) => [hypothesis.parentSeqId, hypothesis.tokenIds]), [[1, [4, 6]]])
    assert.deepEqual(result.next.map((choice) => [choice.parentSeqId, choice.tokenId]), [[2, 6], [2, 7]])
  })

  it('every candidate ends its beam: done, the first width ranks held (transformers stops when all beams_to_keep end)', () => {
    const endsBeam = () => true
    const result = beamSearchStep(start, [{seqId: 7, tokenIds: [EOS, 1, 2], logprobs: [-0.1, -0.2, -0.3]}], {...opts, endsBeam})
    assert.deepEqual(result.finished.map((hypothesis) => hypothesis.tokenIds), [[5, EOS], [5, 1]])
    assert.deepEqual(result.next, [])
    assert.equal(result.done, true)
  })

  it('a beam whose listed candidates all end while it has more (stop strings): the walk asks for more, deciding nothing', () => {
    const endsBeam = (_seqId: number, tokenId: number) => tokenId !== 3
    const listed = {seqId: 7, tokenIds: [EOS, 1, 2], logprobs: [-0.1, -0.2, -0.3]}
    const asks = beamSearchStep(start, [{...listed, more: true}], {...opts, endsBeam})
    assert.deepEqual(asks, {next: [], finished: [], done: false, needsMore: 7})
    // With the beam's next candidates listed the walk goes on to them ("never": the live beam may still win); a
    // complete list ends the walk where it ends.
    const walked = beamSearchStep(start, [{seqId: 7, tokenIds: [EOS, 1, 2, 3, 4], logprobs: [-0.1, -0.2, -0.3, -0.4, -0.5]}], {...opts, earlyStopping: 'never', endsBeam})
    assert.deepEqual(walked.next.map((choice) => choice.tokenId), [3])
    assert.deepEqual(beamSearchStep(start, [listed], {...opts, endsBeam}).next, [])
  })

  it('rejects candidates of a sequence that is not a live beam', () => {
    assert.throws(() => beamSearchStep(start, [{seqId: 99, tokenIds: [1], logprobs: [-1]}], opts), /not a live beam/)
  })
})

describe('bestFirstIndices (the candidate walk)', () => {
  it('yields every non-NaN index in topIndices order: value, then order, ties and NaN included', () => {
    const rng = makeRng(11, 0)
    for (const size of [0, 1, 2, 7, 100, 1000]) {
      // Few distinct values, so ties are common and the order decides.
      const values = Float64Array.from({length: size}, () => (rng.nextFloat() < 0.1 ? Number.NaN : Math.floor(rng.nextFloat() * 8)))
      const order = Float64Array.from({length: size}, () => Math.floor(rng.nextFloat() * 2 ** 40))
      assert.deepEqual([...bestFirstIndices(values, order)], [...topIndices(values, size, order)])
    }
  })
})
