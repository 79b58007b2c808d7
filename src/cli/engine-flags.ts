// The one place that turns CLI flags into an EngineConfig: shared by generate, serve and bench.
import {Flags} from '@oclif/core'
import {KV_POLICIES, QUANTIZATIONS, makeEngineConfig, type EngineConfig, type KvPolicy, type Quantization, type WeightDtype} from '../engine/config.js'
import type {GemmMode} from '../engine/cublas-search.js'
import {InvalidRequestError} from '../engine/errors.js'
import {parseModelSpec} from '../engine/hub/model-spec.js'
import {resolveModel} from '../engine/hub/resolve-model.js'
import {BUILTIN_MODEL_DIR} from '../engine/model/builtin-model.js'
import {readChatTemplateArgument} from '../engine/model/chat-template-source.js'
import {makeSpeculativeConfig, parseSpeculativeConfigJson, type SpeculativeConfig} from '../engine/spec-decode/spec-config.js'
import {numberFlag, seedFlag} from './number-flag.js'

/** Parses "512MiB", "2GB", "1.5g", "1048576" into bytes; min: the least that makes sense for the flag. */
export function parseByteSize(text: string, flagName: string, options: {min?: number} = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(text)
  if (!match) throw new InvalidRequestError(`--${flagName}: cannot read "${text}" as a size (e.g. 512MiB, 2GB)`, {param: flagName})
  const unit = match[2]!.toLowerCase()
  const power = {'': 0, k: 1, m: 2, g: 3, t: 4}[unit]!
  const base = match[3]!.toLowerCase().startsWith('i') || unit !== '' ? 1024 : 1
  const bytes = Math.floor(Number(match[1]) * base ** power)
  // Beyond 2^53 bytes (8 PiB) the count is no longer exact, and no machine has that much.
  if (!Number.isSafeInteger(bytes)) throw new InvalidRequestError(`--${flagName}: ${text} is more bytes than any machine has`, {param: flagName})
  if (bytes < (options.min ?? 0)) throw new InvalidRequestError(`--${flagName} must be at least ${options.min} byte${options.min === 1 ? "" : "s"}, got ${text}`, {param: flagName})
  return bytes
}

/** More compute threads than this is a typo: each is an OS thread started at load (100000 of them hang the machine). */
export const MAX_THREADS = 1024

/** vLLM's --dtype spellings, so a vLLM command line runs as written. */
const VLLM_DTYPE_NAMES: Record<string, WeightDtype> = {float32: 'f32', float: 'f32', bfloat16: 'bf16', float16: 'f16', half: 'f16'}

