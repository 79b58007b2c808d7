// The models of the GPU check's CUDA-vs-CPU comparisons for the layer features the CUDA backend took over from the
// CPU: Gemma (GeGLU, (1 + weight) norms, scaled embeddings), Gemma 2 (sandwich norms, attention and final logit
// soft-capping, query_pre_attn_scalar), Llama's o_proj and MLP biases, Phi-3's partial rotary, Granite's multipliers,
// OLMo2's post-norms and whole-projection q/k norms, SmolLM3's layers without rope. Each is a directory
// an engine can open (tokenizer included), in a temporary folder the caller removes.
import {cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureTestModel} from '../../src/engine/model/test-model.js'

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
  const granite = await ensureTestModel('tiny', {variant: 'granite', dtype: 'BF16'})
  const smollm3 = await ensureTestModel('tiny', {variant: 'smollm3', dtype: 'BF16'})
  const olmo2 = await ensureTestModel('tiny', {variant: 'olmo2', dtype: 'BF16'})
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
      {label: 'tiny/granite (multipliers: embedding 1.75, residual 0.625, attention 0.375, logits / 1.5)', dir: granite},
      {label: 'granite attention bias, tied head (transformers-saved)', dir: fixture('granite-attention-bias')},
      {label: 'tiny/olmo2 (post-norms without pre-norms, q/k norms over the whole projections)', dir: olmo2},
      // Its rope-free layers slide with a window of 8, which would cap a CUDA context to 8 tokens: full attention then.
      {label: 'tiny/smollm3 (every 2nd layer without rope)', dir: copyModel(root, 'smollm3', [smollm3], (json) => ({...json, use_sliding_window: false}))},
    ],
  }
}
