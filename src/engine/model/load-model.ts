// Loads a Hugging Face model directory: config, tensor index with shape checks, tokenizer and generation defaults.
import {existsSync, readdirSync, statSync} from 'node:fs'
import {basename, join, resolve} from 'node:path'
import {InvalidRequestError, ModelLoadError} from '../errors.js'
import {makeSamplingParams} from '../sampling-params.js'
import {isGgufFile, isGgufPath} from './gguf-file.js'
import {pairFp8Scales, refuseCutFp8Weights} from './fp8-checkpoint.js'
import {splitFusedProjections} from './fused-tensors.js'
import {splitGraniteMoeExperts} from './granite-moe.js'
import {splitGptOssExperts} from './gpt-oss.js'
import {llama4Tensors, withExpertLayout} from './llama4-tensors.js'
import {dbrxCheckpointName, dbrxTensors} from './dbrx-tensors.js'
import {layerNormTensorShapes, layerNormTensors} from './layernorm-family.js'
import {languageModelTensorName} from './gemma3-config.js'
import {gemma4TensorShapes, gemma4Tensors} from './gemma4-tensors.js'
import {loadGgufModel} from './gguf-model.js'
import {readJsonObject, readModelConfig, type ModelConfig} from './model-config.js'
import {mptMlpWidthFromTensors} from './mpt-mlp-width.js'
import {moeCheckpointName, moeEngineName, moeLayerTensorShapes} from './moe-config.js'
import {deepseekTensorShapes, deepseekTensors} from './deepseek-config.js'
import {rmsVariantTensorShapes, rmsVariantTensors} from './rms-variants.js'
import {checkpointTensorNames, engineTensorNames} from './tensor-renames.js'
import {interleavedRopeRows} from './llama-twists.js'
import {xieluScalarsAsVectors, xieluTensorShapes} from './apertus-config.js'
import {diffLambdaShapes} from './diffllama-config.js'
import {hybridMixerShapes, splitHybridProjections} from './hybrid-tensors.js'
import {olmoHybridLayerShapes} from './olmo-hybrid-tensors.js'
import {mamba2CheckpointName, mamba2EngineTensors} from './mamba2-tensors.js'
import {mamba2HasMlp} from './mamba2-config.js'
import {kimiLinearCheckpointName, kimiLinearEngineTensors} from './kimi-linear-tensors.js'
import {zamba2CheckpointName, zamba2EngineTensors} from './zamba2-tensors.js'
import {zambaCheckpointName, zambaEngineTensors} from './zamba-tensors.js'
import {readCheckpointTensors, type TensorInfo} from './safetensors.js'
import {Tokenizer} from './tokenizer.js'

export interface GenerationDefaults {
  eosTokenIds: number[]
  /** The sampling generation_config.json recommends; the server applies it to requests that leave a field out (vLLM's --generation-config auto). */
  sampling: ModelSamplingDefaults
}

/** generation_config.json's sampling fields, as vLLM reads them (max_new_tokens caps max_tokens). */
export interface ModelSamplingDefaults {
  temperature?: number
  topP?: number
  topK?: number
  minP?: number
  repetitionPenalty?: number
  maxTokens?: number
}

/** generation_config.json key -> ModelSamplingDefaults field: the keys vLLM takes as default sampling parameters. */
export const GENERATION_CONFIG_SAMPLING_KEYS: Record<string, keyof ModelSamplingDefaults> = {
  temperature: 'temperature', top_p: 'topP', top_k: 'topK', min_p: 'minP', repetition_penalty: 'repetitionPenalty', max_new_tokens: 'maxTokens',
}

export interface LoadedModel {
  dir: string
  name: string
  config: ModelConfig
  /** The tensors the forward pass uses, in expectedTensorShapes order (extras in the checkpoint are dropped). */
  tensors: TensorInfo[]
  tokenizer: Tokenizer
  generationConfig: GenerationDefaults
  /** What --dtype auto keeps the float matrices in on CPU when not f32 (a GGUF file's own f16/bf16). */
  defaultWeightFormat?: 'f32' | 'f16' | 'bf16'
}