export const engineFlags = {
  model: Flags.string({char: 'm', description: 'Model: a local Hugging Face-format directory, a GGUF file, or a hub id ORG/NAME[@revision] (default: the built-in 6M-parameter tinychat demo model)'}),
  revision: Flags.string({description: 'Hub branch, tag or commit (same as ORG/NAME@revision)'}),
  'served-model-name': Flags.string({description: 'Model name reported to clients (default: the hub id, the directory name, or a GGUF file name without .gguf)'}),
  device: Flags.string({description: 'Compute backend', options: ['auto', 'cpu', 'cuda'], default: 'auto'}),
  dtype: Flags.string({description: "Weight format on the compute path (auto: f32 on CPU, bf16 on CUDA); vLLM's names float32/float, bfloat16, float16/half work too", options: ['auto', 'f32', 'bf16', 'f16', ...Object.keys(VLLM_DTYPE_NAMES)], default: 'auto'}),
  quantization: Flags.string({description: 'Quantize the weights at load, in ggml block formats (CPU; q4_k = Q4_K_M: q6_k output matrix, and attn_v / ffn_down in a third of the layers)', options: [...QUANTIZATIONS]}),
  'batch-invariant': Flags.boolean({description: 'CPU: float linear layers sum in one order at any batch size (same logits alone and batched; slower prefill)', default: false}),
  threads: Flags.integer({description: 'CPU compute threads (default 0 = one per core)', default: 0, min: 0, max: MAX_THREADS}),
  'block-size': Flags.integer({description: 'Tokens per KV block', default: 16, min: 1, max: 256}),
  'kv-memory': Flags.string({description: 'KV cache size (e.g. 512MiB, 2GiB; default 1GiB on CPU, --gpu-memory-utilization of free memory on CUDA)'}),
  'num-blocks': Flags.integer({description: 'KV cache size in blocks (overrides --kv-memory)', min: 1}),
  gemm: Flags.string({description: 'GPU: GEMM for the linear layers (auto: cuBLAS when libcublas loads, else the WMMA kernel, and our GEMV kernel for 1-4 rows; default $PAGEDLLM_GEMM or auto)', options: ['auto', 'cublas', 'wmma']}),
  'enforce-eager': Flags.boolean({description: 'GPU: run every step eagerly (no CUDA graphs for decode)', default: false}),
  'gpu-memory-utilization': numberFlag({description: 'GPU: fraction of device memory for weights + KV', default: 0.9}),
  'swap-space': Flags.string({description: 'Host swap space for preempted sequences (e.g. 256MiB)', default: '256MiB'}),
  'max-model-len': Flags.integer({description: 'Context limit (default: the model config)', min: 1}),
  'max-num-seqs': Flags.integer({description: 'Most sequences in one step', default: 256, min: 1}),
  'max-num-batched-tokens': Flags.integer({description: 'Most tokens in one step (prefill chunks + decodes)', default: 2048, min: 1}),
  'chunked-prefill': Flags.boolean({description: 'Split long prompts over several steps (on by default)', default: true, allowNo: true}),
  'prefix-caching': Flags.boolean({description: 'Reuse KV blocks of common prompt prefixes (on by default)', default: true, allowNo: true}),
  'async-scheduling': Flags.boolean({description: "Queue each step before the previous one's sampled tokens are back, so the device never waits for the host between steps (on by default)", default: true, allowNo: true}),
  policy: Flags.string({description: 'KV allocation policy (baselines for comparison)', options: [...KV_POLICIES], default: 'paged'}),
  'fair-share': Flags.boolean({description: 'While requests wait, one holding more than its share of --max-num-seqs gives sequences up (paged policy; on by default)', default: true, allowNo: true}),
  'preemption-mode': Flags.string({description: 'What to do when KV memory runs out (auto: swap on CPU, where it is a memory copy; on GPU recompute single sequences, swap groups)', options: ['auto', 'recompute', 'swap'], default: 'auto'}),
  seed: seedFlag({description: 'Seed for requests that bring none (default 0)', default: 0}),
  'speculative-method': Flags.string({description: 'Speculative decoding: ngram = prompt lookup (propose what followed the last n tokens earlier in the text); draft = a small draft model sharing the tokenizer', options: ['ngram', 'draft']}),
  'num-speculative-tokens': Flags.integer({description: 'Speculative decoding: most tokens proposed per sequence per step (default 8 for ngram, 4 for draft)', min: 1, max: 64}),
  'ngram-min': Flags.integer({description: 'Speculative decoding (ngram): shortest suffix matched (default 2, or --ngram-max when smaller)', min: 1}),
  'ngram-max': Flags.integer({description: 'Speculative decoding (ngram): longest suffix matched (default 4)', min: 1}),
  'speculative-model': Flags.string({description: 'Speculative decoding (draft): the draft model (HF directory or .gguf file) sharing the target\'s tokenizer (default: the target itself, with --speculative-quantization)'}),
  'speculative-quantization': Flags.string({description: 'Speculative decoding (draft): quantize the draft at load; without --speculative-model the draft is the target\'s own weights quantized (CPU)', options: [...QUANTIZATIONS]}),
  'speculative-max-batch': Flags.integer({description: 'Speculative decoding: skip it in steps with more decoding sequences than this (default 4 for ngram, 2 for draft: measured on CPU)', min: 1}),
  'speculative-adaptive': Flags.boolean({description: 'Speculative decoding: back off on low acceptance and large batches (on by default)', default: true, allowNo: true}),
  'speculative-config': Flags.string({description: 'Speculative decoding as one JSON object, vLLM-style: {"method":"ngram","num_speculative_tokens":4,"prompt_lookup_min":1,"prompt_lookup_max":4} or {"method":"draft","model":DIR,"num_speculative_tokens":4,"quantization":"q4_0"}'}),
}

/** For the commands that render chats (serve, generate --chat); bench renders none, so it has no such flag to ignore. */
export const chatTemplateFlag = {
  'chat-template': Flags.string({
    description:
      "The chat template (vLLM's flag): a Jinja file's path, or the template text itself (text with { } or a newline that names no file); it replaces the model's, or gives a model without one (a GPT-2 GGUF) a chat",
  }),
}

