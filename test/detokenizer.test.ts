// Incremental detokenizer on generated Llama 2 (byte fallback) and Qwen2 (byte-level) tokenizers: split characters, final flush.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {IncrementalDetokenizer} from '../src/engine/detokenizer.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig, type TokenizerFamily} from '../src/engine/model/tokenizer-families.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'

function familyTokenizer(family: TokenizerFamily): Tokenizer {
  return new Tokenizer(family.buildTokenizerJson(512, 0), buildTokenizerConfig(family, 512))
}

const byteFallback = familyTokenizer(TOKENIZER_FAMILIES.llama2)
const byteLevel = familyTokenizer(TOKENIZER_FAMILIES.qwen2)
const BOS = 1
const EOS = 2 // </s>

/** Streams `output` one token at a time and returns the deltas. */
function stream(tokenizer: Tokenizer, prompt: number[], output: number[], skipSpecialTokens = true): {deltas: string[]; detokenizer: IncrementalDetokenizer} {
  const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens})
  return {deltas: output.map((token) => detokenizer.push([token])), detokenizer}
}

/** The text the output adds to the prompt when both are decoded together: what a client expects to see. */
function outputTextOf(tokenizer: Tokenizer, prompt: number[], output: number[]): string {
  const skip = {skipSpecialTokens: true}
  return tokenizer.decode([...prompt, ...output], skip).slice(tokenizer.decode(prompt, skip).length)
}

describe('IncrementalDetokenizer (byte fallback, Llama 2 style)', () => {
  const encode = (text: string) => byteFallback.encode(text, {addSpecialTokens: false})
  const prompt = [BOS, ...encode('Tell me something:')]
  const answer = ' Hello 🌍 世界! 😀😀 naïve end'
  const output = encode(answer)

  it('streams text that adds up to the full decode, never emitting a broken character', () => {
    const {deltas, detokenizer} = stream(byteFallback, prompt, output)
    const expected = outputTextOf(byteFallback, prompt, output)
    assert.equal(deltas.join(''), expected)
    assert.equal(detokenizer.text, expected)
    for (const delta of deltas) assert.ok(!delta.includes('\uFFFD'), `delta ${JSON.stringify(delta)} holds a broken character`)
    assert.ok(deltas.some((delta) => delta.includes('🌍')))
  })

  it('holds back the bytes of an emoji until its last byte arrives', () => {
    const emoji = encode('😀').filter((token) => byteFallback.idToToken(token)!.startsWith('<0x'))
    assert.equal(emoji.length, 4, 'the emoji should be four byte-fallback tokens')
    const detokenizer = new IncrementalDetokenizer(byteFallback, prompt, {skipSpecialTokens: true})
    assert.deepEqual(emoji.slice(0, 3).map((token) => detokenizer.push([token])), ['', '', ''])
    assert.equal(detokenizer.push([emoji[3]!]), '😀')
    assert.equal(detokenizer.flush(), '', 'nothing is left to flush once the character completed')
  })

  it('flushes an unfinished character as the decoder renders it, so the text equals the decode of the ids', () => {
    const bytesOf = (char: string) => encode(char).filter((token) => byteFallback.idToToken(token)!.startsWith('<0x'))
    for (const [char, cut] of [['世', 1], ['世', 2], ['😀', 3]] as const) {
      const truncated = [...encode(' ok 😀'), ...bytesOf(char).slice(0, cut)]
      const {deltas, detokenizer} = stream(byteFallback, prompt, truncated)
      const expected = outputTextOf(byteFallback, prompt, truncated)
      assert.ok(expected.endsWith('\uFFFD'), 'the decode shows the broken character')
      assert.ok(detokenizer.text.length < expected.length, 'the held-back bytes are missing before the flush')
      const flushed = detokenizer.flush()
      assert.equal(deltas.join('') + flushed, expected)
      assert.equal(detokenizer.text, expected)
    }
  })

  it('gives the same text when tokens arrive in batches', () => {
    const detokenizer = new IncrementalDetokenizer(byteFallback, prompt, {skipSpecialTokens: true})
    const batched = [output.slice(0, 3), output.slice(3, 4), output.slice(4, 11), output.slice(11)].map((batch) => detokenizer.push(batch))
    assert.equal(batched.join(''), stream(byteFallback, prompt, output).detokenizer.text)
  })

  it('keeps the space before the first output word (prompt tokens give context)', () => {
    // encode('world') is '▁world' pieces (the pre-tokenizer prepends ▁); decoded alone the Llama decoder drops the space.
    const {deltas} = stream(byteFallback, encode('Hello'), encode('world'))
    assert.equal(deltas.join(''), ' world')
  })

  it('skips special tokens only when asked', () => {
    assert.equal(stream(byteFallback, prompt, [...encode('ok'), EOS], true).detokenizer.text, ' ok')
    assert.equal(stream(byteFallback, prompt, [...encode('ok'), EOS], false).detokenizer.text, ' ok</s>')
  })

  it('starts cleanly from an empty prompt', () => {
    const {detokenizer} = stream(byteFallback, [], encode('Hi 世界'))
    assert.equal(detokenizer.text, 'Hi 世界')
  })
})

