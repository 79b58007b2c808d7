// Tokenizer: tinychat prompt ids match reference.json exactly; the generated family tokenizers round-trip, cover their vocab and split as their families do.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig, type TokenizerFamily} from '../src/engine/model/tokenizer-families.js'
import {TINYCHAT_DIR, tinychatReference} from './support/tinychat.js'

const LLAMA2 = TOKENIZER_FAMILIES.llama2

describe('tinychat tokenizer (SentencePiece-style BPE with byte fallback)', () => {
  const tokenizer = Tokenizer.load(TINYCHAT_DIR, {extraEosTokenIds: [2, 4]})
  const reference = tinychatReference()

  it('encodes all six reference prompts (text and chat) to exactly the reference ids', () => {
    assert.equal(reference.prompts.length, 6)
    for (const prompt of reference.prompts) {
      if (prompt.kind === 'text') {
        assert.deepEqual(tokenizer.encode(prompt.prompt!), prompt.prompt_token_ids, prompt.prompt!)
      } else {
        assert.equal(tokenizer.applyChatTemplate(prompt.messages!, {addGenerationPrompt: true}), prompt.rendered_prompt)
        assert.deepEqual(tokenizer.encodeChat(prompt.messages!), prompt.prompt_token_ids)
      }
    }
  })

  it('puts exactly one BOS in front of a chat prompt', () => {
    const ids = tokenizer.encodeChat([{role: 'user', content: 'hi'}])
    assert.equal(ids[0], 1)
    assert.notEqual(ids[1], 1)
  })

  it('decodes back to the prompt text, with or without special tokens', () => {
    for (const prompt of reference.prompts.filter((p) => p.kind === 'text')) {
      assert.equal(tokenizer.decode(prompt.prompt_token_ids, {skipSpecialTokens: true}), prompt.prompt)
    }
    assert.equal(tokenizer.decode([1, 360, 1708, 4]), '<s> The cap<|im_end|>')
    // The Llama decoder strips the dummy-prefix space of the first token it renders.
    assert.equal(tokenizer.decode([1, 360, 1708, 4], {skipSpecialTokens: true}), 'The cap')
    assert.equal(tokenizer.decode([]), '')
  })

  it('reports BOS, EOS, special ids and vocabulary from tokenizer_config.json', () => {
    assert.equal(tokenizer.vocabSize, 4096)
    assert.equal(tokenizer.bosTokenId, 1)
    assert.deepEqual(tokenizer.eosTokenIds, [4, 2])
    assert.deepEqual([...tokenizer.specialTokenIds].sort((a, b) => a - b), [0, 1, 2, 3, 4])
    assert.equal(tokenizer.idToToken(3), '<|im_start|>')
    assert.equal(tokenizer.idToToken(99999), undefined)
  })

  it('renders without the assistant header when no generation prompt is asked for', () => {
    const text = tokenizer.applyChatTemplate([{role: 'user', content: 'x'}], {addGenerationPrompt: false})
    assert.equal(text, '<s><|im_start|>user\nx<|im_end|>\n')
  })
})