/** Every tensor a model with this config needs, with the shape the config implies (HF Llama names, [out, in] matrices). */
export function expectedTensorShapes(config: ModelConfig): {name: string; shape: number[]}[] {
  if (config.layerNorm) return layerNormTensorShapes(config)
  if (config.gemma4) return gemma4TensorShapes(config)
  const {hiddenSize: hidden, intermediateSize: intermediate, numHeads, numKvHeads, headDim, vocabSize} = config
  const qSize = numHeads * headDim
  const kvSize = numKvHeads * headDim
  const shapes: {name: string; shape: number[]}[] = [{name: 'model.embed_tokens.weight', shape: [vocabSize, hidden]}]
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`
    if (config.hybrid) {
      if (config.hybrid.olmoHybrid) {
        shapes.push(...olmoHybridLayerShapes(config, config.hybrid, layer, prefix))
        continue
      }
      // Qwen 3.5: a Gated DeltaNet layer or a gated attention, then the usual norms and MLP.
      shapes.push({name: `${prefix}.input_layernorm.weight`, shape: [hidden]}, ...hybridMixerShapes(config, config.hybrid, layer, prefix))
      if (config.hybrid.mamba1?.noMlp || (config.hybrid.mamba2 && !mamba2HasMlp(config.hybrid.mamba2, layer))) continue // Mamba2, Mamba, Falcon-Mamba, Nemotron-H's lone mixers: norm and mixer only
      shapes.push({name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden]},
        ...(config.moe?.sparseLayers[layer] ? moeLayerTensorShapes(config.moe, prefix, hidden)
          : [{name: `${prefix}.mlp.gate_proj.weight`, shape: [intermediate, hidden]}, {name: `${prefix}.mlp.up_proj.weight`, shape: [intermediate, hidden]}, {name: `${prefix}.mlp.down_proj.weight`, shape: [hidden, intermediate]}]))
      continue
    }
    shapes.push(
      {name: `${prefix}.input_layernorm.weight`, shape: [hidden]},
      {name: `${prefix}.self_attn.q_proj.weight`, shape: [qSize, hidden]},
      {name: `${prefix}.self_attn.k_proj.weight`, shape: [kvSize, hidden]},
      {name: `${prefix}.self_attn.v_proj.weight`, shape: [kvSize, hidden]},
    )
    if (config.attentionBias) {
      shapes.push(
        {name: `${prefix}.self_attn.q_proj.bias`, shape: [qSize]},
        {name: `${prefix}.self_attn.k_proj.bias`, shape: [kvSize]},
        {name: `${prefix}.self_attn.v_proj.bias`, shape: [kvSize]},
      )
    }
    if (config.attentionOutputBias) shapes.push({name: `${prefix}.self_attn.o_proj.bias`, shape: [hidden]})
    if (config.attentionSinks) shapes.push({name: `${prefix}.self_attn.sinks`, shape: [numHeads]})
    if (config.qkNorm) {
      shapes.push({name: `${prefix}.self_attn.q_norm.weight`, shape: [headDim]}, {name: `${prefix}.self_attn.k_norm.weight`, shape: [headDim]})
    }
    shapes.push(
      {name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, qSize]},
      {name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden]},
      ...(config.sandwichNorms
        ? [{name: `${prefix}.pre_feedforward_layernorm.weight`, shape: [hidden]}, {name: `${prefix}.post_feedforward_layernorm.weight`, shape: [hidden]}]
        : []),
      {name: `${prefix}.mlp.gate_proj.weight`, shape: [intermediate, hidden]},
      {name: `${prefix}.mlp.up_proj.weight`, shape: [intermediate, hidden]},
      {name: `${prefix}.mlp.down_proj.weight`, shape: [hidden, intermediate]},
    )
    // A sparse layer's router and experts take the place of the dense MLP's three matrices.
    if (config.moe?.sparseLayers[layer]) shapes.splice(-3, 3, ...moeLayerTensorShapes(config.moe, prefix, hidden))
    if (config.moe?.sparseLayers[layer] && config.moe.postMlpNorm) shapes.push({name: `${prefix}.post_feedforward_layernorm.weight`, shape: [hidden]})
    if (config.mlpBias) shapes.push({name: `${prefix}.mlp.gate_proj.bias`, shape: [intermediate]}, {name: `${prefix}.mlp.up_proj.bias`, shape: [intermediate]}, {name: `${prefix}.mlp.down_proj.bias`, shape: [hidden]})
    if (config.hiddenAct === 'xielu') shapes.push(...xieluTensorShapes(prefix))
    if (config.rmsVariant?.diffAttention) shapes.push(...diffLambdaShapes(prefix, headDim))
  }
  shapes.push({name: 'model.norm.weight', shape: [hidden]})
  if (!config.tieWordEmbeddings) shapes.push({name: 'lm_head.weight', shape: [vocabSize, hidden]})
  // MiniCPM3 has both: latent attention and Granite's multipliers (which change no tensor).
  return deepseekTensorShapes(config, config.rmsVariant ? rmsVariantTensorShapes(config.rmsVariant, shapes, qSize, kvSize) : shapes)
}

/** Checks presence and shape of every expected tensor; returns them in expected order. */
export function selectModelTensors(config: ModelConfig, checkpointTensors: TensorInfo[], dir: string): TensorInfo[] {
  // OPT, GPT-NeoX, GPT-2: found under their own names, checked, and renamed (layernorm-family.ts).
  if (config.layerNorm) return layerNormTensors(config, checkpointTensors, dir)
  if (config.gemma4) return gemma4Tensors(config, checkpointTensors, dir)
  // A multimodal checkpoint keeps its language model under a prefix (gemma3-config.ts; a text checkpoint has none).
  const named = xieluScalarsAsVectors(checkpointTensors.map((t) => ({...t, name: languageModelTensorName(t.name)})))
  const split = llama4Tensors(config, splitGptOssExperts(config, splitGraniteMoeExperts(config, splitFusedProjections(config, engineTensorNames(config, mamba2EngineTensors(config, zambaEngineTensors(config, zamba2EngineTensors(config, kimiLinearEngineTensors(config, dbrxTensors(config, named))))))))))
  const tensors = config.moe?.mixtralNames || config.moe?.grouped ? split.map((t) => ({...t, name: moeEngineName(config.moe, t.name)})) : split
  // A corrupt or hostile layer count must not make us list billions of expected tensors before the first one is missing.
  const perLayer = 9 + (config.attentionBias ? 3 : 0) + (config.qkNorm ? 2 : 0) + (config.sandwichNorms ? 2 : 0) - (config.rmsVariant?.parallelBlock ? 1 : 0) - (config.rmsVariant?.normAffine === false ? (config.qkNorm ? 4 : 2) : 0) - (config.rmsVariant?.ungatedMlp ? 1 : 0) - (config.hybrid?.shortConv ? 3 : 0) // LFM2's conv layers: 3 mixer tensors, no q/k norms
  if (config.numLayers * perLayer > tensors.length) {
    throw new ModelLoadError(`The config says ${config.numLayers} layers of ${perLayer} tensors each, but the checkpoint in ${dir} holds only ${tensors.length} tensors.`)
  }
  const perExpert = config.moe?.fusedExperts || config.moe?.ungatedExperts ? 2 : 3 // Llama 4's and Qwen3-VL-MoE's gate and up stay fused; Nemotron-H's experts have no gate
  const expertTensors = config.moe ? config.moe.sparseLayers.filter(Boolean).length * perExpert * config.moe.numExperts : 0
  if (expertTensors > tensors.length) {
    throw new ModelLoadError(`The config says ${config.moe!.numExperts} experts of ${perExpert} tensors in each of ${expertTensors / perExpert / config.moe!.numExperts} sparse layers, but the checkpoint in ${dir} holds only ${tensors.length} tensors.`)
  }
  refuseUnreadSharedExpert(config, tensors, dir)
  const byName = new Map(tensors.map((t) => [t.name, t]))
  const selected = interleavedRopeRows(config, deepseekTensors(rmsVariantTensors(config, expectedTensorShapes(config).map(({name, shape}) => {
    const tensor = byName.get(name)
    const renamed = checkpointTensorNames(config, [{name}])[0]!.name
    const shown = zambaCheckpointName(config, zamba2CheckpointName(config, kimiLinearCheckpointName(config, config.moe?.mixtralNames || config.moe?.grouped ? moeCheckpointName(config.moe, mamba2CheckpointName(config, renamed)) : mamba2CheckpointName(config, dbrxCheckpointName(config, renamed)))))
    if (tensor === undefined) {
      const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : ''
      throw new ModelLoadError(`Tensor ${shown} is missing from the checkpoint in ${dir}${hint}; expected shape [${shape.join(', ')}].`)
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(`Tensor ${shown} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (in ${tensor.path}).`)
    }
    return tensor
  }))))
  return config.hybrid ? splitHybridProjections(config, config.hybrid, selected) : selected
}

/**
 * A shared expert in a sparse layer's checkpoint that the config gives no width (a count or size of 0) would be dropped
 * with the other extras, leaving a model that runs without part of every MoE layer; transformers refuses it (a 0-wide
 * MLP against the stored rows) or warns that the weights went unused.
 */
function refuseUnreadSharedExpert(config: ModelConfig, tensors: TensorInfo[], dir: string): void {
  if (!config.moe || config.moe.sharedExpertIntermediateSize > 0) return
  const unread = tensors.find((t) => {
    // DeepSeek's and Qwen2-MoE's mlp.shared_expert(s), GraniteMoeShared's shared_mlp.
    const layer = /^model\.layers\.(\d+)\.(?:mlp\.shared_experts?|shared_mlp)\./.exec(t.name)?.[1]
    return layer !== undefined && config.moe!.sparseLayers[Number(layer)] === true
  })
  if (unread) {
    throw new ModelLoadError(`Tensor ${unread.name} is in the checkpoint in ${dir}, but config.json gives the MoE layers no shared expert (its n_shared_experts / num_shared_experts / shared_expert_intermediate_size / shared_intermediate_size is 0).`)
  }
}

/**
 * A Hugging Face model directory, or a llama/qwen2/qwen3-architecture .gguf file (gguf-model.ts); options.chatTemplate
 * replaces the model's chat template (vLLM's --chat-template).
 */
export async function loadModel(dir: string, options: {chatTemplate?: string} = {}): Promise<LoadedModel> {
  if (isGgufFile(dir)) return loadGgufModel(dir, options)
  const modelDir = resolve(dir)
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) throw new ModelLoadError(`Model directory ${modelDir} does not exist.`)
  const gguf = readdirSync(modelDir).find(isGgufPath)
  if (gguf !== undefined && !existsSync(join(modelDir, 'config.json'))) {
    throw new ModelLoadError(`No config.json in model directory ${modelDir}, which holds ${gguf}: a GGUF file is loaded by its path (pass ${join(modelDir, gguf)} as the model).`)
  }
  const checkpointTensors = readCheckpointTensors(modelDir)
  const config = withExpertLayout(mptMlpWidthFromTensors(readModelConfig(modelDir), checkpointTensors), checkpointTensors)
  const tensors = refuseCutFp8Weights(selectModelTensors(config, pairFp8Scales(config.fp8, checkpointTensors), modelDir))
  const tokenizer = Tokenizer.load(modelDir, {extraEosTokenIds: config.eosTokenIds, chatTemplate: options.chatTemplate})
  checkTokenizerFits(tokenizer, config, 'tokenizer.json')
  return {dir: modelDir, name: basename(modelDir), config, tensors, tokenizer, generationConfig: readGenerationDefaults(modelDir, tokenizer, config)}
}

/**
 * A tokenizer may know more ids than the model has rows for only through added tokens (a <pad> appended by a fine-tune,
 * as vLLM allows): prompts holding them are refused per request. Ordinary vocabulary beyond the model is refused here,
 * as ordinary text would encode to ids the model does not have.
 */
export function checkTokenizerFits(tokenizer: Tokenizer, config: ModelConfig, source: string): void {
  if (tokenizer.vocabSize <= config.vocabSize) return
  const beyond = Array.from({length: tokenizer.vocabSize - config.vocabSize}, (_, i) => config.vocabSize + i).filter((id) => tokenizer.idToToken(id) !== undefined)
  const vocabulary = beyond.filter((id) => !tokenizer.addedTokenIds.has(id))
  if (vocabulary.length > 0) {
    throw new ModelLoadError(`${source} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocabSize} (token ${vocabulary[0]} is ordinary vocabulary, not an added token).`)
  }
  const shown = beyond.slice(0, 3).map((id) => tokenizer.idToToken(id)).join(', ')
  ;(config.notes ??= []).push(`${source} adds ${beyond.length} token(s) beyond the model's vocab_size ${config.vocabSize} (${shown}${beyond.length > 3 ? ', ...' : ''}); prompts holding them are refused.`)
}