/** The speculative decoding flags (or --speculative-config) as a config; undefined when speculation is off. */
export function speculativeConfigFromFlags(flags: Record<string, any>): SpeculativeConfig | undefined {
  const fromJson = flags['speculative-config'] === undefined ? {} : parseSpeculativeConfigJson(flags['speculative-config'])
  const method = flags['speculative-method'] ?? (fromJson as {method?: string}).method
  if (method === undefined) {
    const stray = ['num-speculative-tokens', 'ngram-min', 'ngram-max', 'speculative-model', 'speculative-quantization', 'speculative-max-batch'].find((name) => flags[name] !== undefined)
    if (stray !== undefined) throw new InvalidRequestError(`--${stray} needs --speculative-method (or --speculative-config)`, {param: stray})
    return undefined
  }
  // Flags given on the command line win over the JSON's keys.
  const fromFlags = Object.entries({
    numSpeculativeTokens: flags['num-speculative-tokens'],
    ngramMin: flags['ngram-min'],
    ngramMax: flags['ngram-max'],
    maxBatchSize: flags['speculative-max-batch'],
    adaptive: flags['speculative-adaptive'] === false ? false : undefined,
    draftModel: flags['speculative-model'],
    draftQuantization: flags['speculative-quantization'],
  }).filter(([, value]) => value !== undefined)
  return makeSpeculativeConfig({...fromJson, ...Object.fromEntries(fromFlags), method})
}

export function engineConfigFromFlags(flags: Record<string, any>, modelPath: string): EngineConfig {
  const utilization = flags['gpu-memory-utilization']
  if (!(utilization > 0 && utilization <= 1))
    throw new InvalidRequestError(`--gpu-memory-utilization must be in (0, 1], got ${flags['gpu-memory-utilization']}`, {param: 'gpu-memory-utilization'})
  // The quantized format is the weight format (engine-parts): a --dtype beside it would silently do nothing.
  if (flags.quantization !== undefined && flags.dtype !== undefined && flags.dtype !== 'auto')
    throw new InvalidRequestError(`--dtype ${flags.dtype} cannot be used with --quantization ${flags.quantization}: the weights are stored as ${flags.quantization}`, {param: 'dtype'})
  return makeEngineConfig({
    modelPath,
    device: flags.device,
    weightDtype: VLLM_DTYPE_NAMES[flags.dtype] ?? flags.dtype,
    quantization: flags.quantization as Quantization | undefined,
    batchInvariant: flags['batch-invariant'],
    threads: flags.threads,
    blockSize: flags['block-size'],
    kvMemoryBytes: flags['kv-memory'] === undefined ? undefined : parseByteSize(flags['kv-memory'], 'kv-memory'),
    numBlocks: flags['num-blocks'],
    gpuMemoryUtilization: utilization,
    gemm: flags.gemm as GemmMode | undefined,
    enforceEager: flags['enforce-eager'],
    swapSpaceBytes: parseByteSize(flags['swap-space'], 'swap-space'),
    maxModelLen: flags['max-model-len'],
    maxNumSeqs: flags['max-num-seqs'],
    maxNumBatchedTokens: flags['max-num-batched-tokens'],
    enableChunkedPrefill: flags['chunked-prefill'],
    hostOverlap: flags['async-scheduling'] ? 'async' : 'outputs',
    enablePrefixCaching: flags['prefix-caching'],
    policy: flags.policy as KvPolicy,
    preemptionMode: flags['preemption-mode'],
    fairShare: flags['fair-share'],
    seed: flags.seed,
    speculative: speculativeConfigFromFlags(flags),
    chatTemplate: flags['chat-template'] === undefined ? undefined : readChatTemplateArgument(flags['chat-template']),
  })
}

/** --model (with --revision) as a local directory, downloading a hub id into the HF cache if needed; undefined without --model. */
export async function resolveModelFlag(flags: Record<string, any>): Promise<string | undefined> {
  // A revision names a commit of a hub repository: with a directory or no --model it would silently do nothing.
  if (flags.revision !== undefined && (!flags.model || parseModelSpec(flags.model).kind !== 'hub'))
    throw new InvalidRequestError(`--revision needs a hub model id (--model ORG/NAME); ${flags.model ? `${flags.model} is a local path` : 'no --model is given'}`, {param: 'revision'})
  return flags.model ? resolveModel(flags.model, {revision: flags.revision}) : undefined
}

/** Resolves --model (none: the built-in model) and builds the engine config. */
export async function resolveEngineConfig(flags: Record<string, any>): Promise<EngineConfig> {
  const modelPath = await resolveModelFlag(flags)
  if (modelPath === undefined) return {...engineConfigFromFlags(flags, BUILTIN_MODEL_DIR), servedModelName: flags['served-model-name']}
  const spec = parseModelSpec(flags.model)
  // A hub snapshot directory is named by its commit; clients know the model by its id, as with vLLM.
  const servedModelName = flags['served-model-name'] ?? (spec.kind === 'hub' ? spec.repoId : undefined)
  return {...engineConfigFromFlags(flags, modelPath), servedModelName}
}