describe('generated test-model tokenizer (Llama 2 family)', () => {
  it('has exactly the vocabulary size asked for and every id decodes to text', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    assert.equal(tokenizer.vocabSize, 512)
    // After a letter, since the Llama decoder strips the first space of a decode (a lone ▁ or <0x20> decodes to '').
    const letter = tokenizer.encode('x', {addSpecialTokens: false})
    for (let id = 0; id < tokenizer.vocabSize; id++) assert.notEqual(tokenizer.decode([...letter, id]), tokenizer.decode(letter), `id ${id}`)
  })

  it('round-trips English, code, digits and multi-byte Unicode', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    for (const text of ['The capital of France is Paris.', 'def f(x):\n\treturn  x*2  ', 'Numbers 3.14159 and 2024', 'naïve café — 日本語 🚀', '']) {
      const ids = tokenizer.encode(text, {addSpecialTokens: false})
      assert.equal(tokenizer.decode(ids), text)
      assert.deepEqual(tokenizer.encode(text), [1, ...ids], 'BOS is added only with special tokens')
    }
  })

  it('learns English merges first, so common words take few tokens', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    assert.ok(tokenizer.encode(' the', {addSpecialTokens: false}).length === 1)
    assert.ok(tokenizer.encode('The capital of France is Paris.', {addSpecialTokens: false}).length < 20)
  })

  it('matches ChatML special tokens as single ids and starts chats with one BOS', async () => {
    const tokenizer = Tokenizer.load(await ensureTestModel('tiny'))
    const ids = tokenizer.encodeChat([{role: 'user', content: 'hello'}])
    assert.deepEqual(ids.slice(0, 2), [1, 3])
    assert.equal(ids.filter((id) => id === 1).length, 1)
    assert.equal(ids.filter((id) => id === 4).length, 1)
    assert.equal(tokenizer.decode(ids), '<s><|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n')
    assert.deepEqual(tokenizer.eosTokenIds, [4])
  })

  it('is deterministic in its seed and fills large vocabularies, in every family', () => {
    for (const family of Object.values(TOKENIZER_FAMILIES)) {
      const a = family.buildTokenizerJson(2000, 3) as {model: {merges: string[]; vocab: Record<string, number>}}
      const b = family.buildTokenizerJson(2000, 3) as {model: {merges: string[]}}
      const c = family.buildTokenizerJson(2000, 4) as {model: {merges: string[]}}
      assert.deepEqual(a.model.merges, b.model.merges)
      assert.notDeepEqual(a.model.merges, c.model.merges)
      assert.equal(Object.keys(a.model.vocab).length, 2000)
      assert.equal(new Set(Object.values(a.model.vocab)).size, 2000)
    }
  })

  it('refuses a chat request when the model has no chat template', () => {
    const config = {...buildTokenizerConfig(LLAMA2, 512), chat_template: undefined}
    const tokenizer = new Tokenizer(LLAMA2.buildTokenizerJson(512, 0), config)
    assert.throws(() => tokenizer.encodeChat([{role: 'user', content: 'x'}]), (error: unknown) => error instanceof InvalidRequestError && /no chat template/.test(error.message))
  })

  it('turns template errors into InvalidRequestError', () => {
    const config = {...buildTokenizerConfig(LLAMA2, 512), chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok"}
    const tokenizer = new Tokenizer(LLAMA2.buildTokenizerJson(512, 0), config)
    assert.equal(tokenizer.applyChatTemplate([{role: 'user', content: 'x'}]), 'ok')
    assert.throws(() => tokenizer.applyChatTemplate([{role: 'system', content: 'x'}]), (error: unknown) => error instanceof InvalidRequestError && /first message must be from the user/.test(error.message))
  })
})

/** The family's tokenizer with extra digit merges, so a split that lets BPE merge across digit groups would show. */
function withDigitMerges(family: TokenizerFamily): Tokenizer {
  const json = family.buildTokenizerJson(512, 0) as {model: {vocab: Record<string, number>; merges: string[]}}
  // Ranked before the groupings a correct split allows: 34 and 67 can only form if 1234567 reaches BPE as one word.
  const extra = ['3 4', '6 7', '1 2', '12 3', '4 5', '45 6']
  for (const merge of extra) json.model.vocab[merge.replace(' ', '')] = Object.keys(json.model.vocab).length
  json.model.merges = [...extra, ...json.model.merges]
  return new Tokenizer(json, buildTokenizerConfig(family, 512))
}

