// Hostile model files scripts/fuzz-model-files.ts found loading silently wrong: odd-typed config switches, dtypes and token ids, malformed tokenizer.json models, chat_template lists.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {runCommand} from './support/run-command.js'
import {loadError} from './support/load-error.js'
import {tinyScratch} from './support/tiny-scratch.js'

const scratch = tinyScratch('pagedllm-hostile-files-')

function editJson(path: string, edit: (json: Record<string, any>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8'))
  edit(json)
  writeFileSync(path, JSON.stringify(json))
}

/** A copy of the tiny model with `file` (a JSON file) edited in place. */
function withJson(name: string, file: string, edit: (json: Record<string, any>) => void): string {
  const dir = scratch.copy(name)
  editJson(join(dir, file), edit)
  return dir
}

const base = {architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4}

describe('config.json values the loader used to guess at', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    // Python reads "false" as true: falling back to the default would untie (or tie) the head against the checkpoint's intent.
    ['tie_word_embeddings "false"', {tie_word_embeddings: 'false'}, /config\.json: "tie_word_embeddings" must be true or false, got "false"/],
    ['tie_word_embeddings 1', {tie_word_embeddings: 1}, /"tie_word_embeddings" must be true or false, got 1/],
    ['attention_bias "true" (biases silently dropped)', {attention_bias: 'true'}, /"attention_bias" must be true or false/],
    ['use_sliding_window 1 on Qwen2', {architectures: ['Qwen2ForCausalLM'], use_sliding_window: 1}, /"use_sliding_window" must be true or false, got 1/],
    ['torch_dtype int8', {torch_dtype: 'int8'}, /"torch_dtype" "int8" is not a float dtype/],
    ['torch_dtype a number', {torch_dtype: 7}, /"torch_dtype" 7 is not a float dtype/],
    ['dtype (transformers 5) unknown', {dtype: 'float8_e4m3fn'}, /"dtype" "float8_e4m3fn" is not a float dtype/],
    ['a negative eos_token_id', {eos_token_id: -1}, /"eos_token_id" -1 is not a token id/],
    ['eos_token_id a string', {eos_token_id: '2'}, /"eos_token_id" "2" is not a token id/],
    ['a fraction in an eos_token_id list', {eos_token_id: [2, 0.5]}, /"eos_token_id" \[2,0\.5\] is not a token id/],
  ]
  for (const [label, fields, pattern] of cases) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseModelConfig({...base, ...fields}, undefined, '/m/config.json'), loadError(pattern))
    })
  }

  it('names generation_config.json when its ids are wrong, even where config.json gives the id too', () => {
    assert.throws(() => parseModelConfig(base, {eos_token_id: [2, -5]}, '/m/config.json'), loadError(/^\/m\/generation_config\.json: "eos_token_id" \[2,-5\] is not a token id/))
    assert.throws(() => parseModelConfig({...base, bos_token_id: 1}, {bos_token_id: 'x'}, '/m/config.json'), loadError(/^\/m\/generation_config\.json: "bos_token_id" "x"/))
  })

  it('refuses a size past 32 bits that no tensor checks (a sparse model\'s dense intermediate_size) instead of failing in the backend', () => {
    const moe = {...base, architectures: ['Qwen2MoeForCausalLM'], num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 32, shared_expert_intermediate_size: 32}
    assert.throws(() => parseModelConfig({...moe, intermediate_size: 2 ** 31}), loadError(/"intermediate_size" 2147483648 is beyond the sizes the backends take \(at most 2147483647\)/))
    assert.throws(() => parseModelConfig({...base, max_position_embeddings: 1e30}), loadError(/"max_position_embeddings" 1e\+30 is beyond the sizes the backends take/))
  })

  it('takes a sliding window past 32 bits as one past any context (full attention), not a value the backend refuses', () => {
    const windows = parseModelConfig({...base, architectures: ['MistralForCausalLM'], num_hidden_layers: 2, sliding_window: 2 ** 53}).layerWindows
    assert.deepEqual(windows, [2 ** 31 - 1, 2 ** 31 - 1])
  })

  it('still takes what real configs write: null ids and switches, torch.-prefixed and transformers 5 dtypes', () => {
    const config = parseModelConfig({...base, bos_token_id: null, eos_token_id: [1, 2], tie_word_embeddings: null, attention_bias: false, torch_dtype: null, dtype: 'bfloat16'}, {eos_token_id: 2})
    assert.deepEqual([config.bosTokenId, config.eosTokenIds, config.tieWordEmbeddings, config.torchDtype], [null, [2, 1], false, 'bfloat16'])
    assert.equal(parseModelConfig({...base, torch_dtype: 'torch.float16'}).torchDtype, 'float16')
  })

  it('refuses in a real directory, naming the file', async () => {
    const dir = withJson('eos-odd', 'generation_config.json', (json) => (json.eos_token_id = [2, 0.5]))
    await assert.rejects(loadModel(dir), loadError(/eos-odd\/generation_config\.json: "eos_token_id" \[2,0\.5\] is not a token id \(a non-negative integer/))
  })

  // transformers warns and runs: a config class's default ids outlive a smaller vocab_size (OLMo's eos 50279 saved with GPT-2's 50257 tokens).
  it('leaves out ids past the vocabulary with a note naming the field, keeping the rest', async () => {
    const config = parseModelConfig({...base, bos_token_id: 100, eos_token_id: 1e9}, {eos_token_id: [2, 500]}, '/m/config.json')
    assert.deepEqual([config.bosTokenId, config.eosTokenIds], [null, [2]])
    assert.match(config.notes!.join('\n'), /\/m\/config\.json: "bos_token_id" 100: ids past vocab_size 100 are ignored/)
    assert.match(config.notes!.join('\n'), /\/m\/generation_config\.json: "eos_token_id" \[2,500\]: ids past vocab_size 100 are ignored/)
    const dir = withJson('eos-far', 'generation_config.json', (json) => (json.eos_token_id = [2, 70000]))
    const model = await loadModel(dir)
    assert.ok(!model.generationConfig.eosTokenIds.includes(70000))
    assert.match(model.config.notes!.join('\n'), /eos-far\/generation_config\.json: "eos_token_id" \[2,70000\]: ids past vocab_size 512 are ignored/)
  })
})

