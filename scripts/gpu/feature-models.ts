// The models of the GPU check's CUDA-vs-CPU comparisons for the layer features the CUDA backend took over from the
// CPU: Gemma (GeGLU, (1 + weight) norms, scaled embeddings), Gemma 2 (sandwich norms, attention and final logit
// soft-capping, query_pre_attn_scalar), Llama's o_proj and MLP biases, Phi-3's partial rotary, and one model per
// LayerNorm-family architecture (native/cuda/layernorm_forward.cu; ALiBi in both attention kernels). Each is a directory
// an engine can open (tokenizer included), in a temporary folder the caller removes.
import {cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureTestModel, type TestModelVariant} from '../../src/engine/model/test-model.js'

export interface FeatureModel {
  label: string
  dir: string
}

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures')

/** A copy of `source` (or of a transformers-saved fixture with the tiny llama's 512-token tokenizer) with config.json edited. */
function copyModel(root: string, name: string, sources: string[], edit: (json: Record<string, any>) => Record<string, unknown> = (json) => json): string {
  const dir = join(root, name)
  for (const source of sources) cpSync(source, dir, {recursive: true, filter: (path) => !path.endsWith('expected.json')})
  const configPath = join(dir, 'config.json')
  writeFileSync(configPath, JSON.stringify(edit(JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, any>)))
  return dir
}

export async function featureModels(): Promise<{root: string; models: FeatureModel[]}> {
  const root = mkdtempSync(join(tmpdir(), 'pagedllm-gpu-features-'))
  const gemma = await ensureTestModel('tiny', {variant: 'gemma', dtype: 'BF16'})
  const gemma2 = await ensureTestModel('tiny', {variant: 'gemma2', dtype: 'BF16'})
  const llama = await ensureTestModel('tiny', {variant: 'llama', dtype: 'BF16'})
  // The engine check's sequences reach position 631: learned-position models take the small preset's 2,048 rows.
  const layerNorm = async (variant: TestModelVariant, preset: 'tiny' | 'small' = 'tiny') => ensureTestModel(preset, {variant, dtype: 'BF16'})
  const tokenizer = mkdtempSync(join(root, 'tokenizer-'))
  for (const file of readdirSync(llama)) if (file.startsWith('tokenizer')) cpSync(join(llama, file), join(tokenizer, file))
  const fixture = (name: string, edit?: (json: Record<string, any>) => Record<string, unknown>) =>
    copyModel(root, name, [join(FIXTURES, `${name}-transformers`), tokenizer], edit)
  return {
    root,
    models: [
      {label: 'tiny/gemma (GeGLU, 1 + w norms, scaled embeddings, 1 KV head)', dir: gemma},
      // Its window of 16 would cap a CUDA context to 16 tokens (capContextToWindows); one past every context is exact on both.
      {label: 'tiny/gemma2 (sandwich norms, soft caps 5.5 / 12.5, scale 24^-0.5)', dir: copyModel(root, 'gemma2', [gemma2], (json) => ({...json, sliding_window: 4096}))},
      {label: 'llama o_proj + q/k/v biases (transformers-saved)', dir: fixture('llama-attention-bias')},
      {label: 'llama mlp_bias (transformers-saved)', dir: fixture('llama-mlp-bias')},
      // longrope caps the context at the original 64 positions, under the engine check's 68-token sequences: 128 then.
      {label: 'phi3 partial rotary 6 of 8, longrope (transformers-saved)', dir: fixture('phi3-partial-rotary-longrope', (json) => ({
        ...json, original_max_position_embeddings: 128, rope_parameters: {...json.rope_parameters, original_max_position_embeddings: 128},
      }))},
      // The LayerNorm family, most used first; transformers-saved checkpoints where the fixtures have one (real fused layouts).
      {label: 'gpt_neox parallel residual, fused qkv per head, partial rotary, linear rope (transformers-saved)', dir: fixture('gpt-neox-linear-rope')},
      {label: 'tiny/phi (shared norm, partial rotary 8 of 16, shared q/k LayerNorms, lm_head bias, GQA 4/2)', dir: await layerNorm('phi')},
      {label: 'tiny/stablelm (gated SiLU MLP, q/k/v biases, partial rotary)', dir: await layerNorm('stablelm')},
      // Its window of 8 would cap a CUDA context to 8 tokens: one past every context is exact on both.
      {label: 'tiny/starcoder2 (LayerNorm, biases, gelu tanh, GQA 4/2)', dir: copyModel(root, 'starcoder2', [await layerNorm('starcoder2')], (json) => ({...json, sliding_window: 4096}))},
      {label: 'small/gpt2 (Conv1D transposed at load, learned positions, gelu_new)', dir: await layerNorm('gpt2', 'small')},
      {label: 'falcon new_decoder_architecture, grouped fused qkv (transformers-saved)', dir: fixture('falcon-new-decoder')},
      {label: 'bloom ALiBi, embedding LayerNorm, fused qkv per head, tied (transformers-saved)', dir: fixture('bloom-tied')},
      {label: 'tiny/falcon-rw (ALiBi, MHA)', dir: await layerNorm('falcon-rw')},
      {label: 'mpt ALiBi, clip_qkv 0.5, bias-free LayerNorms (transformers-saved)', dir: fixture('mpt-clip-qkv')},
      {label: 'small/opt-post-ln (norms after the residual adds, project_in/out, positions at offset 2, relu)', dir: await layerNorm('opt-post-ln', 'small')},
      {label: 'tiny/gptj (interleaved rotary reordered at load, shared norm, lm_head bias)', dir: await layerNorm('gptj')},
      {label: 'small/gpt-bigcode (multi-query attention, learned positions)', dir: await layerNorm('gpt-bigcode', 'small')},
    ],
  }
}
