// Builds the engine for a command from its flags, and prints what was loaded and reserved (as llama.cpp's server does).
import type {LLMEngine} from '../engine/llm-engine.js'
import {BUILTIN_MODEL_NOTICE} from '../engine/model/builtin-model.js'
import {resolveEngineConfig} from './engine-flags.js'

export function describeEngine(engine: LLMEngine): string {
  const info = engine.nativeInfo
  const kv = engine.stats().kv
  const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(1)
  return [
    `model: ${engine.modelName} (${engine.model.config.architecture}, ${engine.model.config.numLayers} layers, vocab ${engine.model.config.vocabSize}, context ${engine.maxModelLen})`,
    `backend: ${info.backend} (${info.deviceName}), ${info.threads} threads, weights ${mib(info.weightBytes)} MiB ${engine.native.weightsLabel} (loaded in ${engine.native.loadSeconds.toFixed(1)} s); ${engine.device.message}`,
    `kv cache: ${kv.totalBlocks} blocks x ${kv.blockSize} tokens = ${kv.totalBlocks * kv.blockSize} tokens, ${mib(kv.totalBlocks * info.kvBytesPerBlock)} MiB, policy ${engine.config.policy}, prefix caching ${engine.config.enablePrefixCaching && engine.config.policy === 'paged' && !engine.model.config.hybrid ? 'on' : 'off'}`,
    ...[...(engine.model.config.notes ?? []), ...engine.notes].map((note) => `note: ${note}`),
  ].join('\n')
}

/** Without --model a command runs the built-in demo model and says so in one line (on stderr, even with --json). */
export function announceBuiltinModel(flags: Record<string, any>, log: (line: string) => void): void {
  if (!flags.model) log(BUILTIN_MODEL_NOTICE)
}

/** Resolves --model, builds the engine and reports it on stderr (the command's catch turns user errors into messages). */
export async function startEngine(flags: Record<string, any>, options: {quiet?: boolean} = {}): Promise<LLMEngine> {
  const log = (line: string) => process.stderr.write(`${line}\n`)
  announceBuiltinModel(flags, log)
  // The engine's modules (most of a command's) load only here, so a command line refused before the model loads
  // (a bad flag, a contradiction, an unreadable prompt) exits without them.
  const {LLMEngine} = await import('../engine/llm-engine.js')
  const engine = await LLMEngine.create(await resolveEngineConfig(flags))
  if (!options.quiet) log(describeEngine(engine))
  return engine
}