describe('tokenizer.json models the Rust tokenizers library refuses (the JS library ran them, silently wrong)', () => {
  const cases: [string, (json: Record<string, any>) => void, RegExp][] = [
    ['an unknown model type (run as BPE)', (json) => (json.model.type = 'Banana'), /tokenizer\.json: "model\.type" "Banana" is not a tokenizer model \(BPE, WordPiece, WordLevel, Unigram\)/],
    ['a BPE vocabulary that is a list (every word became unknown)', (json) => (json.model.vocab = Object.keys(json.model.vocab)), /"model\.vocab" must be an object of token -> id for a BPE model/],
    ['an empty vocabulary', (json) => (json.model.vocab = {}), /"model\.vocab" is empty/],
    ['a merge of tokens not in the vocabulary', (json) => json.model.merges.unshift('qqq zzz'), /merge 0 "qqq zzz" is not a pair of vocabulary tokens/],
    ['merges that are numbers', (json) => (json.model.merges = [1]), /merge 0 1 is not a pair of vocabulary tokens/],
    ['a BPE model without merges', (json) => delete json.model.merges, /tokenizer\.json: a BPE model needs "model\.merges"/],
    ['an added token without content', (json) => json.added_tokens.push({id: 5, content: 5}), /added token \{"id":5,"content":5\} is not an object with a "content" string/],
    ['a model that is a string', (json) => (json.model = 'BPE'), /tokenizer\.json has no "model" object/],
  ]
  for (const [label, edit, pattern] of cases) {
    it(`refuses ${label}`, async () => {
      const dir = withJson(label.replace(/\W+/g, '-'), 'tokenizer.json', edit)
      await assert.rejects(loadModel(dir), loadError(pattern))
    })
  }
})

describe('chat_template in tokenizer_config.json', () => {
  const named = (templates: {name: string; template: string}[]) => (json: Record<string, unknown>) => (json.chat_template = templates)
  const tools = [{type: 'function', function: {name: 'f', parameters: {type: 'object'}}}]

  it('a list of named templates: "tool_use" for chats with tools, "default" for the rest, as transformers picks', async () => {
    const dir = withJson('named', 'tokenizer_config.json', named([{name: 'tool_use', template: 'TOOLS:{{ tools | length }}'}, {name: 'default', template: 'PLAIN'}]))
    const {tokenizer} = await loadModel(dir)
    assert.equal(tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]), 'PLAIN')
    assert.equal(tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}], {tools}), 'TOOLS:1')
  })

  it('a list without "default" serves chats with tools only, and says why to the others', async () => {
    const dir = withJson('tool-use-only', 'tokenizer_config.json', named([{name: 'tool_use', template: 'TOOLS'}]))
    const {tokenizer} = await loadModel(dir)
    assert.equal(tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}], {tools}), 'TOOLS')
    assert.throws(() => tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]), (error: unknown) => error instanceof InvalidRequestError && /only a "tool_use" chat template/.test(error.message))
  })

  for (const [label, value] of [['a number', 5], ['a dict', {default: 'x'}], ['a list of strings', ['{{ 1 }}']], ['a list entry without a template', [{name: 'default'}]]] as const) {
    it(`refuses ${label}`, async () => {
      const dir = withJson(`template-${label.replace(/\W+/g, '-')}`, 'tokenizer_config.json', (json) => (json.chat_template = value))
      await assert.rejects(loadModel(dir), loadError(/tokenizer_config\.json: "chat_template" must be a string or a list of \{"name", "template"\} strings/))
    })
  }
})

describe('the CLI on a hostile model directory', () => {
  it('generate exits 3 with one line naming the file and key, no stack trace', async () => {
    const dir = withJson('cli-dtype', 'config.json', (json) => (json.torch_dtype = 'int8'))
    const result = await runCommand('generate', ['--model', dir, '--max-tokens', '1', 'hi'])
    assert.equal(result.code, 3, result.stderr)
    assert.match(result.stderr, /^Error: .*cli-dtype\/config\.json: "torch_dtype" "int8" is not a float dtype/)
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
  })
})
