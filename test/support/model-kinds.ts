// The kinds of model the feature matrix runs every feature on: SPM and byte-level BPE vocabularies, HF and GGUF files, quantized weights.
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {writeGguf} from '../../src/bench/peer/gguf-writer.js'
import type {EngineConfig} from '../../src/engine/config.js'
import {loadModel} from '../../src/engine/model/load-model.js'
import {ensureTestModel} from '../../src/engine/model/test-model.js'
import type {ToolCallParserName} from '../../src/server/tool-call-parsers.js'

export interface ModelKind {
  name: string
  /** A checkpoint directory or a GGUF file. */
  path: string
  /** Engine settings beyond the model path (quantization at load). */
  config: Partial<EngineConfig>
  /** The same settings as `generate` / `bench` flags. */
  flags: string[]
  /** The parser that reads this family's tool calls (hermes: Qwen's <tool_call>; llama3_json: Llama 3's bare JSON). */
  toolParser: ToolCallParserName
  /** Special token texts of the vocabulary (skipped when skip_special_tokens). */
  specials: string[]
  /** Qwen3's non-special added tokens (<think>, <tool_call>), when the vocabulary has them. */
  reasoning: boolean
  /** A SentencePiece vocabulary ("▁" pieces, <0xNN> bytes). */
  spm: boolean
  /** GGUF SentencePiece: the dummy-prefix space comes after every special token too (llama.cpp, transformers' GGUF loader). */
  spaceAfterSpecials: boolean
}

const TEMPLATES = join(import.meta.dirname, '..', 'fixtures', 'chat-templates')
/** Qwen3's added tokens that are text, not control tokens: kept when special tokens are skipped, as in Qwen3's tokenizer.json. */
export const QWEN3_TEXT_TOKENS = ['<think>', '</think>', '<tool_call>', '</tool_call>']

/**
 * The tiny qwen3 test model as Qwen3 ships: its real chat template (tools, <think>) and <think>, </think>, <tool_call>,
 * </tool_call> as non-special added tokens (they take the ids of the last merges, which nothing builds on).
 */
export function qwen3WithReasoningTokens(sourceDir: string, dir: string): string {
  cpSync(sourceDir, dir, {recursive: true})
  const tokenizerPath = join(dir, 'tokenizer.json')
  const json = JSON.parse(readFileSync(tokenizerPath, 'utf8'))
  const merges: string[] = json.model.merges
  const freed = merges.splice(merges.length - QWEN3_TEXT_TOKENS.length).map((merge) => merge.replace(' ', ''))
  QWEN3_TEXT_TOKENS.forEach((content, index) => {
    const id = json.model.vocab[freed[index]!] as number
    delete json.model.vocab[freed[index]!]
    json.model.vocab[content] = id
    json.added_tokens.push({id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false})
  })
  writeFileSync(tokenizerPath, JSON.stringify(json))
  setChatTemplate(dir, 'qwen3.jinja')
  return dir
}

function editJson(dir: string, file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  edit(json)
  writeFileSync(join(dir, file), JSON.stringify(json))
}

/** A real template (and its tool instructions) makes prompts longer than the tiny preset's 512 positions. */
function setChatTemplate(dir: string, template: string): void {
  editJson(dir, 'tokenizer_config.json', (config) => (config.chat_template = readFileSync(join(TEMPLATES, template), 'utf8')))
  editJson(dir, 'config.json', (config) => (config.max_position_embeddings = 2048))
}

/** Every kind, written under `scratch` (the GGUF files, the edited copies); the generated checkpoints are cached. */
export async function prepareModelKinds(scratch: string): Promise<ModelKind[]> {
  const llama = await ensureTestModel('tiny')
  const qwen2 = await ensureTestModel('tiny', {variant: 'qwen2'})
  const qwen3 = qwen3WithReasoningTokens(await ensureTestModel('tiny', {variant: 'qwen3'}), join(scratch, 'qwen3'))
  // Mistral: the Llama layout under its own architecture name, a sliding window of 32 (shorter than its chat prompts), v0.3's template and [TOOL_CALLS] calls.
  const mistral = join(scratch, 'mistral')
  cpSync(llama, mistral, {recursive: true})
  setChatTemplate(mistral, 'mistral-v0.3.jinja')
  editJson(mistral, 'config.json', (config) => Object.assign(config, {architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 32}))
  const llama3 = join(scratch, 'llama3')
  cpSync(await ensureTestModel('tiny', {variant: 'llama3'}), llama3, {recursive: true})
  setChatTemplate(llama3, 'llama-3.1.jinja')
  const llamaGguf = join(scratch, 'llama-f32.gguf')
  writeGguf(await loadModel(llama), llamaGguf, {format: 'f32'})
  // Gemma's GeGLU, (1 + weight) norms and tied head; Phi-3's fused projections, longrope and sliding window.
  const gemma = await ensureTestModel('tiny', {variant: 'gemma'})
  const phi3 = await ensureTestModel('tiny', {variant: 'phi3'})
  const qwen3Gguf = join(scratch, 'qwen3-q8_0.gguf')
  writeGguf(await loadModel(qwen3), qwen3Gguf, {format: 'q8_0'})
  const chatmlSpecials = ['<|im_start|>', '<|im_end|>']
  const qwenSpecials = ['<|endoftext|>', ...chatmlSpecials]
  const plain = {config: {}, flags: [], reasoning: false, spm: false, spaceAfterSpecials: false}
  return [
    {name: 'llama (SPM, ChatML)', path: llama, ...plain, spm: true, toolParser: 'hermes', specials: ['<s>', '</s>', ...chatmlSpecials]},
    {name: 'qwen2 (byte-level BPE)', path: qwen2, ...plain, toolParser: 'hermes', specials: qwenSpecials},
    {name: 'qwen3 (byte-level BPE, <think>)', path: qwen3, ...plain, toolParser: 'hermes', specials: qwenSpecials, reasoning: true},
    {name: 'mistral (SPM, v0.3 template)', path: mistral, ...plain, spm: true, toolParser: 'mistral', specials: ['<s>', '</s>', ...chatmlSpecials]},
    {name: 'llama3 (tiktoken-style BPE)', path: llama3, ...plain, toolParser: 'llama3_json', specials: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']},
    {name: 'llama GGUF (SPM vocabulary)', path: llamaGguf, ...plain, spm: true, spaceAfterSpecials: true, toolParser: 'hermes', specials: ['<s>', '</s>', ...chatmlSpecials]},
    {name: 'qwen3 GGUF q8_0 (GPT-2 BPE vocabulary)', path: qwen3Gguf, ...plain, toolParser: 'hermes', specials: qwenSpecials, reasoning: true},
    {name: 'gemma (SPM, GeGLU, tied)', path: gemma, ...plain, spm: true, toolParser: 'hermes', specials: ['<s>', '</s>', ...chatmlSpecials]},
    {name: 'phi3 (SPM, fused projections, longrope)', path: phi3, ...plain, spm: true, toolParser: 'hermes', specials: ['<s>', '</s>', ...chatmlSpecials]},
    {name: 'qwen2 quantized at load (q4_0)', path: qwen2, ...plain, config: {quantization: 'q4_0'}, flags: ['--quantization', 'q4_0'], toolParser: 'hermes', specials: qwenSpecials},
  ]
}