describe('IncrementalDetokenizer (byte-level, Qwen2 style)', () => {
  const encode = (text: string) => byteLevel.encode(text, {addSpecialTokens: false})
  const prompt = encode('Say hi:')

  it('holds back a split character and flushes U+FFFD for one that never completes', () => {
    const complete = encode(' hi 🌍')
    const {deltas} = stream(byteLevel, prompt, complete)
    assert.equal(deltas.join(''), ' hi 🌍')
    assert.ok(deltas.every((delta) => !delta.includes('\uFFFD')))
    const broken = [...encode(' hi'), ...encode('🌍').slice(0, -1)]
    assert.ok(broken.length > encode(' hi').length + 1, 'the emoji should span several byte-level tokens')
    const cut = stream(byteLevel, prompt, broken)
    assert.equal(cut.detokenizer.text, ' hi')
    const flushed = cut.detokenizer.flush()
    assert.equal(cut.deltas.join('') + flushed, byteLevel.decode(broken))
    assert.equal(cut.detokenizer.text, byteLevel.decode(broken))
    assert.ok(flushed.includes('\uFFFD'))
  })
})

describe('a prompt (given as ids) that ends inside a character', () => {
  const lonePart = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
  for (const [name, tokenizer] of [['byte fallback', byteFallback], ['byte-level', byteLevel]] as const) {
    it(`${name}: output bytes that complete it never stream half a UTF-16 pair, and decode as the output ids do`, () => {
      const ids = tokenizer.encode('x\u{1F600}y', {addSpecialTokens: false})
      const emoji = ids.findIndex((_, i) => tokenizer.decode(ids.slice(0, i + 1)).endsWith('\uFFFD'))
      for (let cut = emoji + 1; cut < ids.length - 1; cut++) {
        const {deltas, detokenizer} = stream(tokenizer, ids.slice(0, cut), ids.slice(cut))
        deltas.push(detokenizer.flush())
        assert.ok(deltas.every((delta) => !lonePart.test(delta)), `cut ${cut}: ${JSON.stringify(deltas)}`)
        assert.equal(deltas.join(''), tokenizer.decode(ids.slice(cut), {skipSpecialTokens: true}), `cut ${cut}`)
      }
    })
  }
})