/**
 * EOS ids and the recommended sampling. Each sampling value is checked here, so that no request fails for a value the
 * model, not the client, chose: one no request could send is left out, with a start-up note.
 */
function readGenerationDefaults(dir: string, tokenizer: Tokenizer, config: ModelConfig): GenerationDefaults {
  const path = join(dir, 'generation_config.json')
  const raw = existsSync(path) ? readJsonObject(path) : {}
  const sampling: ModelSamplingDefaults = {}
  for (const [key, field] of Object.entries(GENERATION_CONFIG_SAMPLING_KEYS)) {
    const value = raw[key]
    if (value === undefined || value === null) continue
    try {
      if (typeof value !== 'number') throw new InvalidRequestError('not a number')
      makeSamplingParams({[field]: value, maxTokens: field === 'maxTokens' ? value : 1})
      sampling[field] = value
    } catch (error) {
      if (!(error instanceof InvalidRequestError)) throw error
      ;(config.notes ??= []).push(`generation_config.json: ${key} ${JSON.stringify(value)} is not used as a sampling default (${error.message.replace('max_tokens', 'max_new_tokens')})`)
    }
  }
  return {eosTokenIds: tokenizer.eosTokenIds, sampling}
}

/**
 * Why quantizing `model` to `format` at load would do nothing, or null: a GGUF file's block-quantized tensors run as
 * stored (never re-quantized), so a format the file does not hold would be silently ignored.
 */
export function quantizationIgnored(model: LoadedModel, format: string | undefined): string | null {
  const stored = [...new Set(model.tensors.flatMap((t) => (t.blockFormat ? [t.blockFormat] : [])))]
  if (format === undefined || stored.length === 0 || stored.includes(format as (typeof stored)[number])) return null
  return `${model.dir} is already quantized (${stored.join(', ')}) and runs as stored: quantizing at load applies to float weights only`
}
