// Builds the engine for a command from its flags, and prints what was loaded and reserved (as llama.cpp's server does).
import type {Command} from '@oclif/core'
import {LLMEngine} from '../engine/llm-engine.js'
import {resolveEngineConfig} from './engine-flags.js'

export const NO_MODEL_HELP =
  'No model given. Pass --model with a Hugging Face-format directory (config.json, *.safetensors, tokenizer.json) ' +
  'or a hub id like Qwen/Qwen2.5-0.5B-Instruct. To try pagedllm without a download, make a seeded-random test model:\n' +
  '  pagedllm make-test-model --preset small --out ./test-model\n' +
  '  pagedllm generate --model ./test-model "Hello"'

export function describeEngine(engine: LLMEngine): string {
  const info = engine.nativeInfo
  const kv = engine.stats().kv
  const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(1)
  return [
    `model: ${engine.modelName} (${engine.model.config.architecture}, ${engine.model.config.numLayers} layers, vocab ${engine.model.config.vocabSize}, context ${engine.maxModelLen})`,
    `backend: ${info.backend} (${info.deviceName}), ${info.threads} threads, weights ${mib(info.weightBytes)} MiB ${engine.native.weightsLabel} (loaded in ${engine.native.loadSeconds.toFixed(1)} s); ${engine.device.message}`,
    `kv cache: ${kv.totalBlocks} blocks x ${kv.blockSize} tokens = ${kv.totalBlocks * kv.blockSize} tokens, ${mib(kv.totalBlocks * info.kvBytesPerBlock)} MiB, policy ${engine.config.policy}, prefix caching ${engine.config.enablePrefixCaching && engine.config.policy === 'paged' ? 'on' : 'off'}`,
    ...(engine.model.config.notes ?? []).map((note) => `note: ${note}`),
  ].join('\n')
}

/** Resolves --model, builds the engine and reports it on stderr (the command's catch turns user errors into messages). */
export async function startEngine(command: Command, flags: Record<string, any>, options: {quiet?: boolean} = {}): Promise<LLMEngine> {
  if (!flags.model) command.error(NO_MODEL_HELP, {exit: 2})
  const engine = await LLMEngine.create(await resolveEngineConfig(flags))
  if (!options.quiet) process.stderr.write(describeEngine(engine) + '\n')
  return engine
}