describe('final text of a generation', () => {
  /**
   * Samples many short completions from a random test model (whose vocabulary is a quarter byte tokens), so some end
   * inside a character; every one finished by length or EOS must carry the text its ids decode to.
   */
  async function checkFinalTexts(variant: TestModelVariant, expectedText: (tokenizer: Tokenizer, prompt: number[], ids: number[]) => string): Promise<void> {
    const modelDir = await ensureTestModel('tiny', {variant})
    const tokenizer = Tokenizer.load(modelDir)
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 8 << 20, threads: 1}))
    try {
      const prompt = tokenizer.encode('The capital of France is')
      // Streamed as a server streams: each snapshot's text beyond what was already sent is the next delta.
      const streams = Array.from({length: 24}, async (_, seed) => {
        const handle = engine.addRequest({prompt, params: makeSamplingParams({temperature: 1.5, maxTokens: 3 + (seed % 5), seed})})
        let streamed = ''
        let last = null
        for await (const snapshot of handle) {
          streamed += snapshot.outputs[0]!.text.slice(streamed.length)
          last = snapshot.outputs[0]!
        }
        return {streamed, output: last!}
      })
      let endedMidCharacter = 0
      for (const {streamed, output} of await Promise.all(streams)) {
        assert.notEqual(output.finishReason, null)
        const expected = expectedText(tokenizer, prompt, output.tokenIds)
        assert.equal(output.text, expected, `ids ${output.tokenIds.join(',')}`)
        assert.equal(streamed, expected, 'the streamed deltas add up to the final text')
        if (expected.endsWith('\uFFFD')) endedMidCharacter++
      }
      assert.ok(endedMidCharacter > 0, 'some completions should end inside a character, or this test proves nothing')
    } finally {
      await engine.shutdown()
    }
  }

  it('equals the decode of the returned ids with a byte-fallback vocabulary (Llama 2)', async () => {
    await checkFinalTexts('llama', outputTextOf)
  })

  it('equals the decode of the returned ids with a byte-level vocabulary (Qwen2)', async () => {
    await checkFinalTexts('qwen2', (tokenizer, _prompt, ids) => tokenizer.decode(ids, {skipSpecialTokens: true}))
  })

  it('stops on a stop string inside the text held back for an incomplete character, released when the sequence ends', async () => {
    const modelDir = await ensureTestModel('tiny', {variant: 'gpt2'})
    const tokenizer = Tokenizer.load(modelDir)
    // A token of ASCII then the lead byte of a multi-byte character: its whole text waits for a character that never comes.
    const held = [...Array(tokenizer.vocabSize).keys()].find((id) => {
      const bytes = tokenizer.tokenBytes(id)
      return bytes.length >= 3 && bytes.subarray(0, -1).every((byte) => byte >= 0x21 && byte < 0x7f) && bytes.at(-1)! >= 0xc2 && bytes.at(-1)! <= 0xf4
    })
    assert.ok(held !== undefined, 'the GPT-2 test vocabulary has a token ending in a lead byte')
    const stop = String.fromCharCode(tokenizer.tokenBytes(held).at(-2)!) // not at the start: the cut keeps the text before it
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 8 << 20, threads: 1}))
    try {
      const prompt = tokenizer.encode('The capital of France is')
      const run = async (params: Partial<SamplingParams>) =>
        (await engine.addRequest({prompt, params: makeSamplingParams({allowedTokenIds: [held], maxTokens: 1, ...params})}).result()).outputs[0]!
      const plain = await run({})
      assert.equal(plain.finishReason, 'length')
      assert.ok(plain.text.includes(stop) && plain.text.endsWith('\uFFFD'), `without stop strings the held text is released: ${JSON.stringify(plain.text)}`)
      const stopped = await run({stop: [stop]})
      assert.equal(stopped.finishReason, 'stop')
      assert.equal(stopped.stopReason, stop)
      assert.equal(stopped.text, plain.text.slice(0, plain.text.indexOf(stop)))
      const kept = await run({stop: [stop], includeStopStrInOutput: true})
      assert.equal(kept.text, plain.text.slice(0, plain.text.indexOf(stop) + stop.length))
    } finally {
      await engine.shutdown()
    }
  })
})

