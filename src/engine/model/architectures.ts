// The Hugging Face architectures the engine runs, each with what transformers' config class gives it by default and what sets it apart.
import {ModelLoadError, quotedValue} from '../errors.js'
import {float32ToBf16Bits, bf16BitsToFloat32, f16BitsToFloat32, float32ToF16Bits} from './float-formats.js'
import type {MoeFamily} from './moe-config.js'
import {LAYERNORM_ARCHITECTURES} from './layernorm-family.js'
import {transformersActivation} from './activations.js'
import {APERTUS} from './apertus-config.js'
import type {ModelConfig} from './model-config.js'
import {switchOn} from './config-switch.js'

export interface ArchitectureTraits {
  /** transformers' default max_position_embeddings, used when config.json leaves it out. */
  defaultMaxPositions: number
  /** transformers' default head_dim when config.json leaves it out; null: hidden_size / num_attention_heads. */
  defaultHeadDim: number | null
  defaultActivation: 'silu' | 'gelu_pytorch_tanh'
  defaultTiedEmbeddings: boolean
  /** Gemma: RMSNorm scales by (1 + weight) and embeddings are multiplied by sqrt(hidden_size). */
  gemmaNorms: boolean
  /** Qwen2: biases on q/k/v (and only there). */
  qkvBias: boolean
  /** Qwen3: per-head RMSNorm of q and k. */
  qkNorm: boolean
  /** Qwen2/Qwen3: sliding_window applies only with use_sliding_window, to the layers layer_types / max_window_layers say. */
  qwenSlidingLayers: boolean
  /** Phi-3: q/k/v in one qkv_proj and gate/up in one gate_up_proj (split at load: fused-tensors.ts). */
  fusedProjections: boolean
  /** Gemma 2: sandwich norms, query_pre_attn_scalar, soft-capped attention scores and logits (gemma2Features). */
  gemma2: boolean
  /** The config.json key of the MLP activation (Gemma 2's config class reads hidden_activation). */
  activationKey: 'hidden_act' | 'hidden_activation'
  /** transformers' default sliding_window when config.json leaves it out (null: none). */
  defaultSlidingWindow: number | null
  /** Mixture-of-experts MLPs (moe-config.ts), or null for dense ones. */
  moe: MoeFamily | null
}

const BASE: ArchitectureTraits = {
  defaultMaxPositions: 2048, defaultHeadDim: null, defaultActivation: 'silu', defaultTiedEmbeddings: false,
  gemmaNorms: false, qkvBias: false, qkNorm: false, qwenSlidingLayers: false, fusedProjections: false, gemma2: false,
  activationKey: 'hidden_act', defaultSlidingWindow: null,
  moe: null,
}

