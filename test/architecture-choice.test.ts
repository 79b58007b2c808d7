// Which class a config.json runs as: vLLM's first listed class the engine runs, else transformers' AutoModelForCausalLM
// choice by model_type (where no class is listed, or only an old spelling of its class such as LLaMAForCausalLM).
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {maxAbsDifference, promptLogits} from './support/model-logits.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const LLAMA = {vocab_size: 100, hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 128}

describe('the class a config.json runs as', () => {
  it('the first listed class the engine runs, saying so when it is not the first', () => {
    const config = parseModelConfig({...LLAMA, architectures: ['MyOwnForCausalLM', 'LlamaForCausalLM'], model_type: 'llama'})
    assert.equal(config.architecture, 'LlamaForCausalLM')
    assert.match(config.notes!.join(' '), /lists MyOwnForCausalLM first; running LlamaForCausalLM/)
    assert.equal(parseModelConfig({...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'llama'}).architecture, 'Qwen2ForCausalLM')
  })

  it('no class listed (absent, null, empty, no strings): model_type\'s causal-LM class, as AutoModelForCausalLM builds it', () => {
    for (const architectures of [undefined, null, [], [3]]) {
      const config = parseModelConfig({...LLAMA, architectures, model_type: 'qwen2'})
      assert.equal(config.architecture, 'Qwen2ForCausalLM')
      assert.match(config.notes!.join(' '), /names no class; model_type "qwen2" runs as Qwen2ForCausalLM/)
    }
    assert.equal(parseModelConfig({...LLAMA, model_type: 'gemma3_text'}).architecture, 'Gemma3ForCausalLM')
    assert.equal(parseModelConfig({...LLAMA, model_type: 'gpt2', n_embd: 64, n_layer: 1, n_head: 4}).architecture, 'GPT2LMHeadModel')
  })

  it('an old spelling of model_type\'s class runs as that class; other classes, heads and unknown types are refused by name', () => {
    const config = parseModelConfig({...LLAMA, architectures: ['LLaMAForCausalLM'], model_type: 'llama'})
    assert.equal(config.architecture, 'LlamaForCausalLM')
    assert.match(config.notes!.join(' '), /names LLaMAForCausalLM; model_type "llama" runs as LlamaForCausalLM/)
    // A base model or a classifier has no lm_head for the causal-LM class to read.
    assert.throws(() => parseModelConfig({...LLAMA, architectures: ['LlamaModel'], model_type: 'llama'}), loadError(/Unsupported architecture LlamaModel/))
    assert.throws(() => parseModelConfig({...LLAMA, architectures: ['MistralForSequenceClassification'], model_type: 'mistral'}), loadError(/Unsupported architecture MistralForSequenceClassification/))
    assert.throws(() => parseModelConfig({...LLAMA, architectures: ['MyOwnForCausalLM'], model_type: 'my_own'}), loadError(/Unsupported architecture MyOwnForCausalLM/))
    // A list and a model_type that disagree: the listed class is refused, as vLLM refuses it.
    assert.throws(() => parseModelConfig({...LLAMA, architectures: ['RwkvForCausalLM'], model_type: 'llama'}), loadError(/Unsupported architecture RwkvForCausalLM/))
    // model_type names a class the engine does not run: refused by that class's name.
    assert.throws(() => parseModelConfig({...LLAMA, model_type: 'rwkv'}), loadError(/Unsupported architecture RwkvForCausalLM/))
    for (const modelType of [undefined, 'nope', 'toString', '__proto__', 7]) {
      assert.throws(() => parseModelConfig({...LLAMA, model_type: modelType}), loadError(/no "architectures" entry and no "model_type" that names a causal LM/))
    }
  })

  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-arch-choice-'))
  after(() => rmSync(scratch, {recursive: true, force: true}))

  it('a checkpoint whose config.json lists no class loads by model_type and gives the logits of the same checkpoint with its class', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'qwen2'})
    const twin = join(scratch, 'no-class')
    cpSync(dir, twin, {recursive: true})
    const {architectures, ...rest} = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
    assert.deepEqual(architectures, ['Qwen2ForCausalLM'])
    writeFileSync(join(twin, 'config.json'), JSON.stringify(rest))
    const [named, unnamed] = [await loadModel(dir), await loadModel(twin)]
    assert.equal(unnamed.config.architecture, 'Qwen2ForCausalLM')
    assert.equal(maxAbsDifference((await promptLogits(named, 'f32')).logits, (await promptLogits(unnamed, 'f32')).logits), 0)
  })
})
