// The models of the GPU check's CUDA-vs-CPU comparisons for the layer features the CUDA backend took over from the
// CPU: Gemma (GeGLU, (1 + weight) norms, scaled embeddings), Gemma 2 (sandwich norms, attention and final logit
// soft-capping, query_pre_attn_scalar), Llama's o_proj and MLP biases, Phi-3's partial rotary, sliding windows (Mistral,
// Qwen2, Gemma 2, Gemma 3 with its local rope base; the engine check's sequences run to 67 tokens, the 600-token
// backend prompt far past every window), gated MLPs of relu and exact gelu, the sparse MoE MLPs of Mixtral, Qwen2-MoE
// (gated shared expert) and Qwen3-MoE (a dense layer among sparse ones), Granite's multipliers, OLMo2's post-norms and
// whole-projection q/k norms, SmolLM3's layers without rope, Cohere's and OLMo's LayerNorms, Cohere's parallel block,
// Command R+'s per-head q/k LayerNorms, OLMo's and OLMoE's clip_qkv, GraniteMoE(Shared) (the multipliers over sparse
// MLPs, an ungated shared expert), PhiMoE (sparsemixer routing, biased LayerNorms, an lm_head bias), and one model per
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
  const [mixtral, qwen2moe, qwen3moe] = await Promise.all((['mixtral', 'qwen2moe', 'qwen3moe'] as const).map((variant) => ensureTestModel('tiny', {variant, dtype: 'BF16'})))
  const mistral = await ensureTestModel('tiny', {variant: 'mistral', dtype: 'BF16'})
  const qwen2Sliding = await ensureTestModel('tiny', {variant: 'qwen2-sliding', dtype: 'BF16'})
  const gemma3 = await ensureTestModel('tiny', {variant: 'gemma3', dtype: 'BF16'})
  const granite = await ensureTestModel('tiny', {variant: 'granite', dtype: 'BF16'})
  const smollm3 = await ensureTestModel('tiny', {variant: 'smollm3', dtype: 'BF16'})
  const olmo2 = await ensureTestModel('tiny', {variant: 'olmo2', dtype: 'BF16'})
  const olmo3 = await ensureTestModel('tiny', {variant: 'olmo3', dtype: 'BF16'})
  const [cohere, cohere2, olmo, olmoe] = await Promise.all((['cohere', 'cohere2', 'olmo', 'olmoe'] as const).map((variant) => ensureTestModel('tiny', {variant, dtype: 'BF16'})))
  const [granitemoe, granitemoeshared, phimoe] = await Promise.all((['granitemoe', 'granitemoeshared', 'phimoe'] as const).map((variant) => ensureTestModel('tiny', {variant, dtype: 'BF16'})))
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
      {label: 'tiny/gemma2 (sandwich norms, soft caps 5.5 / 12.5, scale 24^-0.5, window 16 on layer 0)', dir: gemma2},
      // Every layer slides: the engine releases the blocks behind the window (-1 in the tables the kernels get).
      {label: 'tiny/mistral (window 8 on every layer, blocks behind it released)', dir: mistral},
      {label: 'tiny/qwen2-sliding (window 8 on layer 1, layer 0 full; q/k/v biases)', dir: qwen2Sliding},
      {label: 'tiny/gemma3 (window 8 with rope base 1e4 on layer 0, q/k norms, linear rope 8 on the full layer)', dir: gemma3},
      {label: 'llama o_proj + q/k/v biases (transformers-saved)', dir: fixture('llama-attention-bias')},
      {label: 'llama mlp_bias (transformers-saved)', dir: fixture('llama-mlp-bias')},
      {label: 'llama gated relu MLP (transformers-saved)', dir: fixture('llama-act-relu')},
      // Exact (erf) gelu; its window of 4096 brought to 12, so the sequences cross it on layer 0.
      {label: 'gemma2 gated exact-gelu MLP, window 12 (transformers-saved)', dir: fixture('gemma2-act-gelu', (json) => ({...json, sliding_window: 12}))},
      // longrope caps the context at the original 64 positions, under the engine check's 68-token sequences: 128 then.
      {label: 'phi3 partial rotary 6 of 8, longrope (transformers-saved)', dir: fixture('phi3-partial-rotary-longrope', (json) => ({
        ...json, original_max_position_embeddings: 128, rope_parameters: {...json.rope_parameters, original_max_position_embeddings: 128},
      }))},
      {label: 'tiny/mixtral (8 experts, top-2 renormalised)', dir: mixtral},
      {label: 'tiny/qwen2moe (6 experts, top-2 unnormalised, sigmoid-gated shared expert, q/k/v biases)', dir: qwen2moe},
      {label: 'tiny/qwen3moe (8 experts, top-3 renormalised, q/k norms, layer 0 dense)', dir: qwen3moe},
      {label: 'tiny/granite (multipliers: embedding 1.75, residual 0.625, attention 0.375, logits / 1.5)', dir: granite},
      {label: 'granite attention bias, tied head (transformers-saved)', dir: fixture('granite-attention-bias')},
      {label: 'tiny/olmo2 (post-norms without pre-norms, q/k norms over the whole projections)', dir: olmo2},
      {label: 'tiny/olmo3 (OLMo2 layers; sliding ones with their own rope base)', dir: olmo3},
      {label: 'tiny/smollm3 (every 2nd layer without rope; those slide with a window of 8)', dir: smollm3},
      {label: 'tiny/cohere (weight-only LayerNorms, parallel attention + MLP block, logit scale 0.5)', dir: cohere},
      {label: "cohere use_qk_norm (Command R+'s per-head q/k LayerNorms, interleaved rope; transformers-saved)", dir: fixture('cohere-qk-norm')},
      {label: "tiny/cohere2 (cohere's layers; layer 0 slides with a window of 8, layer 1 full without rope)", dir: cohere2},
      {label: 'tiny/olmo (LayerNorms without weights, clip_qkv 1.5)', dir: olmo},
      {label: 'tiny/olmoe (6 experts, clip_qkv 2.5 after whole-projection q/k norms)', dir: olmoe},
      {label: "tiny/granitemoe (granite's multipliers over 4 experts fused in the checkpoint, top-2)", dir: granitemoe},
      {label: 'tiny/granitemoeshared (granitemoe plus an ungated shared expert)', dir: granitemoeshared},
      {label: 'tiny/phimoe (sparsemixer top-2 of 4, biased LayerNorms, q/k/v/o and lm_head biases, window 16, LongRoPE mscale)', dir: phimoe},
      // The LayerNorm family, most used first; transformers-saved checkpoints where the fixtures have one (real fused layouts).
      {label: 'gpt_neox parallel residual, fused qkv per head, partial rotary, linear rope (transformers-saved)', dir: fixture('gpt-neox-linear-rope')},
      {label: 'tiny/phi (shared norm, partial rotary 8 of 16, shared q/k LayerNorms, lm_head bias, GQA 4/2)', dir: await layerNorm('phi')},
      {label: 'tiny/stablelm (gated SiLU MLP, q/k/v biases, partial rotary)', dir: await layerNorm('stablelm')},
      {label: 'tiny/starcoder2 (LayerNorm, biases, gelu tanh, GQA 4/2, window 8)', dir: await layerNorm('starcoder2')},
      {label: 'small/gpt2 (Conv1D transposed at load, learned positions, gelu_new)', dir: await layerNorm('gpt2', 'small')},
      {label: 'falcon new_decoder_architecture, grouped fused qkv (transformers-saved)', dir: fixture('falcon-new-decoder')},
      {label: 'bloom ALiBi, embedding LayerNorm, fused qkv per head, tied (transformers-saved)', dir: fixture('bloom-tied')},
      {label: 'tiny/falcon-rw (ALiBi, MHA)', dir: await layerNorm('falcon-rw')},
      {label: 'mpt ALiBi, clip_qkv 0.5, bias-free LayerNorms (transformers-saved)', dir: fixture('mpt-clip-qkv')},
      {label: 'small/opt-post-ln (norms after the residual adds, project_in/out, positions at offset 2, relu)', dir: await layerNorm('opt-post-ln', 'small')},
      {label: 'tiny/gptj (interleaved rotary reordered at load, shared norm, lm_head bias)', dir: await layerNorm('gptj')},
      {label: 'small/gpt-bigcode (multi-query attention, learned positions)', dir: await layerNorm('gpt-bigcode', 'small')},
      {label: 'small/gpt-neo (local attention layers with a window, unscaled scores, learned positions)', dir: await layerNorm('gpt-neo', 'small')},
    ],
  }
}