export const ARCHITECTURES: Record<string, ArchitectureTraits> = {
  LlamaForCausalLM: BASE,
  MistralForCausalLM: {...BASE, defaultMaxPositions: 4096 * 32, defaultSlidingWindow: 4096},
  Qwen2ForCausalLM: {...BASE, defaultMaxPositions: 32768, qkvBias: true, qwenSlidingLayers: true, defaultSlidingWindow: 4096},
  // Qwen3's head size does not follow from hidden_size / heads.
  Qwen3ForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultHeadDim: 128, qkNorm: true, qwenSlidingLayers: true, defaultSlidingWindow: 4096},
  GemmaForCausalLM: {...BASE, defaultMaxPositions: 8192, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true, gemmaNorms: true},
  Phi3ForCausalLM: {...BASE, defaultMaxPositions: 4096, fusedProjections: true},
  // Its layers alternate sliding (4096) and full attention (sliding-windows.ts).
  Gemma2ForCausalLM: {
    ...BASE, defaultMaxPositions: 8192, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true,
    gemmaNorms: true, gemma2: true, activationKey: 'hidden_activation', defaultSlidingWindow: 4096,
  },
  // Mistral's attention under sparse MLPs; Qwen2's (q/k/v biases: qkv_bias) and Qwen3's (q/k norms; Qwen3MoeConfig has no
  // head_dim default, so hidden / heads) likewise.
  MixtralForCausalLM: {...BASE, defaultMaxPositions: 4096 * 32, moe: 'mixtral'},
  Qwen2MoeForCausalLM: {...BASE, defaultMaxPositions: 32768, qkvBias: true, qwenSlidingLayers: true, moe: 'qwen2_moe'},
  Qwen3MoeForCausalLM: {...BASE, defaultMaxPositions: 32768, qkNorm: true, qwenSlidingLayers: true, moe: 'qwen3_moe'},
  // Gemma 2's layout plus q/k norms, five sliding layers in six with their own rope base, no soft caps (gemma3-config.ts).
  Gemma3ForCausalLM: {
    ...BASE, defaultMaxPositions: 131072, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true,
    gemmaNorms: true, gemma2: true, qkNorm: true, activationKey: 'hidden_activation', defaultSlidingWindow: 4096,
  },
  // Gemma 3's block with norms scaling by the weight itself, v norms, wider full layers and per-layer inputs (gemma4-config.ts).
  Gemma4ForCausalLM: {
    ...BASE, defaultMaxPositions: 131072, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true,
    gemmaNorms: true, qkNorm: true, activationKey: 'hidden_activation', defaultSlidingWindow: 512,
  },
  // Gemma 4's per-layer inputs, KV-shared layers and norms, with AltUp streams, LAuReL and sparse MLP gates (gemma3n-config.ts).
  Gemma3nForCausalLM: {
    ...BASE, defaultMaxPositions: 32768, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true,
    gemmaNorms: true, qkNorm: true, activationKey: 'hidden_activation', defaultSlidingWindow: 512,
  },
  // Llama with Granite's multipliers; OLMo2's post-norms and whole-width q/k norms; SmolLM3's rope-free layers (rms-variants.ts).
  GraniteForCausalLM: BASE,
  // Granite SWA: Granite's multipliers, attention sinks, three layers in four sliding, a rope base per layer (granite-swa-config.ts).
  GraniteSWAForCausalLM: {...BASE, defaultMaxPositions: 8192, defaultTiedEmbeddings: true, defaultSlidingWindow: 128},
  Olmo2ForCausalLM: {...BASE, qkNorm: true},
  // OLMo2's block with sliding layers (4096, every 4th full) that rotate with their own base (olmo3-config.ts).
  Olmo3ForCausalLM: {...BASE, qkNorm: true, defaultSlidingWindow: 4096},
  SmolLM3ForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultTiedEmbeddings: true, qwenSlidingLayers: true},
  // Command-R: LayerNorm without bias, parallel attention and MLP, logit_scale, interleaved rope (rms-variants.ts).
  CohereForCausalLM: {...BASE, defaultMaxPositions: 8192, defaultTiedEmbeddings: true},
  // Command R7B: Command-R's block, rope only on its sliding layers (4096; every 4th layer full: cohere2-config.ts).
  Cohere2ForCausalLM: {...BASE, defaultMaxPositions: 8192, defaultTiedEmbeddings: true, defaultSlidingWindow: 4096},
  // OLMo: LayerNorm without weights, clip_qkv; OLMoE: OLMo2's q/k norms under pre-norms, clip_qkv, sparse MLPs (rms-variants.ts).
  OlmoForCausalLM: BASE,
  OlmoeForCausalLM: {...BASE, defaultMaxPositions: 4096, qkNorm: true, moe: 'olmoe'},
  // Granite's multipliers over Mixtral-style sparse MLPs, its experts fused per layer in the checkpoint (granite-moe.ts).
  GraniteMoeForCausalLM: {...BASE, moe: 'granitemoe'},
  // GraniteMoE with an ungated shared expert (shared_mlp) beside the routed ones (granite-moe.ts).
  GraniteMoeSharedForCausalLM: {...BASE, moe: 'granitemoeshared'},
  // Phi-3.5-MoE: sparsemixer-routed experts under LayerNorms with bias, attention and lm_head biases (phimoe-config.ts).
  PhiMoEForCausalLM: {...BASE, defaultMaxPositions: 131072, moe: 'phimoe'},
  PhimoeForCausalLM: {...BASE, defaultMaxPositions: 131072, moe: 'phimoe'}, // transformers' own name for it
  // gpt-oss: sinks, biases, alternate 128-token windows and YaRN over biased, clamped-SwiGLU experts (gpt-oss.ts).
  GptOssForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 64, defaultSlidingWindow: 128, moe: 'gpt_oss'},
  // GLM-4: q/k/v biases, an interleaved rope on half of each head, Phi-3's gate_up_proj; GLM-4-0414 adds sandwich norms
  // (glm-config.ts). Seed-OSS, Helium, ERNIE 4.5: Llama with their biases and defaults (llama-twists.ts, as GLM's).
  GlmForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, fusedProjections: true},
  Glm4ForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, fusedProjections: true},
  SeedOssForCausalLM: {...BASE, defaultMaxPositions: 524288},
  HeliumForCausalLM: {...BASE, defaultMaxPositions: 4096},
  Ernie4_5ForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultTiedEmbeddings: true},
  // Arcee (AFM): Llama with an ungated relu2 MLP; Nemotron: the same under LayerNorm1P, half of each head rotated (relu2-families.ts).
  ArceeForCausalLM: {...BASE, defaultMaxPositions: 4096},
  NemotronForCausalLM: {...BASE, defaultMaxPositions: 4096},
  // Jais 2: Arcee's ungated relu2 MLP under LayerNorms with bias, every projection biased (relu2-families.ts).
  Jais2ForCausalLM: {...BASE, defaultMaxPositions: 8192},
  // CWM: Llama without attention biases, three layers in four sliding, llama3 rope by default (cwm-config.ts).
  CwmForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, defaultSlidingWindow: 8192},
  // VaultGemma: Gemma 2 without its post-norms (tensor-renames.ts). Ministral: Mistral with layer_types (all sliding by default).
  VaultGemmaForCausalLM: {
    ...BASE, defaultMaxPositions: 8192, defaultHeadDim: 256, defaultActivation: 'gelu_pytorch_tanh', defaultTiedEmbeddings: true,
    gemmaNorms: true, gemma2: true, activationKey: 'hidden_activation', defaultSlidingWindow: 4096,
  },
  MinistralForCausalLM: {...BASE, defaultMaxPositions: 4096 * 32, defaultSlidingWindow: 4096},
  // Ministral 3: Mistral's layers, YaRN and Llama 4's query scale past its original context (ministral3-config.ts).
  Ministral3ForCausalLM: {...BASE, defaultMaxPositions: 262144, defaultHeadDim: 128},
  // Hunyuan dense: per-head q/k norms after rope, its dynamic-alpha rope a raised base (hunyuan-config.ts).
  HunYuanDenseV1ForCausalLM: {...BASE, qkNorm: true},
  // EXAONE 4: OLMo2's post-norms, per-head q/k norms, rope only on its sliding layers (4096; every 4th full: exaone4-config.ts).
  Exaone4ForCausalLM: {...BASE, qkNorm: true, defaultSlidingWindow: 4096},
  // Multi-head latent attention over DeepSeek's shared and grouped-routed experts (deepseek-config.ts).
  DeepseekV2ForCausalLM: {...BASE, moe: 'deepseek_v2'},
  DeepseekV3ForCausalLM: {...BASE, defaultMaxPositions: 4096, moe: 'deepseek_v3'},
  // GLM-4.5: q/k/v biases (attention_bias), half-rotary heads, optional q/k norms over V3's routing (glm4-moe-config.ts).
  Glm4MoeForCausalLM: {...BASE, defaultMaxPositions: 131072, qkvBias: true, moe: 'glm4_moe'},
  // MiniCPM3: DeepSeek-V2's latent attention over dense MLPs, with Granite-like multipliers (minicpm3-config.ts).
  MiniCPM3ForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultTiedEmbeddings: true},
  // GLM-4.7-Flash: DeepSeek-V3's layers (deepseek-config.ts).
  Glm4MoeLiteForCausalLM: {...BASE, defaultMaxPositions: 202752, moe: 'glm4_moe_lite'},
  // Qwen 3.5: Gated DeltaNet layers among gated full-attention ones with q/k norms and partial rope (qwen35-config.ts).
  Qwen3_5ForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultHeadDim: 256, qkNorm: true},
  // Qwen 3.5 MoE: the same layers over sparse MLPs with a gated shared expert in every layer (moe-config.ts).
  Qwen3_5MoeForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultHeadDim: 256, qkNorm: true, moe: 'qwen3_5_moe'},
  // Qwen3-Next: Qwen 3.5 MoE's layers with the linear projections fused by key-head group (hybrid-tensors.ts).
  Qwen3NextForCausalLM: {...BASE, defaultMaxPositions: 32768, defaultHeadDim: 256, qkNorm: true, moe: 'qwen3_next'},
  // Llama 4: NoPE layers among chunked rope layers, input-weighted experts with a shared one (llama4-config.ts).
  Llama4ForCausalLM: {...BASE, defaultMaxPositions: 4096 * 32, defaultHeadDim: 128, moe: 'llama4'},
  // Mamba-2 mixers among plain attention layers (mamba2-config.ts): Granite 4.0 hybrid with Granite's multipliers and
  // GraniteMoeShared's experts (or a dense shared_mlp), Bamba, and Mamba2 (mixers only).
  GraniteMoeHybridForCausalLM: {...BASE, moe: 'granitemoeshared'},
  BambaForCausalLM: {...BASE, defaultMaxPositions: 262144},
  Mamba2ForCausalLM: BASE,
  // Mamba-1 mixers (mamba1-config.ts): Mamba and Falcon-Mamba (mixers only, tied embeddings), Jamba (among rope-free
  // attention layers, over softmax top-2 experts without renormalising on every other layer).
  MambaForCausalLM: {...BASE, defaultTiedEmbeddings: true},
  FalconMambaForCausalLM: {...BASE, defaultTiedEmbeddings: true},
  JambaForCausalLM: {...BASE, defaultMaxPositions: 262144, moe: 'jamba'},
  // Nemotron-H: Mamba-2 mixers, rope-free attention and relu2 MLPs, each its own layer (nemotron-h-config.ts).
  NemotronHForCausalLM: {...BASE, defaultMaxPositions: 4096, defaultHeadDim: 128},
  // Falcon-H1: a Mamba-2 mixer beside the attention in every layer, muP multipliers (falcon-h1-config.ts).
  FalconH1ForCausalLM: {...BASE, defaultMaxPositions: 8192},
  // ERNIE 4.5 MoE: the dense one's layers, softmax routing chosen with a correction bias, shared experts (ernie45-moe-config.ts).
  Ernie4_5_MoeForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultTiedEmbeddings: true, moe: 'ernie4_5_moe'},
  // dots.llm1: Qwen3's attention over DeepSeek-V3's routing and shared experts (dots1-config.ts).
  Dots1ForCausalLM: {...BASE, qkNorm: true, qwenSlidingLayers: true, defaultSlidingWindow: 4096, moe: 'dots1'},
  // MiniMax-M2: Mixtral's layout with whole-width q/k norms, partial rope and sigmoid routing chosen with a bias (minimax-m2-config.ts).
  // FlexOlmo: OLMo2's post-norms and whole-width q/k norms over OLMoE's sparse MLPs (rms-variants.ts).
  FlexOlmoForCausalLM: {...BASE, defaultMaxPositions: 4096, qkNorm: true, moe: 'flex_olmo'},
  // Solar Open: q/k/v biases, GLM-4-MoE's routed and shared experts in every layer (solar-open-config.ts).
  SolarOpenForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, qkvBias: true, moe: 'solar_open'},
  // Hunyuan MoE: the dense Hunyuan's attention over softmax-routed experts and an ungated shared MLP (hunyuan-moe-config.ts).
  HunYuanMoEV1ForCausalLM: {...BASE, qkNorm: true, moe: 'hunyuan_v1_moe'},
  // K-EXAONE: EXAONE 4's attention in a pre-norm block over DeepSeek-V3's routing and shared experts (exaone-moe-config.ts).
  ExaoneMoeForCausalLM: {...BASE, qkNorm: true, defaultSlidingWindow: 4096, moe: 'exaone_moe'},
  MiniMaxM2ForCausalLM: {...BASE, defaultMaxPositions: 196608, defaultHeadDim: 128, qkNorm: true, moe: 'minimax_m2'},
  // LFM2: gated short convolutions among attention layers with per-head q/k norms; LFM2-MoE: sigmoid-routed experts past its dense layers (lfm2-config.ts).
  Lfm2ForCausalLM: {...BASE, defaultMaxPositions: 128000, defaultTiedEmbeddings: true, qkNorm: true},
  Lfm2MoeForCausalLM: {...BASE, defaultMaxPositions: 128000, defaultTiedEmbeddings: true, qkNorm: true, moe: 'lfm2_moe'},
  // Apertus: q/k norms before rope, Nemotron's ungated MLP with xIELU's learned scalars, llama3 rope by default (apertus-config.ts).
  ApertusForCausalLM: {...BASE, defaultMaxPositions: 65536, qkNorm: true},
  // BitNet b1.58: norms before o_proj and down_proj, relu2, AutoBitLinear's ternary weights and int8 activations (bitnet-config.ts).
  BitNetForCausalLM: BASE,
  // NanoChat: weightless norms (one on the embeddings too), sign-flipped rope, q/k norms after it, relu2 MLP, soft cap (nanochat-config.ts).
  NanoChatForCausalLM: {...BASE, qkNorm: true},
  // DiffLlama: Llama's layers with differential attention over each pair of heads (diffllama-config.ts).
  DiffLlamaForCausalLM: BASE,
  // DBRX: LayerNorms without bias, clamped q/k/v from a fused Wqkv, softmax experts fused per layer (dbrx-config.ts, dbrx-tensors.ts).
  DbrxForCausalLM: {...BASE, moe: 'dbrx'},
  // Cohere2-MoE: Command R7B's block over softmax (or sigmoid) routed experts, an ungated shared MLP, a dense prefix (cohere2-moe-config.ts).
  // AFMoE (Arcee Trinity): gated attention with q/k norms, rope on sliding layers only, sandwich norms, sigmoid-routed experts (afmoe-config.ts).
  AfmoeForCausalLM: {...BASE, defaultMaxPositions: 16384, defaultHeadDim: 128, qkNorm: true, defaultSlidingWindow: 1024, moe: 'afmoe'},
  Cohere2MoeForCausalLM: {...BASE, defaultMaxPositions: 8192, defaultHeadDim: 128, defaultTiedEmbeddings: true, defaultSlidingWindow: 4096, moe: 'cohere2_moe'},
  // Kimi Linear: Kimi Delta Attention layers among NoPE latent-attention ones over DeepSeek-V3's experts (kimi-linear-config.ts).
  KimiLinearForCausalLM: {...BASE, defaultMaxPositions: 1048576, moe: 'kimi_linear'},
  // Mistral Small 4: DeepSeek-V3's latent attention and experts, softmax-routed, stored fused; Ministral 3's YaRN and query scale (mistral4-config.ts).
  Mistral4ForCausalLM: {...BASE, defaultMaxPositions: 1048576, moe: 'mistral4'},
  // OLMo Hybrid: Gated DeltaNet layers (projections apart, beta doubled) among OLMo 3's post-norm attention layers (olmo-hybrid-config.ts).
  OlmoHybridForCausalLM: {...BASE, defaultMaxPositions: 65536, qkNorm: true},
  // Zamba2: Mamba-2 layers, some first running a shared transformer block with per-use adapters (zamba2-config.ts).
  Zamba2ForCausalLM: {...BASE, defaultMaxPositions: 4096, defaultTiedEmbeddings: true},
  // Zamba (v1): Zamba2's layout over multi-head Mamba-1 layers, one shared block without rope or adapters (zamba-config.ts).
  ZambaForCausalLM: {...BASE, defaultMaxPositions: 4096, defaultTiedEmbeddings: true},
  // Emu3's language model: Llama's layers under Emu3TextConfig's defaults (rope base 1e6, 9216 positions: config-class-defaults.ts).
  Emu3ForCausalLM: {...BASE, defaultMaxPositions: 9216},
  // HyperCLOVA X SEED: Granite's multipliers with post-norms on each sublayer's output, logits times logits_scaling (hyperclovax-config.ts).
  HyperCLOVAXForCausalLM: BASE,
  // Youtu-LLM: DeepSeek-V3's latent attention (interleaved rope by default) over Qwen3's dense MLPs, tied (deepseek-config.ts).
  YoutuForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultTiedEmbeddings: true},
  // Granite MoE SWA: Granite SWA's attention (sinks, sliding layers, a rope base per layer) over GraniteMoeShared's experts (granite-swa-config.ts).
  GraniteMoeSWAForCausalLM: {...BASE, defaultSlidingWindow: 128, moe: 'granitemoeshared'},
  // Hy3: Llama's attention with per-head q/k norms over DeepSeek-V3's one-group sigmoid routing and a shared MLP (hy-v3-config.ts).
  HYV3ForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, qkNorm: true, moe: 'hy_v3'},
  // Aria's language model: Llama's attention over softmax top-k experts stored fused [in, out] and a shared MLP (aria-config.ts).
  AriaTextForCausalLM: {...BASE, moe: 'aria_text'},
  // A.X K1: DeepSeek-V3's layers with an RMSNorm on each sparse layer's MLP output (deepseek-config.ts).
  AXK1ForCausalLM: {...BASE, defaultMaxPositions: 32768, moe: 'axk1'},
  // Mellum: Qwen3-MoE's layers with sliding layers of their own rope base and dense layers where mlp_layer_types says (mellum-config.ts).
  MellumForCausalLM: {...BASE, defaultMaxPositions: 131072, defaultHeadDim: 128, qkNorm: true, defaultSlidingWindow: 1024, moe: 'mellum'},
}
/** The RMSNorm families above, then the LayerNorm family (OPT, GPT-NeoX, GPT-2: layernorm-family.ts; Phi, StableLM, StarCoder2, GPT-J, GPTBigCode, GPT-Neo: layernorm-more.ts; BLOOM, Falcon, MPT: alibi-family.ts). */
export const SUPPORTED_ARCHITECTURES = [...Object.keys(ARCHITECTURES), ...LAYERNORM_ARCHITECTURES]

