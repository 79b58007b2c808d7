// A project-made draft model for speculative decoding tests: small random Llama weights beside a copy of a target's tokenizer.
import {copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {expectedTensorShapes} from '../../src/engine/model/load-model.js'
import {parseModelConfig, readJsonObject} from '../../src/engine/model/model-config.js'
import {encodeFloats, writeSafetensors} from '../../src/engine/model/safetensors.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']

/**
 * A 2-layer, 64-wide random model with the target's vocabulary, tokenizer and special tokens (cached under
 * .cache/models; a different seed is a different draft). Its proposals are poor, which is what rejection paths need.
 */
export function ensureDraftModel(targetDir: string, seed: number): string {
  const target = readJsonObject(join(targetDir, 'config.json'))
  const configJson = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: target.vocab_size,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    max_position_embeddings: target.max_position_embeddings,
    hidden_act: 'silu',
    bos_token_id: target.bos_token_id,
    eos_token_id: target.eos_token_id,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    pagedllm_draft_of: {target: basename(resolve(targetDir)), seed},
  }
  const dir = join(REPO_ROOT, '.cache', 'models', `draft-${basename(resolve(targetDir))}-${seed}`)
  const written = () => existsSync(join(dir, 'config.json')) && JSON.stringify(readJsonObject(join(dir, 'config.json'))) === JSON.stringify(configJson)
  if (written()) return dir
  const temporary = `${dir}.tmp-${process.pid}-${Date.now()}`
  mkdirSync(temporary, {recursive: true})
  const config = parseModelConfig(configJson)
  const random = new SeededRandom(seed)
  const tensors = expectedTensorShapes(config).map(({name, shape}) => {
    const count = shape.reduce((a, b) => a * b, 1)
    // Activations of order one through the layers; logits with a std of a few units (as the generated test models).
    const values = name.endsWith('norm.weight')
      ? random.normals(count, 1, 0.1)
      : name === 'model.embed_tokens.weight'
        ? random.normals(count, 0, 1)
        : name === 'lm_head.weight'
          ? random.normals(count, 0, 3 / Math.sqrt(config.hiddenSize))
          : random.normals(count, 0, 1 / Math.sqrt(shape[1]!))
    return {name, dtype: 'F32' as const, shape, data: () => encodeFloats(values, 'F32')}
  })
  writeSafetensors(join(temporary, 'model.safetensors'), tensors, {format: 'pt'})
  for (const file of TOKENIZER_FILES) if (existsSync(join(targetDir, file))) copyFileSync(join(targetDir, file), join(temporary, file))
  writeFileSync(join(temporary, 'config.json'), JSON.stringify(configJson, null, 2) + '\n')
  // Another test file running beside this one may have written the same draft meanwhile: keep its copy, which it may
  // be reading; replace only an older draft.
  if (!written()) rmSync(dir, {recursive: true, force: true})
  try {
    renameSync(temporary, dir)
  } catch {
    // the other copy is in place
  }
  rmSync(temporary, {recursive: true, force: true})
  return dir
}