describe('generated tokenizers follow their families', () => {
  const pieces = (tokenizer: Tokenizer, text: string) => tokenizer.encode(text, {addSpecialTokens: false}).map((id) => tokenizer.idToToken(id))

  it('Qwen2 splits digits one at a time', () => {
    assert.deepEqual(pieces(withDigitMerges(TOKENIZER_FAMILIES.qwen2), ' 1234567'), ['\u0120', '1', '2', '3', '4', '5', '6', '7'])
  })

  it('Llama 3 splits digits into groups of up to three', () => {
    assert.deepEqual(pieces(withDigitMerges(TOKENIZER_FAMILIES.llama3), ' 1234567'), ['\u0120', '123', '456', '7'])
  })

  it('Llama 2 keeps every digit a piece of its own and falls back to bytes for unknown characters', () => {
    const tokenizer = new Tokenizer(LLAMA2.buildTokenizerJson(512, 0), buildTokenizerConfig(LLAMA2, 512))
    assert.deepEqual(pieces(tokenizer, ' 1234567'), ['\u2581', '1', '2', '3', '4', '5', '6', '7'])
    assert.deepEqual(pieces(tokenizer, '\u20ac'), ['\u2581', '<0xE2>', '<0x82>', '<0xAC>'])
    assert.equal(tokenizer.decode(tokenizer.encode('Hi \u20ac 5', {addSpecialTokens: false})), 'Hi \u20ac 5')
  })

  it('carries each family\'s special tokens, BOS and chat format', () => {
    const expected = {
      llama2: {bos: '<s>', eos: '<|im_end|>', chat: '<s><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'},
      llama3: {bos: '<|begin_of_text|>', eos: '<|eot_id|>', chat: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'},
      qwen2: {bos: null, eos: '<|im_end|>', chat: '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'},
    }
    for (const family of [TOKENIZER_FAMILIES.llama2, TOKENIZER_FAMILIES.llama3, TOKENIZER_FAMILIES.qwen2]) {
      const tokenizer = new Tokenizer(family.buildTokenizerJson(512, 0), buildTokenizerConfig(family, 512))
      const want = expected[family.name as keyof typeof expected]
      assert.equal(tokenizer.bosTokenId === null ? null : tokenizer.idToToken(tokenizer.bosTokenId), want.bos, family.name)
      assert.deepEqual(tokenizer.eosTokenIds.map((id) => tokenizer.idToToken(id)), [want.eos], family.name)
      assert.equal(tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]), want.chat, family.name)
      const chatIds = tokenizer.encodeChat([{role: 'user', content: 'hi'}])
      assert.equal(tokenizer.decode(chatIds), want.chat, family.name)
      assert.equal(chatIds.filter((id) => tokenizer.specialTokenIds.has(id)).length, {llama2: 4, llama3: 6, qwen2: 3}[family.name as keyof typeof expected], family.name)
    }
  })

  it('GPT-2 and OPT: GPT-2\'s split and byte-level BPE, no chat template; OPT puts </s> (id 2) before every text as its BOS, GPT-2 nothing', () => {
    const gpt2 = new Tokenizer(TOKENIZER_FAMILIES.gpt2.buildTokenizerJson(512, 0), buildTokenizerConfig(TOKENIZER_FAMILIES.gpt2, 512))
    const opt = new Tokenizer(TOKENIZER_FAMILIES.opt.buildTokenizerJson(512, 0), buildTokenizerConfig(TOKENIZER_FAMILIES.opt, 512))
    // A run of spaces gives all but its last to the run; the last one starts the next word (GPT-2's \s+(?!\S)).
    assert.deepEqual(pieces(gpt2, 'dogs!!  ok'), ['d', 'o', 'g', 's', '!', '!', '\u0120', '\u0120o', 'k'])
    const text = 'Hello world'
    assert.deepEqual(opt.encode(text), [2, ...opt.encode(text, {addSpecialTokens: false})])
    assert.deepEqual(gpt2.encode(text), gpt2.encode(text, {addSpecialTokens: false}))
    assert.equal(opt.decode(opt.encode(text), {skipSpecialTokens: true}), text)
    assert.deepEqual([opt.idToToken(opt.bosTokenId!), opt.eosTokenIds.map((id) => opt.idToToken(id))], ['</s>', ['</s>']])
    assert.deepEqual([gpt2.idToToken(gpt2.bosTokenId!), gpt2.eosTokenIds.map((id) => gpt2.idToToken(id))], ['<|endoftext|>', ['<|endoftext|>']])
  })
})