/**
 * The supported list for a refusal, short enough for one line: the whole list has grown past 90 names, so the names
 * sharing the refused one's family prefix (its first word, case aside) and where the rest are listed.
 */
export function supportedArchitecturesHint(refused: string | null): string {
  const family = /^[A-Z]?[a-z]+/.exec(refused ?? '')?.[0]?.toLowerCase()
  const near = family ? SUPPORTED_ARCHITECTURES.filter((name) => name.toLowerCase().startsWith(family)).slice(0, 8) : []
  const where = `README.md (Models) lists the families of the ${SUPPORTED_ARCHITECTURES.length} supported architectures`
  return near.length > 0 ? `supported of that family: ${near.join(', ')}; ${where}` : where
}

/** Architectures that look close to a supported one but need what the engine does not have. */
export const NEAR_MISSES: Record<string, string> = {
  Phi3SmallForCausalLM: 'Phi-3-small needs blocksparse attention, gegelu and muP scaling',
  DeepseekV32ForCausalLM: "DeepSeek-V3.2 needs its lightning indexer (DeepSeek sparse attention) over V3's latent attention",
  // transformers 5.18's newest families, whose pieces the engine lacks.
  DeepseekV4ForCausalLM: 'DeepSeek-V4 needs compressed sparse attention (compressed KV blocks chosen by a lightning indexer beside a sliding window), hyper-connections over several residual streams, hash-routed MoE layers and sqrtsoftplus routing',
  Qwen4ExpForCausalLM: "Qwen4-Exp needs hyper-connections over several residual streams around Qwen 3.5's Gated DeltaNet and MoE layers, and hashed n-gram per-layer embeddings and QSA's token indexer where its config sets them",
  Qwen4ExpForConditionalGeneration: "Qwen4-Exp's language model needs hyper-connections over several residual streams around Qwen 3.5's Gated DeltaNet and MoE layers, and hashed n-gram per-layer embeddings and QSA's token indexer where its config sets them",
  GlmMoeDsaForCausalLM: "GLM-5 (GlmMoeDsa) needs DeepSeek sparse attention's lightning indexer over V3's latent attention",
  // Lightning attention is S <- exp(-slope) S + k^T v, o = q S: no kernel here runs it exactly (Mamba-2's scan scales
  // its input by a softplus dt and gates its norm by silu; the delta rules subtract the state's prediction).
  MiniMaxForCausalLM: "MiniMax-Text-01 needs lightning attention (a linear attention decaying by a fixed per-head, per-layer slope, its RMSNorm over all heads gated by a sigmoid), residuals taken after the input norm and scaled by per-kind alpha / beta factors, beside softmax attention with partial rope and experts",
  LagunaForCausalLM: "Laguna needs a query head count per layer (num_attention_heads_per_layer), a softplus gate per attention head (g_proj) and a rotary fraction per layer type (rope_parameters: half of the full layers' heads, all of the sliding layers' by default)",
  ZayaForCausalLM: "ZAYA needs compressed convolutional attention (q/k mixed by causal convolutions, values from a delayed recurrent state), its residual scaling and an MLP router",
  HYV4ForCausalLM: "Hy4 (HYV4) needs DeepSeek-V4's hyper-connections over several residual streams and DeepSeek sparse attention's lightning indexer",
  AXK2ForCausalLM: "A.X K2 (AXK2) needs DeepSeek-V3.2's lightning indexer (DeepSeek sparse attention) and its gated RMSNorm",
  InklingForCausalLM: 'Inkling needs hidden-state-conditioned relative-position logits, sliding layers with their own head counts and sizes, short convolutions in every layer and log-scaled attention',
  HrmTextForCausalLM: "HRM-Text needs its hierarchical recurrent stacks (the same layers run for several cycles) and a prefix-LM bidirectional mask",
  MiMoV2FlashForCausalLM: "MiMo-V2-Flash needs a KV head count per layer (its sliding layers have twice the full ones'), value heads narrower than key heads outside latent attention, and sinks on the sliding layers only",
  CohereCompassForCausalLM: "Cohere Compass needs its pre-rotated rope (each layer type's first mrope_section frequencies reordered, even ones then odd) over Command R7B's block",
  LongcatFlashForCausalLM: "LongCat-Flash needs shortcut-connected MoE (two attention and MLP sublayers per layer around one MoE branch) with zero-computation experts",
}