describe('clean_up_tokenization_spaces', () => {
  const family = TOKENIZER_FAMILIES.llama3
  const json = family.buildTokenizerJson(512, 0)
  const {clean_up_tokenization_spaces: _flag, ...withoutFlag} = buildTokenizerConfig(family, 512)
  const words = [' Hello', ' ,', ' world', ' .', " 's", " n't", ' !']

  it('never takes back streamed text: " ," stays as generated even when the config asks for clean-up (as vLLM streams)', () => {
    const tokenizer = new Tokenizer(json, {...withoutFlag, clean_up_tokenization_spaces: true})
    const output = words.flatMap((word) => tokenizer.encode(word, {addSpecialTokens: false}))
    const {deltas, detokenizer} = stream(tokenizer, tokenizer.encode('Say:', {addSpecialTokens: false}), output)
    assert.equal(deltas.join('') + detokenizer.flush(), words.join(''))
    assert.equal(tokenizer.decode(output), ' Hello, world.\'sn\'t!', 'a whole-text decode still cleans up as configured')
  })

  it('is off when tokenizer_config.json does not say (transformers\' default), and for GGUF vocabularies', () => {
    const tokenizer = new Tokenizer(json, withoutFlag)
    assert.equal(tokenizer.decode(tokenizer.encode(' a , b .', {addSpecialTokens: false})), ' a , b .')
  })
})

describe('ids that decode to nothing stay out of the decode window', () => {
  const encode = (text: string) => byteFallback.encode(text, {addSpecialTokens: false})
  const prompt = [BOS, ...encode('Go:')]
  const UNKNOWN = 100_000 // past the 512-token vocabulary: decodes to nothing, as in HF
  /** The tokenizer, counting the ids each push decodes. */
  function counting() {
    const decoded: number[] = []
    const tokenizer = {
      decode: (ids: number[], opts: {skipSpecialTokens?: boolean; cleanUpSpaces?: boolean}) => {
        decoded[decoded.length - 1]! += ids.length
        return byteFallback.decode(ids, opts)
      },
      specialTokenIds: byteFallback.specialTokenIds,
      hasToken: (id: number) => byteFallback.hasToken(id),
    }
    return {tokenizer, decoded, nextPush: () => decoded.push(0)}
  }

  it('a long run of skipped EOS and unknown ids decodes no more per token than a short one, and changes no text', () => {
    const {tokenizer, decoded, nextPush} = counting()
    const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens: true})
    // A character split across byte tokens is pending while the run goes by: the run must not disturb it.
    const emoji = encode('😀')
    assert.ok(emoji.length > 1, 'the emoji should span several byte-fallback tokens')
    const run = Array.from({length: 32_000}, (_, i) => (i % 3 === 0 ? UNKNOWN : EOS))
    const output = [...encode('Hi'), ...emoji.slice(0, -1), ...run, emoji[emoji.length - 1]!, ...encode(' there')]
    const deltas = output.map((id) => {
      nextPush()
      return detokenizer.push([id])
    })
    const text = deltas.join('') + detokenizer.flush()
    assert.equal(text, outputTextOf(byteFallback, prompt, output.filter((id) => id !== UNKNOWN)))
    assert.equal(text, ' Hi 😀 there')
    const runStart = encode('Hi').length + emoji.length - 1
    assert.deepEqual(decoded.slice(runStart, runStart + 32_000), Array(32_000).fill(0), 'a skipped id is not decoded at all')
    assert.ok(Math.max(...decoded) <= 2 * (prompt.length + emoji.length + 2), `a push decodes a small window (most: ${Math.max(...decoded)})`)
  })

  it('keeps special tokens in the window when they are shown', () => {
    const {tokenizer} = counting()
    const output = [...encode('ok'), EOS, EOS, ...encode(' go'), UNKNOWN]
    const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens: false})
    const text = output.map((id) => detokenizer.push([id])).join('') + detokenizer.flush()
    assert.equal(text, ' ok</s></s> go')
    assert.equal(text, detokenizer.text)
  })
})