/** The MLP activation as config.json names it; Gemma's legacy "gelu" means the tanh form (as transformers reads it). */
export function parseActivation(config: Record<string, unknown>, architecture: string, source: string): ModelConfig['hiddenAct'] {
  const traits = ARCHITECTURES[architecture]!
  const raw = config[traits.activationKey] ?? traits.defaultActivation
  // Only Apertus's checkpoints hold xIELU's learned scalars (apertus-config.ts).
  if (architecture === APERTUS && raw === 'xielu') return 'xielu'
  // GemmaConfig turns the original releases' hidden_act "gelu" into the tanh form; Gemma 2 and 3 run what they name.
  if (traits.gemmaNorms && traits.activationKey === 'hidden_act' && raw === 'gelu') return 'gelu_pytorch_tanh'
  return transformersActivation(raw, traits.activationKey, source)
}

/** Gemma 2's attention scale and soft caps (transformers' Gemma2Config defaults: query_pre_attn_scalar 256, caps 50 and 30; null: no cap). */
export function gemma2Features(config: Record<string, unknown>, source: string): {attentionScale: number; attnLogitSoftcap: number; finalLogitSoftcap: number} {
  const positive = (key: string, fallback: number): number => {
    const value = config[key] === undefined ? fallback : config[key]
    if (value === null) return 0
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive number or null, got ${quotedValue(value)}.`)
    return value
  }
  if (switchOn(config, 'use_bidirectional_attention', source)) throw new ModelLoadError(`${source}: use_bidirectional_attention is not supported (a causal decoder only).`)
  const scalar = positive('query_pre_attn_scalar', 256)
  if (scalar === 0) throw new ModelLoadError(`${source}: "query_pre_attn_scalar" must be a positive number.`)
  return {attentionScale: scalar ** -0.5, attnLogitSoftcap: positive('attn_logit_softcapping', 50), finalLogitSoftcap: positive('final_logit_softcapping', 30)}
}

/** Gemma's embedding multiplier sqrt(hidden_size), rounded to the checkpoint's dtype as transformers makes it. */
export function gemmaEmbeddingScale(hiddenSize: number, torchDtype: string): number {
  const scale = Math.sqrt(hiddenSize)
  if (torchDtype === 'bfloat16') return bf16BitsToFloat32(float32ToBf16Bits(scale))
  if (torchDtype === 'float16') return f16BitsToFloat32(float32ToF16Bits(scale))
  return Math.fround(scale)
}
